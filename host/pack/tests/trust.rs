//! Keys, signing and the verification gate: every refusal (unsigned,
//! tampered anywhere, untrusted key, incompatible WIT or Stance version)
//! and the explicit allowance of unsigned packs.

mod common;

use common::*;
use stance_pack::{
    Digest, DigestIndex, PackError, PublicKey, Trust, VerifyOptions, build, generate_key,
    load_private_key, load_public_key, load_public_keys_dir, sign, verify,
};

struct Fixture {
    _dir: tempfile::TempDir,
    _keys: tempfile::TempDir,
    unsigned: Vec<u8>,
    signed: Vec<u8>,
    public: PublicKey,
}

fn fixture(extra: &str) -> Fixture {
    let dir = pack_dir("demo", "1.2.0", extra);
    let keys = tempfile::tempdir().unwrap();
    let generated = generate_key(&keys.path().join("team.key")).unwrap();
    let private = load_private_key(&generated.private_path).unwrap();
    let public = load_public_key(&generated.public_path).unwrap();
    let unsigned = build(dir.path()).unwrap();
    let signed = sign(&unsigned, "demo.tar.gz", &private).unwrap();
    Fixture {
        _dir: dir,
        _keys: keys,
        unsigned,
        signed,
        public,
    }
}

fn refusal(archive: &[u8], opts: &VerifyOptions) -> PackError {
    let err = verify(archive, "demo.tar.gz", opts).expect_err("the pack must be refused");
    assert!(err.is_refusal(), "not a refusal: {err}");
    err
}

#[test]
fn generated_keys_are_private_and_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("signing.key");
    let generated = generate_key(&out).unwrap();
    assert_eq!(generated.public_path, dir.path().join("signing.key.pub"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let private_text = std::fs::read_to_string(&out).unwrap();
    assert!(private_text.starts_with("-----BEGIN PRIVATE KEY-----"));
    let public_text = std::fs::read_to_string(&generated.public_path).unwrap();
    assert!(public_text.starts_with("-----BEGIN PUBLIC KEY-----"));
    let private = load_private_key(&out).unwrap();
    let public = load_public_key(&generated.public_path).unwrap();
    assert_eq!(private.id(), public.id());
    assert_eq!(public.id(), &generated.id);
    assert_eq!(public.id().as_str().len(), 16);
    // Never overwrites.
    let err = generate_key(&out).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
    // Two keys differ.
    let other = generate_key(&dir.path().join("other.key")).unwrap();
    assert_ne!(other.id, generated.id);
    // A key directory yields both public keys, in name order.
    let keys = load_public_keys_dir(dir.path()).unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        load_public_keys_dir(&dir.path().join("missing"))
            .unwrap()
            .is_empty()
    );
    // Garbage is refused with the file's name.
    std::fs::write(dir.path().join("bad.pub"), "hello").unwrap();
    let err = load_public_key(&dir.path().join("bad.pub"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.pub") && err.contains("not an Ed25519 public key"),
        "{err}"
    );
}

#[test]
fn a_signed_pack_verifies_with_its_key() {
    let f = fixture("");
    let pack = verify(&f.signed, "demo.tar.gz", &options(vec![f.public.clone()])).unwrap();
    assert_eq!(pack.name(), "demo");
    assert_eq!(pack.version().to_string(), "1.2.0");
    assert!(pack.is_signed());
    assert!(pack.warning().is_none());
    assert_eq!(
        pack.trust(),
        &Trust::Signed {
            key_id: f.public.id().clone(),
            key_source: f.public.source().to_string()
        }
    );
    assert_eq!(pack.plugin_bytes("check").unwrap(), PLUGIN);
    assert_eq!(pack.archive_digest(), Digest::of(&f.signed));
    let policies: Vec<&str> = pack.data_files(false).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        policies,
        [
            "policies/iam/root.yaml",
            "policies/s3/public.yaml",
            "policies/top.yaml"
        ]
    );
    let rules: Vec<&str> = pack.data_files(true).into_iter().map(|(p, _)| p).collect();
    assert_eq!(rules, ["rules/cloudtrail.yml"]);
}

#[test]
fn signing_only_adds_the_signature_entry() {
    let f = fixture("");
    let before = entries(&f.unsigned);
    let after = entries(&f.signed);
    let names: Vec<&str> = after.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(&names[..3], ["stance-pack.toml", "digests", "signature"]);
    let mut without: Vec<_> = after
        .into_iter()
        .filter(|(p, _)| p != "signature")
        .collect();
    without.sort();
    let mut before_sorted = before;
    before_sorted.sort();
    assert_eq!(without, before_sorted);
    // Deterministic: Ed25519 signatures are, so signing twice is identical;
    // and re-signing a signed pack replaces its signature.
    let key_dir = tempfile::tempdir().unwrap();
    let g = generate_key(&key_dir.path().join("k")).unwrap();
    let key = load_private_key(&g.private_path).unwrap();
    let once = sign(&f.unsigned, "x", &key).unwrap();
    assert_eq!(once, sign(&f.unsigned, "x", &key).unwrap());
    assert_eq!(once, sign(&f.signed, "x", &key).unwrap());
}

#[test]
fn unsigned_is_refused_unless_allowed_loudly() {
    let f = fixture("");
    let err = refusal(&f.unsigned, &options(vec![f.public.clone()]));
    assert!(matches!(err, PackError::Unsigned { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("demo@1.2.0") && msg.contains("demo.tar.gz") && msg.contains("not signed"),
        "{msg}"
    );

    let mut opts = options(vec![]);
    opts.allow_unsigned = true;
    let pack = verify(&f.unsigned, "demo.tar.gz", &opts).unwrap();
    assert_eq!(pack.trust(), &Trust::UnsignedAllowed);
    assert!(!pack.is_signed());
    assert!(pack.warning().unwrap().contains("NOT SIGNED"));
}

#[test]
fn untrusted_key_is_refused_even_with_allow_unsigned() {
    let f = fixture("");
    let other = fixture("");
    let mut opts = options(vec![other.public.clone()]);
    for allow in [false, true] {
        opts.allow_unsigned = allow;
        let err = refusal(&f.signed, &opts);
        assert!(matches!(err, PackError::UntrustedKey { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(f.public.id().as_str()) && msg.contains("demo@1.2.0"),
            "{msg}"
        );
    }
    let err = refusal(&f.signed, &options(vec![]));
    assert!(matches!(err, PackError::UntrustedKey { .. }));
}

#[test]
fn one_flipped_byte_in_any_entry_is_refused() {
    let f = fixture("");
    let opts = options(vec![f.public.clone()]);
    let original = entries(&f.signed);
    for (i, (path, data)) in original.iter().enumerate() {
        for pos in [0, data.len() / 2, data.len() - 1] {
            let mut changed = original.clone();
            changed[i].1[pos] ^= 0x01;
            let err = refusal(&repack(&changed), &opts);
            let msg = err.to_string();
            assert!(msg.contains("demo"), "{path}@{pos}: {msg}");
            match path.as_str() {
                "signature" => assert!(
                    matches!(
                        err,
                        PackError::Tampered { .. }
                            | PackError::BadSignature { .. }
                            | PackError::UntrustedKey { .. }
                    ),
                    "{path}@{pos}: {msg}"
                ),
                _ => {
                    assert!(
                        matches!(err, PackError::Tampered { .. }),
                        "{path}@{pos}: {msg}"
                    );
                    assert!(msg.contains(path.as_str()), "{path}@{pos}: {msg}");
                }
            }
        }
    }
}

#[test]
fn one_flipped_byte_anywhere_in_the_archive_is_refused() {
    let f = fixture("");
    let opts = options(vec![f.public.clone()]);
    for pos in 0..f.signed.len() {
        let mut changed = f.signed.clone();
        changed[pos] ^= 0x01;
        assert!(
            verify(&changed, "demo.tar.gz", &opts).is_err(),
            "flipping byte {pos} of {} went unnoticed",
            f.signed.len()
        );
    }
    // Appended bytes, a truncated archive and another compression are refused too.
    let mut appended = f.signed.clone();
    appended.push(0);
    assert!(verify(&appended, "demo.tar.gz", &opts).is_err());
    assert!(verify(&f.signed[..f.signed.len() - 1], "demo.tar.gz", &opts).is_err());
    assert!(matches!(
        verify(b"PK\x03\x04 a zip", "demo.zip", &opts),
        Err(PackError::NotAnArchive { .. })
    ));
}

#[test]
fn a_file_changed_with_recomputed_digests_breaks_the_signature() {
    let f = fixture("");
    let opts = options(vec![f.public.clone()]);
    let mut changed = entries(&f.signed);
    let wasm = changed
        .iter()
        .position(|(p, _)| p == "plugins/check.wasm")
        .unwrap();
    changed[wasm].1 = b"evil".to_vec();
    // The attacker also fixes the manifest's digest and the index.
    let m = changed
        .iter()
        .position(|(p, _)| p == "stance-pack.toml")
        .unwrap();
    let text = String::from_utf8(changed[m].1.clone()).unwrap().replace(
        &Digest::of(PLUGIN).to_string(),
        &Digest::of(b"evil").to_string(),
    );
    changed[m].1 = text.into_bytes();
    let files: std::collections::BTreeMap<String, Vec<u8>> = changed
        .iter()
        .filter(|(p, _)| p != "digests" && p != "signature")
        .cloned()
        .collect();
    let d = changed.iter().position(|(p, _)| p == "digests").unwrap();
    changed[d].1 = DigestIndex::from_files(&files).render().into_bytes();
    let err = refusal(&repack(&changed), &opts);
    assert!(matches!(err, PackError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("changed after it was signed"));
}

#[test]
fn extra_or_missing_entries_are_refused() {
    let f = fixture("");
    let opts = options(vec![f.public.clone()]);
    let original = entries(&f.signed);

    // A file that is not listed in digests (in the data dir or anywhere).
    for extra in ["policies/injected.yaml", "zzz-unlisted.bin"] {
        let mut changed = original.clone();
        changed.push((extra.to_string(), b"id: injected\n".to_vec()));
        let err = refusal(&repack(&changed), &opts);
        assert!(matches!(err, PackError::Tampered { .. }), "{err}");
        assert!(err.to_string().contains(extra), "{err}");
    }
    // A listed file removed.
    let changed: Vec<_> = original
        .iter()
        .filter(|(p, _)| p != "policies/top.yaml")
        .cloned()
        .collect();
    let err = refusal(&repack(&changed), &opts);
    assert!(err.to_string().contains("policies/top.yaml"), "{err}");
    // Entries reordered, or a duplicate path.
    let mut reordered = original.clone();
    reordered.reverse();
    assert!(matches!(
        refusal(&repack(&reordered), &opts),
        PackError::Tampered { .. }
    ));
    let mut dup = original.clone();
    dup.push(original[3].clone());
    assert!(matches!(
        refusal(&repack(&dup), &opts),
        PackError::Tampered { .. }
    ));
}

#[test]
fn incompatible_wit_versions_are_refused() {
    // (required by the pack, provided by the host, accepted?)
    let cases = [
        ("stance:plugin@0.1.0", "stance:plugin@0.1.0", true),
        ("stance:plugin@0.1.0", "stance:plugin@0.1.7", true),
        ("stance:plugin@0.1.2", "stance:plugin@0.1.0", false),
        ("stance:plugin@0.1.0", "stance:plugin@0.2.0", false),
        ("stance:plugin@0.2.0", "stance:plugin@0.1.0", false),
        ("stance:plugin@1.0.0", "stance:plugin@1.4.0", true),
        ("stance:plugin@1.0.0", "stance:plugin@2.0.0", false),
        ("other:plugin@0.1.0", "stance:plugin@0.1.0", false),
    ];
    for (required, provided, ok) in cases {
        let f = fixture("");
        let mut changed = entries(&f.unsigned);
        let m = changed
            .iter()
            .position(|(p, _)| p == "stance-pack.toml")
            .unwrap();
        let dir = pack_dir("demo", "1.2.0", "");
        let text = String::from_utf8(changed[m].1.clone())
            .unwrap()
            .replace("stance:plugin@0.1.0", required);
        std::fs::write(dir.path().join("stance-pack.toml"), text).unwrap();
        changed.clear();
        let archive = build(dir.path()).unwrap();
        let mut opts = options(vec![]);
        opts.allow_unsigned = true;
        opts.host.wit = provided.parse().unwrap();
        let result = verify(&archive, "demo.tar.gz", &opts);
        assert_eq!(
            result.is_ok(),
            ok,
            "{required} on {provided}: {:?}",
            result.err()
        );
        if let Err(err) = result {
            assert!(matches!(err, PackError::IncompatibleWit { .. }));
            let msg = err.to_string();
            assert!(
                msg.contains(required) && msg.contains(provided) && msg.contains("demo@1.2.0"),
                "{msg}"
            );
        }
    }
}

#[test]
fn a_too_old_stance_is_refused() {
    for (min, running, ok) in [
        ("0.1.0", "0.1.0", true),
        ("0.1.0", "0.3.0", true),
        ("0.2.0", "0.1.9", false),
        ("1.0.0", "1.0.0-rc.1", false),
    ] {
        let dir = pack_dir("demo", "1.2.0", "");
        let text = manifest("demo", "1.2.0", "").replace(
            "min-stance-version = \"0.1.0\"",
            &format!("min-stance-version = \"{min}\""),
        );
        std::fs::write(dir.path().join("stance-pack.toml"), text).unwrap();
        let archive = build(dir.path()).unwrap();
        let mut opts = options(vec![]);
        opts.allow_unsigned = true;
        opts.host.stance = running.parse().unwrap();
        let result = verify(&archive, "demo.tar.gz", &opts);
        assert_eq!(result.is_ok(), ok, "{min} on {running}");
        if let Err(err) = result {
            assert!(matches!(err, PackError::IncompatibleStance { .. }));
            assert!(
                err.to_string()
                    .contains(&format!("requires Stance {min} or newer")),
                "{err}"
            );
        }
    }
}

#[test]
fn print_refusal_table() {
    // Not an assertion: prints one message per refusal for the docs/closing note
    // (`cargo test -p stance-pack --test trust print_refusal_table -- --nocapture`).
    let f = fixture("");
    let other = fixture("");
    let opts = options(vec![f.public.clone()]);
    let mut flipped = entries(&f.signed);
    let w = flipped
        .iter()
        .position(|(p, _)| p == "plugins/check.wasm")
        .unwrap();
    flipped[w].1[0] ^= 1;
    let mut extra = entries(&f.signed);
    extra.push(("zzz.bin".into(), b"x".to_vec()));
    let mut wit = options(vec![f.public.clone()]);
    wit.host.wit = "stance:plugin@0.2.0".parse().unwrap();
    let mut old = options(vec![f.public.clone()]);
    old.host.stance = "0.0.9".parse().unwrap();
    let cases: Vec<(&str, Vec<u8>, VerifyOptions)> = vec![
        ("unsigned", f.unsigned.clone(), opts.clone()),
        (
            "untrusted key",
            f.signed.clone(),
            options(vec![other.public.clone()]),
        ),
        ("byte flipped in plugin", repack(&flipped), opts.clone()),
        ("unlisted file added", repack(&extra), opts.clone()),
        ("incompatible WIT", f.signed.clone(), wit),
        ("Stance too old", f.signed.clone(), old),
    ];
    for (case, archive, o) in cases {
        println!(
            "{case}: {}",
            verify(&archive, "demo.tar.gz", &o).unwrap_err()
        );
    }
}
