//! The `scan_*` fuzz targets' entry points (feature `fuzzing`), also used by the corpus replay
//! test: one parser of the scanner on arbitrary bytes, which must give a report, never a panic.

use crate::policy::Profile;
use crate::report::Report;
use crate::{Limits, Options, gguf, keras, onnx, pickle, safetensors, savedmodel, scan_bytes};

/// A parser of the scanner, for fuzzing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    /// The whole-file scan: detection, archives, wrappers, NumPy, joblib, nested payloads.
    Detect,
    /// The pickle machine alone.
    Pickle,
    /// The Keras configuration walker (JSON text).
    KerasConfig,
    /// The HDF5 (Keras H5) reader.
    Hdf5,
    /// The GGUF reader and chat-template check.
    Gguf,
    /// The ONNX walker.
    Onnx,
    /// The SavedModel / GraphDef walker.
    SavedModel,
    /// The safetensors header checks.
    Safetensors,
}

/// Bounds for fuzzing: one million opcodes and values per pickle, four layers of nesting.
fn fuzz_options() -> Options {
    Options {
        limits: Limits {
            max_pickle_bytes: 1_000_000,
            max_pickle_items: 1_000_000,
            max_depth: 4,
            ..Limits::default()
        },
        ..Options::default()
    }
}

/// Run one parser on fuzz input. Any input must give a report, never a panic. Used by the
/// `scan_*` fuzz targets and their corpus replay test.
pub fn fuzz_one(parser: Parser, data: &[u8]) {
    let mut r = Report::default();
    let opts = fuzz_options();
    match parser {
        Parser::Detect => {
            let _ = scan_bytes("fuzz", data, &opts);
        }
        Parser::Pickle => {
            let mut nested = |_: &[u8], _: &str, _: &mut Report| {};
            let _ = pickle::run(
                data,
                0,
                "fuzz",
                Profile::Compat,
                pickle::Budget::from_limits(&opts.limits),
                true,
                0,
                &mut r,
                &mut nested,
            );
        }
        Parser::KerasConfig => keras::scan_config(&String::from_utf8_lossy(data), "fuzz", &mut r),
        Parser::Hdf5 => keras::scan(data, "fuzz", &mut r),
        Parser::Gguf => gguf::scan(data, "fuzz", &mut r),
        Parser::Onnx => onnx::scan(data, "fuzz", &mut r),
        Parser::SavedModel => savedmodel::scan(data, "fuzz", &mut r),
        Parser::Safetensors => safetensors::scan(data, "fuzz", &mut r),
    }
}

/// [`fuzz_one`] with the parser picked by the first byte (the `scan_input` target).
pub fn exercise(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let parser = match which % 8 {
        0 => Parser::Detect,
        1 => Parser::Pickle,
        2 => Parser::KerasConfig,
        3 => Parser::Gguf,
        4 => Parser::Onnx,
        5 => Parser::SavedModel,
        6 => Parser::Safetensors,
        _ => Parser::Hdf5,
    };
    fuzz_one(parser, rest);
}
