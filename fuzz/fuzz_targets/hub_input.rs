#![no_main]
//! Fuzz the hub's parsers of client input: NDJSON commit lines, `Range` headers, model-card
//! front matter and `.gitattributes` (the first byte picks one). Each must return a value or an
//! error, never panic, and what it accepts must be consistent.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weighhouse_hub::api::parsers::exercise(data));
