#![no_main]
//! Fuzz the Keras .keras archive and HDF5 readers: any input must give a checkpoint or an error, never a panic, and every
//! tensor of an accepted checkpoint must be readable. The first bytes pick the reader, so one
//! corpus covers both.

use libfuzzer_sys::fuzz_target;
use weighhouse_formats::{fuzz, keras};

fuzz_target!(|data: &[u8]| {
    let parse = if data.starts_with(b"PK") {
        keras::parse_keras_zip
    } else {
        keras::parse_h5
    };
    fuzz::read_all(data, Some(parse));
});
