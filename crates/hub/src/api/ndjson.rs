//! Decoding the lines of an NDJSON commit (`header`, `file`, `lfsFile`, `deletedFile`,
//! `deletedFolder`), each checked on its own before anything is stored.

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use weighhouse_store::Sha256;

use crate::git;

#[derive(Deserialize)]
struct Line {
    key: String,
    #[serde(default)]
    value: Value,
}

/// The first line of a commit: its title, description and the parent the client expects.
#[derive(Deserialize)]
pub(crate) struct Header {
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "parentCommit")]
    pub parent_commit: Option<String>,
}

/// One decoded NDJSON line of a commit, before anything is stored.
#[derive(Debug)]
pub enum Decoded {
    /// The header: title, description, expected parent.
    Header {
        /// Title.
        summary: String,
        /// Description.
        description: String,
        /// Expected parent commit.
        parent: Option<String>,
    },
    /// A regular file with its content.
    File {
        /// Path.
        path: String,
        /// Decoded content.
        content: Vec<u8>,
    },
    /// An LFS file by digest.
    Lfs {
        /// Path.
        path: String,
        /// Content digest.
        sha: Sha256,
        /// Announced size, if any.
        size: Option<u64>,
    },
    /// A file to delete.
    Delete(String),
    /// A folder to delete.
    DeleteFolder(String),
}

/// Decode and check one line (`n` counts from 1). `None` for a blank line. Every path is checked.
pub fn decode_line(line: &[u8], n: usize) -> Result<Option<Decoded>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let l: Line = serde_json::from_slice(line)
        .map_err(|e| format!("Line {n} is not a valid JSON object: {e}"))?;
    let v = &l.value;
    let field = |key: &str| -> Result<&str, String> {
        v.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Line {n}: missing string field {key:?}"))
    };
    let path = |key: &str| -> Result<String, String> {
        let p = field(key)?;
        git::check_path(p)?;
        Ok(p.to_string())
    };
    let decoded = match l.key.as_str() {
        "header" => {
            let h: Header = serde_json::from_value(v.clone())
                .map_err(|e| format!("Invalid commit header: {e}"))?;
            if h.summary.trim().is_empty() {
                return Err("The commit summary (title) must not be empty".into());
            }
            Decoded::Header {
                summary: h.summary,
                description: h.description,
                parent: h.parent_commit,
            }
        }
        "file" => {
            let path = path("path")?;
            let encoding = v
                .get("encoding")
                .and_then(Value::as_str)
                .unwrap_or("base64");
            if encoding != "base64" {
                return Err(format!("Line {n}: unsupported encoding {encoding:?}"));
            }
            let content = base64::engine::general_purpose::STANDARD
                .decode(field("content")?.as_bytes())
                .map_err(|e| format!("Line {n}: content is not valid base64: {e}"))?;
            Decoded::File { path, content }
        }
        "lfsFile" => {
            let path = path("path")?;
            if let Some(algo) = v.get("algo").and_then(Value::as_str)
                && algo != "sha256"
            {
                return Err(format!("Line {n}: unsupported LFS hash algorithm {algo:?}"));
            }
            let sha: Sha256 = field("oid")?
                .parse()
                .map_err(|e| format!("Line {n}: {e}"))?;
            Decoded::Lfs {
                path,
                sha,
                size: v.get("size").and_then(Value::as_u64),
            }
        }
        "deletedFile" => Decoded::Delete(path("path")?),
        "deletedFolder" => {
            let p = field("path")?.trim_end_matches('/');
            git::check_path(p)?;
            Decoded::DeleteFolder(p.to_string())
        }
        other => return Err(format!("Line {n}: unknown operation {other:?}")),
    };
    Ok(Some(decoded))
}
