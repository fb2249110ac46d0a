//! A restricted pickle machine that only builds tensors and plain containers.
