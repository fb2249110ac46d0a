//! Replays the scanner's fuzz corpora, so every input the fuzzers kept stays handled.

use weighhouse_scan::{Parser, exercise, fuzz_one};

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn scan_corpora_replay() {
    let inputs = corpus("scan_input");
    assert!(
        inputs.len() >= 50,
        "scan_input corpus has only {} inputs",
        inputs.len()
    );
    for data in &inputs {
        exercise(data);
    }
    for (name, parser) in [
        ("scan_pickle", Parser::Pickle),
        ("scan_keras", Parser::KerasConfig),
        ("scan_hdf5", Parser::Hdf5),
        ("scan_gguf", Parser::Gguf),
        ("scan_onnx", Parser::Onnx),
        ("scan_savedmodel", Parser::SavedModel),
        ("scan_safetensors", Parser::Safetensors),
    ] {
        let inputs = corpus(name);
        assert!(!inputs.is_empty(), "{name} corpus is empty");
        for data in &inputs {
            fuzz_one(parser, data);
        }
    }
}
