//! Replays the `hub_input` fuzz corpus, so every input the fuzzer kept stays handled.

#[test]
fn hub_input_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/hub_input");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus folder exists") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        weighhouse_hub::api::parsers::exercise(&data);
        n += 1;
    }
    assert!(n >= 8, "corpus has only {n} inputs");
}
