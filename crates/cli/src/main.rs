//! `wh`: the Weighhouse command-line tool.

fn main() {}
