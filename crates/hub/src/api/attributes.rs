//! Which files go to Git LFS (`.gitattributes` rules, the size and binary tests) and which are
//! ignored on upload (`.gitignore` patterns), as the clients' `preupload` expects.

use globset::{GlobBuilder, GlobMatcher};
use weighhouse_store::Sha256;

use super::Ctx;
use crate::repo;

/// Files at least this large go to LFS whatever their name (HF's rule: 10 MB).
pub const LFS_THRESHOLD: u64 = 10_000_000;

/// The LFS patterns of a `.gitattributes` file, in order; the last match decides.
#[derive(Debug, Default)]
pub struct Attributes {
    rules: Vec<(GlobMatcher, bool, bool)>,
}

impl Attributes {
    /// Parse `.gitattributes` text.
    pub fn parse(text: &str) -> Self {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let Some(pattern) = parts.next() else {
                continue;
            };
            let lfs = parts.fold(None, |acc, a| match a {
                "filter=lfs" => Some(true),
                "-filter" | "!filter" => Some(false),
                a if a.starts_with("filter=") => Some(false),
                _ => acc,
            });
            let Some(lfs) = lfs else { continue };
            let anchored = pattern.trim_start_matches('/').contains('/');
            let glob = pattern.trim_start_matches('/');
            if let Ok(g) = GlobBuilder::new(glob).literal_separator(true).build() {
                rules.push((g.compile_matcher(), anchored, lfs));
            }
        }
        Self { rules }
    }

    /// Whether `path` is stored with LFS.
    pub fn is_lfs(&self, path: &str) -> bool {
        let base = path.rsplit('/').next().unwrap_or(path);
        let mut result = false;
        for (m, anchored, lfs) in &self.rules {
            let hit = if *anchored {
                m.is_match(path)
            } else {
                m.is_match(base)
            };
            if hit {
                result = *lfs;
            }
        }
        result
    }
}

/// Whether a file goes to LFS: its name matches `.gitattributes`, it is large, or it is binary.
/// Empty files never do (the clients commit them as regular files).
pub fn wants_lfs(attrs: &Attributes, path: &str, size: u64, sample: &[u8]) -> bool {
    size > 0 && (attrs.is_lfs(path) || size >= LFS_THRESHOLD || sample.contains(&0))
}

pub(crate) async fn attributes_at(ctx: &Ctx, snap: &repo::Snapshot) -> Attributes {
    let Some(f) = snap.file(".gitattributes") else {
        return Attributes::default();
    };
    let Ok(sha) = f.sha256.parse::<Sha256>() else {
        return Attributes::default();
    };
    match ctx.app.store.read_all(&sha, 1 << 20).await {
        Ok(b) => Attributes::parse(&String::from_utf8_lossy(&b)),
        Err(_) => Attributes::default(),
    }
}

pub(crate) fn glob_set(text: &str) -> Vec<GlobMatcher> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let l = l.trim_start_matches('/').trim_end_matches('/');
            GlobBuilder::new(l)
                .literal_separator(l.contains('/'))
                .build()
                .ok()
                .map(|g| g.compile_matcher())
        })
        .collect()
}

pub(crate) fn ignored(globs: &[GlobMatcher], path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    globs.iter().any(|g| {
        g.is_match(path)
            || parts.iter().any(|p| g.is_match(p))
            || (1..parts.len()).any(|i| g.is_match(parts[..i].join("/")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitattributes_rules() {
        let a = Attributes::parse(crate::repo::DEFAULT_GITATTRIBUTES);
        assert!(a.is_lfs("model.safetensors"));
        assert!(a.is_lfs("sub/dir/pytorch_model.bin"));
        assert!(a.is_lfs("saved_model/variables/x.data"));
        assert!(!a.is_lfs("config.json"));
        assert!(!a.is_lfs("README.md"));
        let b = Attributes::parse(
            "*.json filter=lfs diff=lfs\nsmall.json -filter\n/top/*.txt filter=lfs\n",
        );
        assert!(b.is_lfs("a/x.json"));
        assert!(!b.is_lfs("a/small.json"));
        assert!(b.is_lfs("top/a.txt"));
        assert!(!b.is_lfs("other/top/a.txt"));
        assert!(wants_lfs(&Attributes::default(), "x.txt", 10, b"a\0b"));
        assert!(wants_lfs(
            &Attributes::default(),
            "x.txt",
            LFS_THRESHOLD,
            b"abc"
        ));
        assert!(!wants_lfs(&a, "empty.safetensors", 0, b""));
    }

    #[test]
    fn gitignore_rules() {
        let g = glob_set("*.log\nbuild/\n# comment\n/cache/x\n");
        assert!(ignored(&g, "a.log"));
        assert!(ignored(&g, "sub/a.log"));
        assert!(ignored(&g, "build/out.bin"));
        assert!(ignored(&g, "cache/x"));
        assert!(!ignored(&g, "model.bin"));
    }
}
