//! What every end-to-end test of the `wh` binary needs: running it in a clean environment (no
//! hub endpoint or token from the developer's shell), its output, and the repository's fixtures.

#![expect(dead_code, reason = "each test binary uses a different subset")]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// Run `wh` with `args`, without the endpoint and token variables of the caller's environment.
pub fn wh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wh"))
        .args(args)
        .env_remove("WH_ENDPOINT")
        .env_remove("HF_ENDPOINT")
        .env_remove("WH_TOKEN")
        .env_remove("HF_TOKEN")
        .output()
        .expect("run wh")
}

/// Run `wh`, require exit 0, return stdout.
pub fn ok(args: &[&str]) -> String {
    let out = wh(args);
    assert!(
        out.status.success(),
        "wh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The exit status.
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Standard output parsed as one JSON document.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// `tests/fixtures/<sub>` of the repository.
pub fn fixtures(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(sub)
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
