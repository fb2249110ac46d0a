//! Card lint rules (placeholder, filled below).
