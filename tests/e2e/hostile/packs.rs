//! Hostile inputs: packs (see the module doc of `hostile`). An unsigned
//! archive that unpacks to ~1000 MiB, a pack directory whose files are
//! symlinks out of it, a manifest carrying terminal control bytes, a
//! directory shipping its own trusted key, a `stance.lock` naming packs
//! outside the store, and lock writes through planted symlinks.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

#[allow(unused_imports)]
use super::*;

/// A user with their own STANCE_HOME and a project directory, the current
/// directory of every command (never the repository, never the real home).
struct User {
    env: Env,
    home: PathBuf,
    project: PathBuf,
}

impl User {
    fn new() -> User {
        let env = Env::new();
        let home = env.path("home");
        let project = env.path("project");
        for d in [&home, &project] {
            std::fs::create_dir_all(d).expect("create dir");
        }
        User { env, home, project }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.env.path(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.env.cmd();
        c.env("STANCE_HOME", &self.home)
            .current_dir(&self.project)
            .args(args);
        c
    }

    /// Runs under the hostile suite's memory limit and deadline.
    fn run(&self, args: &[&str]) -> Output {
        finish(bounded(self.cmd(args), MEMORY_LIMIT_MIB), HANG_DEADLINE)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stance {args:?} exited {:?}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn installed(&self) -> usize {
        let packs = self.home.join("packs");
        std::fs::read_dir(packs).map_or(0, |d| d.count())
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

const MANIFEST: &str = "[pack]\nname = \"acme\"\nversion = \"1.0.0\"\nwit = \"stance:plugin@0.1.0\"\nmin-stance-version = \"0.1.0\"\n\n[data]\npolicies = [\"policies/*.yaml\"]\n";

const POLICY: &str = "id: acme-one\nname: acme-one\nseverity: medium\nresource_type: aws_s3_bucket\ncheck:\n  expression: asset.name == \"x\"\n  message: \"no\"\n";

/// A pack directory with one policy.
fn pack_dir(u: &User, name: &str) -> PathBuf {
    let dir = u.path(name);
    std::fs::create_dir_all(dir.join("policies")).expect("pack dir");
    std::fs::write(dir.join("stance-pack.toml"), MANIFEST).expect("manifest");
    std::fs::write(dir.join("policies/acme-one.yaml"), POLICY).expect("policy");
    dir
}

/// Generates a key pair with the CLI; returns (private, public).
fn key(u: &User, name: &str) -> (PathBuf, PathBuf) {
    let private = u.path(name);
    u.ok(&["key", "generate", "--out", s(&private)]);
    let public = PathBuf::from(format!("{}.pub", private.display()));
    (private, public)
}

/// Builds `dir` and signs it with `private`; returns the archive.
fn signed_archive(u: &User, dir: &Path, private: &Path) -> PathBuf {
    let archive = u.path("signed.tar.gz");
    u.ok(&["pack", "build", s(dir), "-o", s(&archive)]);
    u.ok(&["pack", "sign", s(&archive), "--key", s(private)]);
    archive
}

/// The tar header Stance writes for a regular file (ustar, mode 0644,
/// owner 0, mtime 0, no user or group name), written out here so the
/// test depends on the format, not on Stance's code.
fn tar_header(path: &str, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
        let digits = format!("{v:0width$o}", width = len - 1);
        h[at..at + len - 1].copy_from_slice(digits.as_bytes());
    };
    h[..path.len()].copy_from_slice(path.as_bytes());
    octal(&mut h, 100, 8, 0o644);
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    octal(&mut h, 124, 12, size);
    octal(&mut h, 136, 12, 0);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    octal(&mut h, 148, 8, sum);
    h[155] = 0;
    h
}

/// Writes a canonical pack archive to `out`, streaming: each entry is
/// (path, size, a reader of its bytes), in the order given. Memory stays
/// small whatever the sizes.
fn write_archive(out: &Path, entries: Vec<(&str, u64, Box<dyn std::io::Read>)>) {
    let file = std::fs::File::create(out).expect("create archive");
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(std::io::BufWriter::new(file), Compression::new(6));
    for (path, size, mut data) in entries {
        gz.write_all(&tar_header(path, size)).expect("header");
        let copied = std::io::copy(&mut data, &mut gz).expect("data");
        assert_eq!(copied, size, "{path}");
        let pad = (512 - size % 512) % 512;
        gz.write_all(&vec![0u8; pad as usize]).expect("padding");
    }
    gz.write_all(&[0u8; 1024]).expect("trailer");
    gz.finish().expect("finish").flush().expect("flush");
}

/// The `digests` entry listing `files` (path, digest), sorted by path.
fn digests(mut files: Vec<(&str, String)>) -> String {
    files.sort();
    files.iter().map(|(p, d)| format!("{d}  {p}\n")).collect()
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn entry(path: &str, bytes: Vec<u8>) -> (&str, u64, Box<dyn std::io::Read>) {
    (
        path,
        bytes.len() as u64,
        Box::new(std::io::Cursor::new(bytes)),
    )
}

/// The archive writer above is canonical: a small unsigned pack written by
/// it verifies with --allow-unsigned (else the cases below would test the
/// canonical-form check, not what they claim to).
#[test]
fn the_test_archive_writer_is_canonical() {
    let u = User::new();
    let archive = u.path("small.tar.gz");
    let index = digests(vec![
        ("stance-pack.toml", hex_sha256(MANIFEST.as_bytes())),
        ("policies/acme-one.yaml", hex_sha256(POLICY.as_bytes())),
    ]);
    write_archive(
        &archive,
        vec![
            entry("stance-pack.toml", MANIFEST.into()),
            entry("digests", index.into_bytes()),
            entry("policies/acme-one.yaml", POLICY.into()),
        ],
    );
    let out = u.ok(&["pack", "verify", s(&archive), "--allow-unsigned"]);
    assert!(out.contains("acme@1.0.0"), "{out}");
}

/// Case 1: an unsigned archive of ~1 MB that unpacks to 1000 MiB is refused
/// as unsigned before its payload is read, under the memory limit.
#[test]
fn an_unsigned_bomb_is_refused_before_its_payload_is_unpacked() {
    let u = User::new();
    let bomb = u.path("bomb.tar.gz");
    let size: u64 = 1000 << 20;
    let mut hasher = Sha256::new();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(size >> 20) {
        hasher.update(&zeros);
    }
    let index = digests(vec![
        ("stance-pack.toml", hex_sha256(MANIFEST.as_bytes())),
        ("policies/big.yaml", hex::encode(hasher.finalize())),
    ]);
    write_archive(
        &bomb,
        vec![
            entry("stance-pack.toml", MANIFEST.into()),
            entry("digests", index.into_bytes()),
            (
                "policies/big.yaml",
                size,
                Box::new(std::io::repeat(0).take(size)),
            ),
        ],
    );
    let on_disk = std::fs::metadata(&bomb).expect("bomb").len();
    assert!(on_disk < 4 << 20, "the bomb is small on disk: {on_disk}");
    for cmd in ["verify", "install"] {
        let out = u.run(&["pack", cmd, s(&bomb)]);
        assert_refused(&out, &["pack acme@1.0.0", "bomb.tar.gz", "not signed"]);
    }
    // Accepted unsigned, it is refused at the header of the entry that
    // would take it past the unpacked limit, before that entry is read.
    let out = u.run(&["pack", "verify", s(&bomb), "--allow-unsigned"]);
    assert_refused(&out, &["bomb.tar.gz", "unpacks to more than"]);
    assert_eq!(u.installed(), 0);
}

/// Case 2: `pack build` refuses a symlink it would pack, naming it, and
/// packs nothing from outside the directory.
#[test]
fn pack_build_refuses_symlinks_and_names_them() {
    let u = User::new();
    let dir = pack_dir(&u, "leaky");
    let secret = u.path("secret.txt");
    std::fs::write(&secret, "id: not-yours\n").expect("secret");
    std::os::unix::fs::symlink(&secret, dir.join("policies/leak.yaml")).expect("symlink");
    let out = u.run(&["pack", "build", s(&dir), "-o", s(&u.path("out.tar.gz"))]);
    assert_refused(&out, &["policies/leak.yaml", "symbolic link"]);
    assert!(!u.path("out.tar.gz").exists(), "nothing written");

    // A plugin path through a symlinked directory is refused the same way.
    let dir = pack_dir(&u, "plugin-link");
    std::os::unix::fs::symlink(u.path(""), dir.join("plugins")).expect("symlink");
    let manifest = format!(
        "{MANIFEST}\n[[plugin]]\nname = \"p\"\npath = \"plugins/secret.txt\"\nworld = \"policy\"\ndigest = \"sha256:{}\"\n",
        hex_sha256(b"id: not-yours\n")
    );
    std::fs::write(dir.join("stance-pack.toml"), manifest).expect("manifest");
    let out = u.run(&["pack", "build", s(&dir), "-o", s(&u.path("out.tar.gz"))]);
    assert_refused(&out, &["plugins", "symbolic link"]);
}

/// Case 2, second half: a manifest inside an archive that does not parse,
/// carrying terminal control sequences: the error shows them escaped.
#[test]
fn manifest_errors_never_echo_control_bytes() {
    let u = User::new();
    let evil = "[pack]\nname = \x1b]0;pwned\x07\x1b[2J\u{9b}31m\n";
    let archive = u.path("evil.tar.gz");
    let index = digests(vec![("stance-pack.toml", hex_sha256(evil.as_bytes()))]);
    write_archive(
        &archive,
        vec![
            entry("stance-pack.toml", evil.into()),
            entry("digests", index.into_bytes()),
        ],
    );
    let out = u.run(&["pack", "verify", s(&archive)]);
    assert_refused(&out, &["evil.tar.gz", "stance-pack.toml", "\\u{1b}"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.chars()
            .any(|c| c == '\x1b' || c == '\x07' || c == '\u{9b}'),
        "raw control bytes reached the terminal: {err:?}"
    );

    // The same from a pack directory being built.
    let dir = u.path("evil-dir");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("stance-pack.toml"), evil).expect("manifest");
    let out = u.run(&["pack", "build", s(&dir), "-o", s(&u.path("o.tar.gz"))]);
    assert_refused(&out, &["stance-pack.toml", "\\u{1b}"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\x1b'));
}

/// Case 16: a directory that ships `.stance/keys/evil.pub` (and a lock
/// naming it) does not make Stance trust that key; only the user's word
/// does, for that project only, and never for the per-user store.
#[test]
fn a_key_shipped_in_the_current_directory_is_not_trusted_by_presence() {
    let u = User::new();
    let (private, public) = key(&u, "evil.key");
    let archive = signed_archive(&u, &pack_dir(&u, "acme"), &private);
    let keys = u.project.join(".stance/keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    std::fs::copy(&public, keys.join("evil.pub")).expect("copy key");
    let id = u.ok(&["pack", "verify", s(&archive), "--key", s(&public)]);
    let key_id = id
        .split("trusted key ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("key id in verify output")
        .to_string();
    std::fs::write(
        u.project.join("stance.lock"),
        format!("version = 1\nkeys = [\"{key_id}\"]\n"),
    )
    .expect("lock");

    for cmd in ["verify", "install"] {
        let out = u.run(&["pack", cmd, s(&archive)]);
        assert_refused(&out, &["not among the trusted keys", "stance key trust"]);
    }
    assert_eq!(u.installed(), 0, "installed into the per-user store");

    // The user trusts it for this project: verify accepts it here...
    u.ok(&["key", "trust", "--project", ".", ".stance/keys/evil.pub"]);
    let ok = u.ok(&["pack", "verify", s(&archive)]);
    assert!(ok.contains("project key"), "{ok}");
    // ...install into the per-user store still needs a user-trusted key...
    let out = u.run(&["pack", "install", s(&archive)]);
    assert_refused(&out, &["not among the trusted keys", "per-user"]);
    assert_eq!(u.installed(), 0);
    // ...and another directory shipping the same key is not trusted.
    let elsewhere = u.path("elsewhere");
    std::fs::create_dir_all(elsewhere.join(".stance")).expect("dir");
    let copy = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to.parent().expect("parent")).expect("dir");
        std::fs::copy(from, to).expect("copy");
    };
    copy(
        &keys.join("evil.pub"),
        &elsewhere.join(".stance/keys/evil.pub"),
    );
    copy(
        &u.project.join("stance.lock"),
        &elsewhere.join("stance.lock"),
    );
    let mut cmd = u.cmd(&["pack", "verify", s(&archive)]);
    cmd.current_dir(&elsewhere);
    let out = finish(cmd, HANG_DEADLINE);
    assert_refused(&out, &["not among the trusted keys"]);
}

/// From reading: `stance.lock` names are joined to the store path, so they
/// are validated like every pack name.
#[test]
fn lock_pack_names_cannot_leave_the_store() {
    let u = User::new();
    std::fs::write(
        u.project.join("stance.lock"),
        format!(
            "version = 1\nrequires = [\"acme\"]\n\n[[pack]]\nname = \"../../outside\"\nversion = \"1.0.0\"\ndigest = \"sha256:{}\"\n",
            "0".repeat(64)
        ),
    )
    .expect("lock");
    let out = u.run(&["pack", "update"]);
    assert_refused(
        &out,
        &["stance.lock", "`../../outside` is not a valid pack name"],
    );
}

/// From reading: the lock is written through a temporary file of its own
/// (never a fixed `stance.lock.tmp` someone may have planted as a symlink),
/// and a symlinked `stance.lock` is refused, its target untouched.
#[test]
fn the_lock_is_never_written_through_a_symlink() {
    let u = User::new();
    let (private, public) = key(&u, "team.key");
    std::fs::create_dir_all(u.home.join("keys")).expect("keys");
    std::fs::copy(&public, u.home.join("keys/team.pub")).expect("trust");
    let archive = signed_archive(&u, &pack_dir(&u, "acme"), &private);
    u.ok(&["pack", "install", s(&archive)]);

    let victim = u.path("victim.txt");
    std::fs::write(&victim, "precious\n").expect("victim");
    std::os::unix::fs::symlink(&victim, u.project.join("stance.lock.tmp")).expect("symlink");
    u.ok(&["pack", "update", "acme@^1"]);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n"
    );
    let lock = u.project.join("stance.lock");
    assert!(
        std::fs::read_to_string(&lock)
            .expect("lock")
            .contains("acme")
    );

    std::fs::remove_file(&lock).expect("remove lock");
    std::os::unix::fs::symlink(&victim, &lock).expect("symlink");
    let out = u.run(&["pack", "update", "acme@^1"]);
    assert_refused(&out, &["stance.lock", "symbolic link"]);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious\n"
    );
}
