#![no_main]
//! Fuzz model cards (front matter, headings, the lint rules), gate forms and answers, licence
//! text detection and derived-model licensing: a result or an error, never a panic, and the
//! declared licence is judged the same way as the allowed set.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weighhouse_card::fuzz::exercise(data));
