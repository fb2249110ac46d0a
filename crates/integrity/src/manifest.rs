//! The OMS `files` manifest: which files of a model are covered, their SHA-256, and the root.
//!
//! Enumeration and ordering follow `model_signing` 1.1.1 exactly, since the root digest depends
//! on both: every regular file under the model, named by its `/`-separated model-relative path;
//! ignored paths match by whole components (`.git` does not ignore `.github`); the git paths
//! `.git`, `.gitattributes`, `.github` and `.gitignore` directly under the model are ignored by
//! default; symlinks are an error unless allowed (then a link to a file is hashed as the file it
//! points to, under the link's name, and a link to a folder is skipped); entries are sorted by
//! their list of components, so `a/z` < `a-b` < `a.b/c`; a model that is a single file has one
//! resource named `.`. The root digest is the SHA-256 of the concatenated raw digests in that
//! order.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Error;

/// The git paths `model_signing` ignores by default, at the model root only.
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// What to cover.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Model-relative paths to leave out (files or folders).
    pub ignore: Vec<String>,
    /// Leave out [`GIT_PATHS`].
    pub ignore_git: bool,
    /// Follow symlinks to files instead of refusing them.
    pub allow_symlinks: bool,
}

/// A file to hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Resource name: model-relative, `/`-separated (`.` for a single-file model).
    pub name: String,
    /// Where it is on disk.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
}

/// One resource of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Resource name.
    pub name: String,
    /// SHA-256 of the file.
    pub digest: [u8; 32],
    /// Size in bytes.
    pub size: u64,
}

/// A model's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Resources in OMS order.
    pub resources: Vec<Resource>,
}

impl Manifest {
    /// The root digest: SHA-256 over the raw resource digests, in order.
    pub fn root(&self) -> [u8; 32] {
        root_of(self.resources.iter().map(|r| &r.digest))
    }

    /// Total bytes hashed.
    pub fn total_size(&self) -> u64 {
        self.resources.iter().map(|r| r.size).sum()
    }
}

/// SHA-256 over raw digests in the given order.
pub fn root_of<'a>(digests: impl Iterator<Item = &'a [u8; 32]>) -> [u8; 32] {
    let mut h = Sha256::new();
    for d in digests {
        h.update(d);
    }
    h.finalize().into()
}

/// The OMS ordering: by the list of path components.
pub fn oms_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Model-relative ignore list with the git paths added when asked.
pub fn ignore_list(opts: &Options) -> Vec<String> {
    let mut list: Vec<String> = opts
        .ignore
        .iter()
        .map(|p| normalize(p))
        .filter(|p| !p.is_empty())
        .collect();
    if opts.ignore_git {
        list.extend(GIT_PATHS.iter().map(|p| p.to_string()));
    }
    list.sort();
    list.dedup();
    list
}

/// `./a//b/` → `a/b`.
fn normalize(p: &str) -> String {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether `name` is `ignored` or inside it (whole components).
fn is_ignored(name: &str, ignored: &[String]) -> bool {
    ignored.iter().any(|i| {
        name == i
            || (name.len() > i.len()
                && name.starts_with(i.as_str())
                && name.as_bytes()[i.len()] == b'/')
    })
}

/// Make `path` model-relative, if it lies inside `model` (both are compared as given and as
/// canonical paths). Used for `--signature` and `--ignore-path` values.
pub fn relative_to_model(model: &Path, path: &Path) -> Option<String> {
    let try_strip = |base: &Path, p: &Path| -> Option<String> {
        let rel = p.strip_prefix(base).ok()?;
        let parts: Option<Vec<&str>> = rel
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect();
        Some(parts?.join("/"))
    };
    if let Some(r) = try_strip(model, path) {
        return Some(r);
    }
    let model_c = model.canonicalize().ok()?;
    // The path may not exist yet (a signature about to be written): canonicalise its folder.
    let path_c = match path.canonicalize() {
        Ok(p) => p,
        Err(_) => path.parent()?.canonicalize().ok()?.join(path.file_name()?),
    };
    try_strip(&model_c, &path_c)
}

/// List the files of `model` to cover, in OMS order.
pub fn enumerate(model: &Path, opts: &Options) -> Result<Vec<Entry>, Error> {
    let meta = std::fs::symlink_metadata(model).map_err(|e| Error::io(model, e))?;
    if meta.file_type().is_symlink() && !opts.allow_symlinks {
        return Err(Error::Symlink(model.to_path_buf()));
    }
    let meta = std::fs::metadata(model).map_err(|e| Error::io(model, e))?;
    if meta.is_file() {
        return Ok(vec![Entry {
            name: ".".into(),
            path: model.to_path_buf(),
            size: meta.len(),
        }]);
    }
    if !meta.is_dir() {
        return Err(Error::Special(model.to_path_buf()));
    }
    let ignored = ignore_list(opts);
    let mut out = Vec::new();
    walk(model, "", &ignored, opts.allow_symlinks, &mut out)?;
    out.sort_by(|a, b| oms_order(&a.name, &b.name));
    Ok(out)
}

fn walk(
    dir: &Path,
    prefix: &str,
    ignored: &[String],
    allow_symlinks: bool,
    out: &mut Vec<Entry>,
) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            return Err(Error::NotUtf8(path));
        };
        let name = if prefix.is_empty() {
            file_name.to_string()
        } else {
            format!("{prefix}/{file_name}")
        };
        if is_ignored(&name, ignored) {
            continue;
        }
        let ft = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if ft.is_symlink() {
            if !allow_symlinks {
                return Err(Error::Symlink(path));
            }
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => out.push(Entry {
                    name,
                    path,
                    size: m.len(),
                }),
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(Error::Special(path)),
                Err(e) => return Err(Error::io(&path, e)),
            }
        } else if ft.is_dir() {
            walk(&path, &name, ignored, allow_symlinks, out)?;
        } else if ft.is_file() {
            let size = entry.metadata().map_err(|e| Error::io(&path, e))?.len();
            out.push(Entry { name, path, size });
        } else {
            return Err(Error::Special(path));
        }
    }
    Ok(())
}

/// Read size for hashing: large reads keep the per-call overhead negligible.
const READ: usize = 4 << 20;

/// Files at least this large are read on a second thread while the first hashes.
const PIPELINE_MIN: u64 = 64 << 20;

/// SHA-256 of one file, reporting bytes as they are hashed.
pub fn hash_file(path: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<([u8; 32], u64), Error> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if size >= PIPELINE_MIN {
        if let Some(map) = crate::mapped::map(&file, size) {
            return Ok(hash_mapped(&map, progress));
        }
        return hash_pipelined(path, file, progress);
    }
    let mut buf = vec![0u8; READ];
    let mut h = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = read_some(&mut file, &mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
        progress(n as u64);
    }
    Ok((h.finalize().into(), total))
}

fn read_some(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Hash a mapped file: no copy out of the page cache at all.
fn hash_mapped(map: &[u8], progress: &(dyn Fn(u64) + Sync)) -> ([u8; 32], u64) {
    let mut h = Sha256::new();
    for chunk in map.chunks(READ) {
        h.update(chunk);
        progress(chunk.len() as u64);
    }
    (h.finalize().into(), map.len() as u64)
}

/// Read on one thread, hash on this one: the copy out of the page cache overlaps the hashing.
fn hash_pipelined(
    path: &Path,
    mut file: File,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<([u8; 32], u64), Error> {
    const BUFFERS: usize = 3;
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    for _ in 0..BUFFERS {
        free_tx.send(vec![0u8; READ]).expect("receiver alive");
    }
    std::thread::scope(|s| {
        let reader = s.spawn(move || -> std::io::Result<()> {
            while let Ok(mut buf) = free_rx.recv() {
                let n = read_some(&mut file, &mut buf)?;
                if n == 0 || full_tx.send((buf, n)).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut h = Sha256::new();
        let mut total = 0u64;
        for (buf, n) in full_rx {
            h.update(&buf[..n]);
            total += n as u64;
            progress(n as u64);
            // The reader may have stopped (end of file or an error); then the buffer is dropped.
            let _ = free_tx.send(buf);
        }
        reader
            .join()
            .expect("reader thread")
            .map_err(|e| Error::io(path, e))?;
        Ok((h.finalize().into(), total))
    })
}

/// Hash every entry, in parallel across files (largest first, so one big file does not finish
/// last on its own), with at most `threads` threads. Returns the manifest in the entries' order.
pub fn hash_entries(
    entries: &[Entry],
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Manifest, Error> {
    let hashed = crate::par::map_heaviest_first(
        entries,
        |e| e.size,
        threads,
        |e| hash_file(&e.path, progress),
    )?;
    let resources = entries
        .iter()
        .zip(hashed)
        .map(|(e, (digest, size))| Resource {
            name: e.name.clone(),
            digest,
            size,
        })
        .collect();
    Ok(Manifest { resources })
}

/// Threads to hash with: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_order_differs_from_string_order() {
        let mut names = vec!["a.b/c.txt", "a-b.txt", "a/z.txt", "B.txt"];
        names.sort_by(|a, b| oms_order(a, b));
        assert_eq!(names, ["B.txt", "a/z.txt", "a-b.txt", "a.b/c.txt"]);
    }

    #[test]
    fn ignores_match_whole_components() {
        let ig = vec![".git".to_string(), "sub/x".to_string()];
        assert!(is_ignored(".git", &ig));
        assert!(is_ignored(".git/HEAD", &ig));
        assert!(!is_ignored(".github/x", &ig));
        assert!(!is_ignored(".gitx", &ig));
        assert!(is_ignored("sub/x/y", &ig));
        assert!(!is_ignored("sub/xy", &ig));
        assert_eq!(normalize("./a//b/"), "a/b");
    }
}
