//! Replays every committed fuzz corpus input and every input that once crashed a fuzz target
//! through the same reader the target drives: each must give a checkpoint or an error, never a
//! panic, and every tensor of an accepted checkpoint must be readable.

use std::path::{Path, PathBuf};

use weighhouse_formats::{
    Checkpoint, FormatError, Limits, Parsed, gguf, keras, npy, onnx, safetensors, tf, torch,
};

type ParseFn = fn(&[u8], &Limits) -> Result<Parsed, FormatError>;

fn by_magic(data: &[u8], zip: ParseFn, other: ParseFn) -> ParseFn {
    if data.starts_with(b"PK") { zip } else { other }
}

fn reader(target: &str, data: &[u8]) -> Option<ParseFn> {
    Some(match target {
        "safetensors" => safetensors::parse,
        "gguf" => gguf::parse,
        "tf_index" => tf::parse_index,
        "onnx" => onnx::parse,
        "torch" => by_magic(data, torch::parse_zip, torch::parse_legacy),
        "numpy" => by_magic(data, npy::parse_npz, npy::parse_npy),
        "keras" => by_magic(data, keras::parse_keras_zip, keras::parse_h5),
        _ => return None,
    })
}

fn replay(dir: &Path) -> usize {
    let mut n = 0;
    let Ok(targets) = std::fs::read_dir(dir) else {
        return 0;
    };
    for target in targets.flatten() {
        let name = target.file_name().to_string_lossy().into_owned();
        let Ok(inputs) = std::fs::read_dir(target.path()) else {
            continue;
        };
        for input in inputs.flatten() {
            // A fuzzer running beside the tests may remove inputs it has reduced.
            let Ok(data) = std::fs::read(input.path()) else {
                continue;
            };
            match name.as_str() {
                "gguf" => gguf::check_prefix_consistency(&data),
                "safetensors" => safetensors::check_prefix_consistency(&data),
                _ => {}
            }
            let limits = Limits::strict();
            let result = match reader(&name, &data) {
                Some(parse) => Checkpoint::from_bytes_with("input", data, &limits, parse),
                None => Checkpoint::from_bytes("input", data, &limits),
            };
            if let Ok(ck) = result {
                for t in &ck.tensors {
                    let _ = ck.tensor_bytes(t);
                }
            }
            n += 1;
        }
    }
    n
}

#[test]
fn corpora_and_regressions_never_panic() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let n = replay(&fuzz.join("corpus")) + replay(&fuzz.join("regressions"));
    assert!(n > 0, "no fuzz inputs found under {}", fuzz.display());
}
