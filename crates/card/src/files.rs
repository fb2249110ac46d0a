//! A read-only view of a repository's files: a local folder, or files loaded from a hub commit.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file a check reads whole (cards, configs, licences).
pub const MAX_TEXT: u64 = 4 << 20;

/// One file of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the repository root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// The files of one revision of a repository.
pub trait Files {
    /// Every file, sorted by path.
    fn entries(&self) -> Vec<Entry>;
    /// Up to `limit` bytes from the start of `path`, or `None` when there is no such file or it
    /// cannot be read.
    fn read_prefix(&self, path: &str, limit: u64) -> Option<Vec<u8>>;

    /// Whether `path` exists.
    fn exists(&self, path: &str) -> bool {
        self.entries().iter().any(|e| e.path == path)
    }
    /// A whole text file of at most [`MAX_TEXT`] bytes (lossy UTF-8).
    fn text(&self, path: &str) -> Option<String> {
        let size = self.entries().into_iter().find(|e| e.path == path)?.size;
        if size > MAX_TEXT {
            return None;
        }
        self.read_prefix(path, MAX_TEXT)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

/// A local folder. Hidden folders (`.git`, `.cache`) are skipped, except `.eval_results`.
#[derive(Debug, Clone)]
pub struct Dir {
    root: PathBuf,
    entries: Vec<Entry>,
}

/// Most files listed from a folder.
const MAX_ENTRIES: usize = 200_000;

impl Dir {
    /// List `root` recursively.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let mut entries = Vec::new();
        let mut stack = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for item in std::fs::read_dir(&dir)? {
                let item = item?;
                let name = item.file_name().to_string_lossy().into_owned();
                let ty = item.file_type()?;
                let rel = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                if ty.is_dir() {
                    if name.starts_with('.') && name != ".eval_results" {
                        continue;
                    }
                    stack.push((item.path(), rel));
                } else if ty.is_file() || ty.is_symlink() {
                    let Ok(meta) = std::fs::metadata(item.path()) else {
                        continue;
                    };
                    if meta.is_file() {
                        entries.push(Entry {
                            path: rel,
                            size: meta.len(),
                        });
                    }
                }
                if entries.len() > MAX_ENTRIES {
                    return Err(std::io::Error::other(format!(
                        "{} has more than {MAX_ENTRIES} files",
                        root.display()
                    )));
                }
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self {
            root: root.to_path_buf(),
            entries,
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Files for Dir {
    fn entries(&self) -> Vec<Entry> {
        self.entries.clone()
    }
    fn read_prefix(&self, path: &str, limit: u64) -> Option<Vec<u8>> {
        if path.split('/').any(|c| c == ".." || c.is_empty()) {
            return None;
        }
        let file = std::fs::File::open(self.root.join(path)).ok()?;
        let mut out = Vec::new();
        file.take(limit).read_to_end(&mut out).ok()?;
        Some(out)
    }
}

/// Files held in memory (a hub commit's small files, or tests). A file listed with a size but
/// no content reads as missing.
#[derive(Debug, Clone, Default)]
pub struct MemFiles {
    sizes: BTreeMap<String, u64>,
    contents: BTreeMap<String, Vec<u8>>,
}

impl MemFiles {
    /// No files.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add a file with its content.
    pub fn add(&mut self, path: &str, content: impl Into<Vec<u8>>) -> &mut Self {
        let content = content.into();
        self.sizes.insert(path.to_string(), content.len() as u64);
        self.contents.insert(path.to_string(), content);
        self
    }
    /// Remove a file.
    pub fn remove(&mut self, path: &str) -> &mut Self {
        self.sizes.remove(path);
        self.contents.remove(path);
        self
    }
    /// Add a file known by size only; `prefix` is what was loaded of it (may be empty).
    pub fn add_listed(&mut self, path: &str, size: u64, prefix: Option<Vec<u8>>) -> &mut Self {
        self.sizes.insert(path.to_string(), size);
        if let Some(p) = prefix {
            self.contents.insert(path.to_string(), p);
        }
        self
    }
}

impl Files for MemFiles {
    fn entries(&self) -> Vec<Entry> {
        self.sizes
            .iter()
            .map(|(path, &size)| Entry {
                path: path.clone(),
                size,
            })
            .collect()
    }
    fn read_prefix(&self, path: &str, limit: u64) -> Option<Vec<u8>> {
        let c = self.contents.get(path)?;
        Some(c[..c.len().min(limit as usize)].to_vec())
    }
}

/// Bytes read from the start of a weight file to check that its header parses.
pub const HEADER_PREFIX: u64 = 16 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_lists_and_reads() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub")).unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join("README.md"), "hello").unwrap();
        std::fs::write(d.path().join("sub/x.json"), "{}").unwrap();
        std::fs::write(d.path().join(".git/HEAD"), "ref").unwrap();
        let dir = Dir::open(d.path()).unwrap();
        let paths: Vec<_> = dir.entries().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["README.md", "sub/x.json"]);
        assert_eq!(dir.text("README.md").as_deref(), Some("hello"));
        assert_eq!(dir.read_prefix("README.md", 2).unwrap(), b"he");
        assert!(dir.read_prefix("../etc/passwd", 10).is_none());
        assert!(dir.text("nope").is_none());
    }
}
