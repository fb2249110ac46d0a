//! Which names the hub accepts: repositories and accounts (the Hub's rule) and branches and tags
//! (the part of git's rule that matters here).

/// HF's naming rule: letters, digits, `-`, `_`, `.`; no `--` or `..`; `-` and `.` neither first
/// nor last; at most 96 characters. We also refuse a `.git` suffix, which the LFS URLs reserve.
pub fn check_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid repository name {name:?}: {why}"));
    if name.is_empty() || name.len() > 96 {
        return bad("it must have 1 to 96 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return bad("only letters, digits, '-', '_' and '.' are allowed");
    }
    if name.contains("--") || name.contains("..") {
        return bad("'--' and '..' are not allowed");
    }
    if name.starts_with(['-', '.']) || name.ends_with(['-', '.']) {
        return bad("it may not start or end with '-' or '.'");
    }
    if name.to_ascii_lowercase().ends_with(".git") {
        return bad("it may not end with '.git'");
    }
    Ok(())
}

/// A git-style ref name check (the subset of `git check-ref-format` that matters here).
pub fn check_ref_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid branch or tag name {name:?}: {why}"));
    if name.is_empty() || name.len() > 255 {
        return bad("it must have 1 to 255 characters");
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return bad("it contains a forbidden character");
    }
    if name.contains("..") || name.contains("//") || name.contains("@{") || name == "@" {
        return bad("it contains '..', '//' or '@{'");
    }
    if name.starts_with(['-', '/', '.']) || name.ends_with(['/', '.']) || name.ends_with(".lock") {
        return bad("it starts or ends with a forbidden character");
    }
    if name.split('/').any(|p| p.starts_with('.')) {
        return bad("a component starts with '.'");
    }
    if name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return bad("it looks like a commit id");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["gpt2", "my-model_v1.0", "A.b", "x"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "a b",
            "-a",
            "a-",
            ".a",
            "a.",
            "a--b",
            "a..b",
            "x.git",
            &"a".repeat(97),
            "é",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for good in ["main", "v1.0", "feature/x", "release-2"] {
            assert!(check_ref_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a..b",
            "a b",
            "-x",
            "x/",
            "x.lock",
            "a//b",
            ".x",
            "a/.b",
            "a:b",
            &"0".repeat(40),
        ] {
            assert!(check_ref_name(bad).is_err(), "{bad}");
        }
    }
}
