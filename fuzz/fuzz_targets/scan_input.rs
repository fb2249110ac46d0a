#![no_main]
//! Fuzz the scanner: the first byte picks the whole-file scan (detection, archives, wrappers,
//! nested payloads) or one parser directly (pickle machine, Keras configuration, GGUF, ONNX,
//! SavedModel, safetensors, HDF5). Any input must give a report, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weighhouse_scan::exercise(data));
