#![no_main]
//! Fuzz one parser of the scanner (`SavedModel`): any input must give a report, never a panic.

use libfuzzer_sys::fuzz_target;
use weighhouse_scan::{Parser, fuzz_one};

fuzz_target!(|data: &[u8]| fuzz_one(Parser::SavedModel, data));
