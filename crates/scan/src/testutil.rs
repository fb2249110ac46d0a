//! Helpers shared by the format modules' unit tests.

/// The bytes of a file of the repository's scanner corpus (`tests/fixtures/reference/scan`), by
/// its path in the corpus. A missing file fails the test: a broken checkout must not look green.
pub(crate) fn corpus_file(rel: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/reference/scan")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("scanner corpus file {}: {e}", p.display()))
}

/// Append a protobuf varint.
pub(crate) fn varint(v: u64, out: &mut Vec<u8>) {
    weighhouse_formats::proto::put_varint(out, v);
}

/// A protobuf varint field.
pub(crate) fn fv(n: u32, v: u64) -> Vec<u8> {
    let mut o = Vec::new();
    varint(u64::from(n) << 3, &mut o);
    varint(v, &mut o);
    o
}

/// A protobuf length-delimited field.
pub(crate) fn fl(n: u32, body: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    varint((u64::from(n) << 3) | 2, &mut o);
    varint(body.len() as u64, &mut o);
    o.extend_from_slice(body);
    o
}
