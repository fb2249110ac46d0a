//! Licensing of derived models (placeholder, filled below).
