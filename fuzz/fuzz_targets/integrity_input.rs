#![no_main]
//! Fuzz the integrity crate's parsers of untrusted input: OMS bundles (verified against a fixed
//! key), PEM private and public keys, and PEM certificates. The first byte picks one. Any input
//! must give a value or an error, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weighhouse_integrity::exercise(data));
