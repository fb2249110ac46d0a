//! The repository as the openness rules read it: the file listing (read once), the card's front
//! matter and sections, `config.json`, the declared licences, and the links in the card.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::files::{Files, MAX_TEXT};
use crate::frontmatter::Card;
use crate::lint::PLACEHOLDER;

/// A section of the card: a heading and the text under it, subsections included.
#[derive(Debug, Clone)]
pub(super) struct Section {
    /// The heading as written.
    pub title: String,
    /// The heading lowercased, without `[optional]` and trailing colons.
    pub key: String,
    /// 1-based line of the heading.
    pub line: usize,
    /// The text up to the next heading of the same or a higher level.
    pub content: String,
}

/// A link found in the card body.
#[derive(Debug, Clone)]
pub(super) struct Link {
    pub url: String,
    /// 1-based line.
    pub line: usize,
    /// The line it is on, lowercased.
    pub context: String,
    /// The key of the innermost section it is in.
    pub section: String,
}

pub(super) struct Repo<'a> {
    pub files: &'a dyn Files,
    pub sizes: BTreeMap<String, u64>,
    pub card: Option<Card>,
    pub data: Map<String, Value>,
    pub sections: Vec<Section>,
    pub links: Vec<Link>,
    /// `config.json`, when it is a JSON object.
    pub config: Option<Map<String, Value>>,
}

impl<'a> Repo<'a> {
    pub fn new(files: &'a dyn Files) -> Self {
        let sizes: BTreeMap<String, u64> = files
            .entries()
            .into_iter()
            .map(|e| (e.path, e.size))
            .collect();
        let mut repo = Self {
            files,
            sizes,
            card: None,
            data: Map::new(),
            sections: Vec::new(),
            links: Vec::new(),
            config: None,
        };
        if let Some(text) = repo.text("README.md") {
            let card = Card::parse(&text);
            repo.data = card.data();
            repo.sections = sections(&card);
            repo.links = links(&card, &repo.sections);
            repo.card = Some(card);
        }
        repo.config = repo
            .text("config.json")
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            });
        repo
    }

    pub fn exists(&self, path: &str) -> bool {
        self.sizes.contains_key(path)
    }

    /// A file or a folder with at least one file in it.
    pub fn exists_any(&self, path: &str) -> bool {
        let path = path.trim_start_matches("./").trim_end_matches('/');
        if path.is_empty() {
            return false;
        }
        if self.exists(path) {
            return true;
        }
        let prefix = format!("{path}/");
        self.sizes
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(p, _)| p.starts_with(&prefix))
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.sizes.keys().map(String::as_str)
    }

    /// Paths whose file name (lowercased) satisfies `f`.
    pub fn find(&self, f: impl Fn(&str, &str) -> bool) -> Vec<String> {
        self.paths()
            .filter(|p| {
                let lower = p.to_ascii_lowercase();
                let name = lower.rsplit('/').next().unwrap_or(&lower).to_string();
                f(&lower, &name)
            })
            .map(str::to_string)
            .collect()
    }

    /// A whole text file of at most [`MAX_TEXT`] bytes.
    pub fn text(&self, path: &str) -> Option<String> {
        let size = *self.sizes.get(path)?;
        if size > MAX_TEXT {
            return None;
        }
        self.files
            .read_prefix(path, MAX_TEXT)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A JSON file that parses.
    pub fn json(&self, path: &str) -> Option<Value> {
        serde_json::from_str(&self.text(path)?).ok()
    }

    /// A YAML file that parses.
    pub fn yaml(&self, path: &str) -> Option<Value> {
        serde_yaml_ng::from_str(&self.text(path)?).ok()
    }

    /// Whether the card's front matter parsed to a mapping.
    pub fn has_front_matter(&self) -> bool {
        self.card
            .as_ref()
            .is_some_and(|c| matches!(c.front, Ok(Some(_))))
    }

    /// A string field of the front matter.
    pub fn str_field(&self, key: &str) -> Option<String> {
        self.data
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// A field that may be a string or a list of strings.
    pub fn list_field(&self, key: &str) -> Vec<String> {
        match self.data.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The first section whose heading is one of `names` (keys as [`Section::key`]), or starts
    /// with one of them followed by a space or a colon.
    pub fn section(&self, names: &[&str]) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| names.contains(&s.key.as_str()))
            .or_else(|| {
                self.sections.iter().find(|s| {
                    names.iter().any(|n| {
                        s.key.starts_with(&format!("{n} ")) || s.key.starts_with(&format!("{n}:"))
                    })
                })
            })
    }

    /// The first section among `names` that has content beyond the template's placeholders.
    pub fn filled(&self, names: &[&str]) -> Option<&Section> {
        self.sections
            .iter()
            .filter(|s| {
                names.contains(&s.key.as_str())
                    || names.iter().any(|n| {
                        s.key.starts_with(&format!("{n} ")) || s.key.starts_with(&format!("{n}:"))
                    })
            })
            .find(|s| is_filled(&s.content))
    }
}

/// The heading key: lowercase, `[optional]` and trailing `:` removed, spaces collapsed.
pub(super) fn heading_key(text: &str) -> String {
    let lower = text.to_lowercase().replace("[optional]", "");
    let lower = lower.trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace());
    lower
        .trim_end_matches(':')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn sections(card: &Card) -> Vec<Section> {
    let lines: Vec<&str> = card.text.lines().collect();
    let hs = &card.headings;
    hs.iter()
        .enumerate()
        .map(|(i, h)| {
            let end = hs[i + 1..]
                .iter()
                .find(|n| n.level <= h.level)
                .map(|n| n.line - 1)
                .unwrap_or(lines.len());
            let start = h.line.min(lines.len());
            let content = lines[start..end.max(start)].join("\n");
            Section {
                title: h.text.clone(),
                key: heading_key(&h.text),
                line: h.line,
                content,
            }
        })
        .collect()
}

fn links(card: &Card, sections: &[Section]) -> Vec<Link> {
    let mut out = Vec::new();
    for (i, line) in card.text.lines().enumerate() {
        let n = i + 1;
        if n < card.body_line {
            continue;
        }
        let urls = urls_in(line);
        if urls.is_empty() {
            continue;
        }
        // The innermost section: the last heading at or before this line.
        let section = sections
            .iter()
            .rev()
            .find(|s| s.line <= n)
            .map(|s| s.key.clone())
            .unwrap_or_default();
        for url in urls {
            out.push(Link {
                url,
                line: n,
                context: line.to_lowercase(),
                section: section.clone(),
            });
        }
    }
    out
}

/// Whether a section says something beyond the template: HTML comments, placeholders, bare
/// labels (`- **Developed by:**`) and punctuation do not count.
pub(super) fn is_filled(text: &str) -> bool {
    let mut rest = text.replace(PLACEHOLDER, "");
    // Drop HTML comments (the template's guidance).
    while let Some(start) = rest.find("<!--") {
        match rest[start..].find("-->") {
            Some(end) => rest.replace_range(start..start + end + 3, ""),
            None => rest.truncate(start),
        }
    }
    let underline =
        |t: &str| t.len() >= 2 && (t.chars().all(|c| c == '=') || t.chars().all(|c| c == '-'));
    let lines: Vec<&str> = rest.lines().map(str::trim).collect();
    lines.iter().enumerate().any(|(i, &t)| {
        // Subsection headings (ATX or setext) are structure, not content.
        let setext = lines.get(i + 1).is_some_and(|n| underline(n));
        if t.starts_with('#') || underline(t) || setext {
            return false;
        }
        let mut l = t.trim_start_matches(['-', '*', '+', '>']).trim();
        // A bold label such as `**Developed by:**` alone.
        if let Some(after) = l.strip_prefix("**")
            && let Some(end) = after.find("**")
        {
            l = after[end + 2..].trim();
        }
        let l = l.trim_start_matches(':').trim();
        l.chars().filter(|c| c.is_alphanumeric()).count() >= 2
    })
}

/// `http(s)://` links in a line of text, with trailing punctuation removed.
pub(super) fn urls_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("http") {
        let cand = &rest[i..];
        let is_url = cand.starts_with("https://") || cand.starts_with("http://");
        if !is_url {
            rest = &rest[i + 4..];
            continue;
        }
        let end = cand
            .find(|c: char| c.is_whitespace() || "<>\"'`)]|".contains(c))
            .unwrap_or(cand.len());
        let url = cand[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if url.len() > "https://".len() {
            out.push(url.to_string());
        }
        rest = &cand[end..];
    }
    out
}

/// The host of a URL, lowercased.
pub(super) fn host(url: &str) -> String {
    let after = url.split_once("://").map(|x| x.1).unwrap_or(url);
    after
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A link to a version-control repository (where training code lives).
pub(super) fn is_vcs_url(url: &str) -> bool {
    let h = host(url);
    let h = h.strip_prefix("www.").unwrap_or(&h);
    let path = url.split_once("://").map(|x| x.1).unwrap_or(url);
    let has_path = path.split('/').filter(|s| !s.is_empty()).count() >= 3;
    let known = [
        "github.com",
        "gitlab.com",
        "codeberg.org",
        "bitbucket.org",
        "git.sr.ht",
        "gitee.com",
        "sourceforge.net",
    ];
    (known.contains(&h) && has_path)
        || h.starts_with("git.")
        || h.starts_with("gitlab.")
        || url.ends_with(".git")
}

/// A link to a paper: arXiv, a DOI, or a PDF.
pub(super) fn is_paper_url(url: &str) -> bool {
    let h = host(url);
    h == "arxiv.org"
        || h.ends_with(".arxiv.org")
        || h == "doi.org"
        || h == "dx.doi.org"
        || h == "openreview.net"
        || h == "aclanthology.org"
        || url.to_ascii_lowercase().ends_with(".pdf")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_ignores_template_text() {
        assert!(!is_filled(
            "\n<!-- Provide a longer summary. -->\n\n[More Information Needed]\n"
        ));
        assert!(!is_filled(
            "- **Developed by:** [More Information Needed]\n- **License:**"
        ));
        assert!(is_filled("- **Developed by:** Acme Lab"));
        assert!(is_filled("Trained on 2T tokens of web text."));
        assert!(!is_filled("<!-- open\nstill a comment"));
        assert!(!is_filled(
            "\n### Direct Use\n\n[More Information Needed]\n\nOther Use\n---------\n"
        ));
    }

    #[test]
    fn urls_and_hosts() {
        let u = urls_in("see (https://github.com/acme/train), and http://x.org/a.pdf.");
        assert_eq!(u, ["https://github.com/acme/train", "http://x.org/a.pdf"]);
        assert!(is_vcs_url("https://github.com/acme/train"));
        assert!(!is_vcs_url("https://github.com/acme"));
        assert!(is_paper_url("https://arxiv.org/abs/2403.13784"));
        assert_eq!(
            host("https://user@Git.Example.org:8080/x"),
            "git.example.org:8080"
        );
        assert_eq!(heading_key("Preprocessing [optional]"), "preprocessing");
        assert_eq!(heading_key("Training Data:"), "training data");
    }
}
