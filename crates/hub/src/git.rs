//! Git object ids for repository content, so that history exported to git keeps its ids.
//!
//! A repository snapshot is a sorted list of files; the trees are derived from it. Files stored
//! with Git LFS appear in git as pointer files whose `oid` is the SHA-256 of the content.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha1::{Digest, Sha1};
use weighhouse_store::Sha256;

/// A git object id (SHA-1), 40 lowercase hex digits.
pub type Oid = String;

/// The id of the empty tree.
pub const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// `sha1("<kind> <len>\0" + body)` in hex.
pub fn object_id(kind: &str, body: &[u8]) -> Oid {
    let mut h = Sha1::new();
    h.update(format!("{kind} {}\0", body.len()).as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// The git blob id of `content`.
pub fn blob_id(content: &[u8]) -> Oid {
    object_id("blob", content)
}

/// The Git LFS pointer file for content with this digest and size.
pub fn lfs_pointer(sha256: &Sha256, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    /// Path inside the repository, `/`-separated.
    pub path: String,
    /// Size of the content in bytes.
    pub size: u64,
    /// SHA-256 of the content: the blob store key.
    pub sha256: String,
    /// Stored as a Git LFS pointer.
    pub lfs: bool,
    /// The git blob id: of the content, or of the pointer file for LFS files.
    pub oid: Oid,
}

impl FileEntry {
    /// A regular (git-stored) file.
    pub fn regular(path: String, content: &[u8], sha256: &Sha256) -> Self {
        Self {
            path,
            size: content.len() as u64,
            sha256: sha256.to_string(),
            lfs: false,
            oid: blob_id(content),
        }
    }

    /// A file stored as an LFS pointer.
    pub fn lfs(path: String, sha256: &Sha256, size: u64) -> Self {
        let pointer = lfs_pointer(sha256, size);
        Self {
            path,
            size,
            sha256: sha256.to_string(),
            lfs: true,
            oid: blob_id(pointer.as_bytes()),
        }
    }

    /// Length of the pointer file (LFS files).
    pub fn pointer_size(&self) -> u64 {
        format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n",
            self.sha256, self.size
        )
        .len() as u64
    }
}

/// A tree object: its id, serialised body, and the ids of all sub-trees by folder path.
#[derive(Debug, Clone, Default)]
pub struct Trees {
    /// The root tree id.
    pub root: Oid,
    /// Every folder path (without trailing `/`) and its tree id.
    pub folders: BTreeMap<String, Oid>,
    /// Every tree object body by id (for export to git).
    pub objects: BTreeMap<Oid, Vec<u8>>,
}

enum Node<'a> {
    File(&'a FileEntry),
    Dir(BTreeMap<&'a str, Node<'a>>),
}

/// Build the git trees of a snapshot. `files` must have valid, distinct paths, and no path may
/// be both a file and a folder (the commit code checks both).
pub fn build_trees(files: &[FileEntry]) -> Trees {
    let mut root: BTreeMap<&str, Node<'_>> = BTreeMap::new();
    for f in files {
        let mut parts: Vec<&str> = f.path.split('/').collect();
        let name = parts.pop().expect("split yields one part");
        let mut dir = &mut root;
        for p in parts {
            let node = dir.entry(p).or_insert_with(|| Node::Dir(BTreeMap::new()));
            dir = match node {
                Node::Dir(d) => d,
                Node::File(_) => unreachable!("path is both a file and a folder"),
            };
        }
        dir.insert(name, Node::File(f));
    }
    let mut trees = Trees::default();
    trees.root = write_tree(&root, "", &mut trees);
    trees
}

fn write_tree(dir: &BTreeMap<&str, Node<'_>>, prefix: &str, out: &mut Trees) -> Oid {
    // Git sorts entries by name, comparing a folder's name as if it ended in '/'.
    let mut entries: Vec<(Vec<u8>, &str, &Node<'_>)> = dir
        .iter()
        .map(|(name, node)| {
            let mut key = name.as_bytes().to_vec();
            if matches!(node, Node::Dir(_)) {
                key.push(b'/');
            }
            (key, *name, node)
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut body = Vec::new();
    for (_, name, node) in entries {
        let (mode, oid) = match node {
            Node::File(f) => ("100644", f.oid.clone()),
            Node::Dir(d) => {
                let path = if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{prefix}/{name}")
                };
                let oid = write_tree(d, &path, out);
                out.folders.insert(path, oid.clone());
                ("40000", oid)
            }
        };
        body.extend_from_slice(mode.as_bytes());
        body.push(b' ');
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(&hex::decode(&oid).expect("oids are hex"));
    }
    let oid = object_id("tree", &body);
    out.objects.insert(oid.clone(), body);
    oid
}

/// A commit's fields, as git stores them.
#[derive(Debug, Clone)]
pub struct CommitObject<'a> {
    /// Root tree id.
    pub tree: &'a str,
    /// Parent commit ids.
    pub parents: &'a [Oid],
    /// Author name.
    pub author: &'a str,
    /// Author e-mail.
    pub email: &'a str,
    /// Seconds since the epoch (UTC).
    pub time: i64,
    /// Commit message: title, and the description after a blank line.
    pub message: &'a str,
}

impl CommitObject<'_> {
    /// The serialised commit object.
    pub fn body(&self) -> Vec<u8> {
        let mut s = String::new();
        let _ = writeln!(s, "tree {}", self.tree);
        for p in self.parents {
            let _ = writeln!(s, "parent {p}");
        }
        let who = format!(
            "{} <{}> {} +0000",
            clean_ident(self.author),
            clean_ident(self.email),
            self.time
        );
        let _ = writeln!(s, "author {who}");
        let _ = writeln!(s, "committer {who}");
        s.push('\n');
        s.push_str(self.message);
        s.into_bytes()
    }

    /// The commit id.
    pub fn id(&self) -> Oid {
        object_id("commit", &self.body())
    }
}

/// Git refuses `<`, `>` and newlines in identities.
fn clean_ident(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '<' | '>' | '\n' | '\r' | '\0'))
        .collect::<String>()
        .trim()
        .to_string()
}

/// The message git stores for a title and an optional description: always ends with a newline.
pub fn commit_message(title: &str, description: &str) -> String {
    let title = title.trim();
    let description = description.trim();
    let mut m = String::from(title);
    if !description.is_empty() {
        m.push_str("\n\n");
        m.push_str(description);
    }
    m.push('\n');
    m
}

/// Unicode's bidirectional formatting characters (embeddings, overrides, isolates and marks):
/// invisible, and able to show `txt.exe` as `exe.txt`.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Why a file path is refused.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty file path".into());
    }
    if path.len() > 1024 {
        return Err("file path longer than 1024 bytes".into());
    }
    if path.starts_with('/') {
        return Err(format!(
            "file path must be relative, not absolute: {path:?}"
        ));
    }
    if path.contains('\\') {
        return Err(format!("file path must use '/', not backslashes: {path:?}"));
    }
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        return Err(format!(
            "file path contains the control character {:?}: {path:?}",
            c
        ));
    }
    if let Some(c) = path.chars().find(|&c| is_bidi_control(c)) {
        return Err(format!(
            "file path contains the bidirectional control character U+{:04X}, which can disguise a \
             name or its extension: {path:?}",
            c as u32
        ));
    }
    for part in path.split('/') {
        match part {
            "" => return Err(format!("file path has an empty component: {path:?}")),
            "." | ".." => {
                return Err(format!(
                    "file path may not contain '.' or '..' components: {path:?}"
                ));
            }
            ".git" => {
                return Err(format!(
                    "file path may not contain a '.git' component: {path:?}"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids() {
        assert_eq!(blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        assert_eq!(
            blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(object_id("tree", b""), EMPTY_TREE);
        assert_eq!(build_trees(&[]).root, EMPTY_TREE);
    }

    #[test]
    fn paths() {
        for bad in [
            "",
            "/a",
            "a/../b",
            "./a",
            "a\\b",
            "a//b",
            "a/",
            "a\0b",
            "a\nb",
            ".git/config",
            "x\u{7f}",
            "invoice\u{202E}fdp.exe",
            "a\u{2066}b",
            "a\u{200F}.txt",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        for good in [
            "a",
            "a/b.txt",
            ".gitattributes",
            "dir/.hidden",
            "ü/ñ.bin",
            "a..b",
            "مرحبا/שלום.txt",
        ] {
            assert!(check_path(good).is_ok(), "{good:?}");
        }
    }
}
