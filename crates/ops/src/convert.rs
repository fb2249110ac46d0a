//! dtype conversion.
