//! Replays the `scan_input` fuzz corpus, so every input the fuzzer kept stays handled.

#[test]
fn scan_input_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/scan_input");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus folder exists") {
        weighhouse_scan::exercise(&std::fs::read(entry.unwrap().path()).unwrap());
        n += 1;
    }
    assert!(n >= 50, "corpus has only {n} inputs");
}
