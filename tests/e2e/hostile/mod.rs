//! The hostile-input suite: every case that once broke the host (issue 12's
//! sixteen defects and the four found by reading), kept as regression tests.
//!
//! Each test asserts the clear error and that the process stayed bounded.
//! Memory is bounded by a limit on the child process (`run_bounded`: the
//! kernel refuses allocations past it, so an unbounded reader dies instead
//! of passing), never by timing. Time is bounded only where the defect was a
//! hang, and then by a generous deadline after which the child is killed and
//! the test fails: the assertion is "it ended", not "it was fast".

mod host;
mod inputs;
mod network;
mod packs;
mod parsers;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::Env;

/// The data-segment limit (`RLIMIT_DATA`: private writable memory, which
/// holds every heap allocation and every grown wasm memory) for hostile runs.
/// Ample for any legitimate command here, a fraction of what each bomb claims.
pub const MEMORY_LIMIT_MIB: u64 = 1024;

/// A deadline for cases whose defect was a hang; far above any honest run.
pub const HANG_DEADLINE: Duration = Duration::from_secs(120);

/// Run `stance ARGS` in `env` with its private memory capped at `mib` MiB.
/// A reader that tries to hold a bomb in memory is refused by the kernel and
/// aborts; the caller then sees a signal or an allocation failure on stderr.
pub fn run_bounded(env: &Env, args: &[&str], mib: u64) -> Output {
    let mut cmd = bounded(env.cmd(), mib);
    cmd.args(args);
    finish(cmd, HANG_DEADLINE)
}

/// `cmd` under `prlimit --data`: the limit applies from the first instruction.
fn bounded(cmd: Command, mib: u64) -> Command {
    let mut wrapped = Command::new("prlimit");
    wrapped
        .arg(format!("--data={}", mib * 1024 * 1024))
        .arg("--")
        .arg(cmd.get_program());
    wrapped.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// Run to completion, killing the child (and failing the test) past `deadline`.
pub fn finish(mut cmd: Command, deadline: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stance");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for stance") {
            break status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stance ran past {deadline:?}: the bound this case guards is gone");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Assert a clean refusal: exit code 2 (an error, not a crash or a signal),
/// with every fragment in `expect` on stderr.
pub fn assert_refused(out: &Output, expect: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected a clean error (exit 2), got {:?}\nstderr: {stderr}",
        out.status
    );
    for fragment in expect {
        assert!(
            stderr.contains(fragment),
            "stderr lacks {fragment:?}:\n{stderr}"
        );
    }
}

#[test]
fn the_memory_limit_lets_an_honest_scan_through() {
    let env = Env::new();
    let demo = crate::support::demo();
    let out = run_bounded(
        &env,
        &[
            "scan",
            "--snapshot",
            demo.to_str().unwrap(),
            "--format",
            "json",
        ],
        MEMORY_LIMIT_MIB,
    );
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "a demo scan under {MEMORY_LIMIT_MIB} MiB failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
