//! The `integrity_input` fuzz target's entry point (feature `fuzzing`), also used by the corpus
//! replay test.

use std::path::Path;

/// Run the parsers of untrusted input (bundles, PEM keys and certificates) on fuzz input; the
/// first byte picks one. Used by the `integrity_input` fuzz target and its corpus replay test
/// (feature `fuzzing`).
pub fn exercise(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 4 {
        0 => {
            let key = crate::keys::SigningKey::from_pem(FUZZ_KEY, None)
                .expect("the fuzz key parses")
                .verifying_key();
            let model = Path::new("/nonexistent/weighhouse-fuzz-model");
            let _ = crate::oms::verify(
                model,
                &text,
                &model.join("model.sig"),
                &crate::oms::Trust::Key(key),
                &crate::oms::VerifyOptions::default(),
                1,
                &|_| {},
            );
        }
        1 => {
            let _ = crate::keys::SigningKey::from_pem(&text, Some("password"));
        }
        2 => {
            let _ = crate::keys::VerifyingKey::from_pem(&text);
        }
        _ => {
            let _ = crate::oms::certificates_from_pem(&text);
        }
    }
}

/// A fixed P-256 key for fuzzing (not secret).
const FUZZ_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgERERERERERERERER\nERERERERERERERERERERERERERGhRANCAAQCF+YX8LZEOSgnj5aZnmmiOk8sFSvf\nbWzfZuW4AoLU7RlKfevLl3EtLdo8qFqodlpW9F/HWFmWUvKJfGUwbleU\n-----END PRIVATE KEY-----\n";
