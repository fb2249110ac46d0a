//! A model card: `README.md` with YAML front matter and Markdown sections, with the line numbers
//! the lint rules report.

use serde_json::{Map, Value};

/// Largest card accepted.
pub const MAX_CARD: usize = 4 << 20;

/// A Markdown heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// 1 for `#`, 2 for `##`, ...
    pub level: usize,
    /// The heading text, trimmed, without trailing `#`s.
    pub text: String,
    /// 1-based line in the card.
    pub line: usize,
}

/// Why the front matter could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FrontMatterError {
    /// What is wrong.
    pub message: String,
    /// 1-based line of the card.
    pub line: usize,
}

/// A parsed card.
#[derive(Debug, Clone)]
pub struct Card {
    /// The whole text (BOM removed).
    pub text: String,
    /// The front matter: `Ok(None)` when the card has none, `Err` when it does not parse.
    pub front: Result<Option<Map<String, Value>>, FrontMatterError>,
    /// 1-based line of the first YAML line (after the opening `---`).
    yaml_first_line: usize,
    /// The YAML text.
    yaml: String,
    /// 1-based line where the Markdown body starts.
    pub body_line: usize,
    /// Headings of the body, outside fenced code blocks.
    pub headings: Vec<Heading>,
}

impl Card {
    /// Parse a card. Never fails: errors in the front matter are kept in [`Card::front`].
    pub fn parse(text: &str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text).to_string();
        let (front, yaml, body_line) = split(&text);
        let front = match front {
            Err(e) => Err(e),
            Ok(false) => Ok(None),
            Ok(true) => parse_yaml(&yaml).map(Some),
        };
        let headings = headings(&text, body_line);
        Self {
            text,
            front,
            yaml_first_line: 2,
            yaml,
            body_line,
            headings,
        }
    }

    /// The front matter mapping, if it parsed (empty when the card has none).
    pub fn data(&self) -> Map<String, Value> {
        match &self.front {
            Ok(Some(m)) => m.clone(),
            _ => Map::new(),
        }
    }

    /// A string field of the front matter.
    pub fn str_field(&self, key: &str) -> Option<String> {
        match &self.front {
            Ok(Some(m)) => m.get(key).and_then(Value::as_str).map(str::to_string),
            _ => None,
        }
    }

    /// The values of a field that may be a string or a list of strings.
    pub fn list_field(&self, key: &str) -> Vec<String> {
        match &self.front {
            Ok(Some(m)) => match m.get(key) {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The Markdown body (after the front matter).
    pub fn body(&self) -> &str {
        let mut line = 1;
        for (i, c) in self.text.char_indices() {
            if line >= self.body_line {
                return &self.text[i..];
            }
            if c == '\n' {
                line += 1;
            }
        }
        ""
    }

    /// The line of a front-matter field given as a path such as `model-index[0].results[0].dataset`:
    /// the line of the deepest key found below the top-level key, or the first YAML line.
    pub fn line_of(&self, path: &str) -> usize {
        let keys: Vec<&str> = path
            .split(['.', '['])
            .filter(|k| !k.is_empty() && !k.ends_with(']'))
            .collect();
        let lines: Vec<&str> = self.yaml.lines().collect();
        let Some(first) = keys.first() else {
            return self.yaml_first_line;
        };
        let is_key = |line: &str, key: &str, top: bool| {
            let l = if top {
                line
            } else {
                line.trim_start().trim_start_matches("- ").trim_start()
            };
            if top && line.starts_with([' ', '\t', '-', '#']) {
                return false;
            }
            let l = l.trim_start_matches(['"', '\'']);
            l.strip_prefix(key)
                .map(|r| {
                    r.trim_start_matches(['"', '\''])
                        .trim_start()
                        .starts_with(':')
                })
                .unwrap_or(false)
        };
        let Some(mut at) = lines.iter().position(|l| is_key(l, first, true)) else {
            return self.yaml_first_line;
        };
        // The extent of the top-level key: up to the next top-level line.
        let end = lines[at + 1..]
            .iter()
            .position(|l| !l.is_empty() && !l.starts_with([' ', '\t', '-', '#']))
            .map(|p| at + 1 + p)
            .unwrap_or(lines.len());
        for key in &keys[1..] {
            match lines[at + 1..end]
                .iter()
                .position(|l| is_key(l, key, false))
            {
                Some(p) => at = at + 1 + p,
                None => break,
            }
        }
        self.yaml_first_line + at
    }
}

/// Find the front matter. Returns whether there is one, its YAML text, and the body's first line.
fn split(text: &str) -> (Result<bool, FrontMatterError>, String, usize) {
    let first_line_end = text.find('\n').unwrap_or(text.len());
    if text[..first_line_end].trim_end() != "---" {
        return (Ok(false), String::new(), 1);
    }
    let mut line_no = 1;
    let mut offset = first_line_end + 1;
    let start = offset.min(text.len());
    while offset < text.len() {
        line_no += 1;
        let end = text[offset..]
            .find('\n')
            .map(|i| offset + i)
            .unwrap_or(text.len());
        if text[offset..end].trim_end() == "---" {
            let yaml = text[start..offset].to_string();
            return (Ok(true), yaml, line_no + 1);
        }
        offset = end + 1;
    }
    (
        Err(FrontMatterError {
            message: "the YAML front matter is not closed by a '---' line".into(),
            line: 1,
        }),
        String::new(),
        1,
    )
}

fn parse_yaml(yaml: &str) -> Result<Map<String, Value>, FrontMatterError> {
    if yaml.trim().is_empty() {
        return Ok(Map::new());
    }
    if yaml.len() > MAX_CARD {
        return Err(FrontMatterError {
            message: format!("the YAML front matter is larger than {MAX_CARD} bytes"),
            line: 2,
        });
    }
    let value: Value = serde_yaml_ng::from_str(yaml).map_err(|e| FrontMatterError {
        // The parser counts a lone `\r` as a line break too: map its position to our lines.
        line: e
            .location()
            .map(|l| 2 + yaml.chars().take(l.index()).filter(|&c| c == '\n').count())
            .unwrap_or(2),
        message: format!("invalid YAML in the front matter: {e}"),
    })?;
    match value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(FrontMatterError {
            message: "the YAML front matter must be a mapping".into(),
            line: 2,
        }),
    }
}

fn headings(text: &str, body_line: usize) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    let mut prev: Option<(&str, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if n < body_line {
            continue;
        }
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if let Some(f) = &fence {
            if t.starts_with(f.as_str()) {
                fence = None;
            }
            prev = None;
            continue;
        }
        if indent < 4 && (t.starts_with("```") || t.starts_with("~~~")) {
            let ch = t.chars().next().unwrap_or('`');
            let len = t.chars().take_while(|&c| c == ch).count();
            fence = Some(std::iter::repeat_n(ch, len).collect());
            prev = None;
            continue;
        }
        if indent < 4 && t.starts_with('#') {
            let level = t.chars().take_while(|&c| c == '#').count();
            let rest = &t[level..];
            if level <= 6 && (rest.is_empty() || rest.starts_with([' ', '\t'])) {
                let text = rest.trim().trim_end_matches('#').trim().to_string();
                out.push(Heading {
                    level,
                    text,
                    line: n,
                });
                prev = None;
                continue;
            }
        }
        // Setext headings: a line of `=` or `-` under a paragraph line.
        if let Some((p, pn)) = prev {
            let u = t.trim_end();
            if indent < 4
                && !u.is_empty()
                && (u.chars().all(|c| c == '=') || u.chars().all(|c| c == '-') && u.len() >= 2)
            {
                out.push(Heading {
                    level: if u.starts_with('=') { 1 } else { 2 },
                    text: p.trim().to_string(),
                    line: pn,
                });
                prev = None;
                continue;
            }
        }
        prev = if t.trim().is_empty() || t.starts_with(['-', '*', '>', '|']) {
            None
        } else {
            Some((line, n))
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_front_matter_and_headings() {
        let c = Card::parse(
            "---\nlicense: mit\nmodel-index:\n- name: m\n  results:\n  - task:\n      type: t\n    dataset:\n      config: 3\n---\n# Title\n\n```\n# not a heading\n```\nModel Details\n=============\n## Uses ##\n",
        );
        let m = c.front.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(m["license"], "mit");
        assert_eq!(c.body_line, 11);
        assert_eq!(c.line_of("license"), 2);
        assert_eq!(c.line_of("model-index[0].results[0].dataset.config"), 9);
        assert_eq!(c.line_of("missing"), 2);
        let h: Vec<_> = c
            .headings
            .iter()
            .map(|h| (h.level, h.text.as_str(), h.line))
            .collect();
        assert_eq!(
            h,
            [(1, "Title", 11), (1, "Model Details", 16), (2, "Uses", 18)]
        );
        assert!(c.body().starts_with("# Title"));
    }

    #[test]
    fn front_matter_errors_carry_lines() {
        let c = Card::parse("---\nlicense: mit\ntags: [a\n---\n");
        let e = c.front.unwrap_err();
        assert!(e.line >= 3, "{e:?}");
        assert!(Card::parse("---\n- a\n---\n").front.is_err());
        assert!(Card::parse("---\nlicense: mit\n").front.is_err());
        assert!(Card::parse("# no front matter").front.unwrap().is_none());
        assert!(
            Card::parse("---\n---\n# x")
                .front
                .unwrap()
                .unwrap()
                .is_empty()
        );
    }
}
