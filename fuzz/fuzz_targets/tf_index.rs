#![no_main]
//! Fuzz the tf_index reader: any input must give a checkpoint or an error, never a panic, and every
//! tensor of an accepted checkpoint must be readable.

use libfuzzer_sys::fuzz_target;
use weighhouse_formats::{fuzz, tf};

fuzz_target!(|data: &[u8]| {
    fuzz::read_all(data, Some(tf::parse_index));
});
