//! torch's legacy (pre-1.6) checkpoints are read as its loader reads them: five pickles (the
//! magic number, the protocol, system info, the object, the storage keys), then the raw storages,
//! skipped by their sizes; only what follows the last storage is scanned as more data.

use std::path::PathBuf;

use weighhouse_scan::{Options, Severity, Verdict, scan_bytes};

fn fixture() -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/reference/formats/legacy_mixed.pt");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn a_legacy_checkpoint_is_walked_to_its_last_storage() {
    let r = scan_bytes("legacy_mixed.pt", &fixture(), &Options::default());
    assert_eq!(r.verdict, Verdict::Safe, "{r:?}");
    assert!(
        r.findings.is_empty(),
        "the storages are data, not trailing bytes: {:?}",
        r.findings
    );
}

#[test]
fn a_pickle_after_the_storages_is_found() {
    let mut data = fixture();
    let end = data.len();
    // protocol 2: GLOBAL posix.system, the argument "id", TUPLE1, REDUCE, STOP.
    data.extend_from_slice(
        b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.",
    );
    let r = scan_bytes("appended.pt", &data, &Options::default());
    assert_eq!(r.verdict, Verdict::Unsafe, "{r:?}");
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "pickle.trailing_data" && f.location.ends_with(&format!("@{end}"))),
        "{:?}",
        r.findings
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.severity == Severity::Critical && f.message.contains("system")),
        "{:?}",
        r.findings
    );
}
