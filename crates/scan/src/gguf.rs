//! GGUF (llama.cpp) files: the key-values and tensor infos are parsed with bounds checks, and
//! every chat template is scanned for Jinja server-side template injection.
//!
//! `tokenizer.chat_template` (and the named `tokenizer.chat_template.<name>` variants) is a
//! Jinja template that runners render for every prompt. llama-cpp-python rendered it in a
//! non-sandboxed environment, so a template that walks Python attributes
//! (`().__class__.__base__.__subclasses__()` ... `os.popen`) runs commands (CVE-2024-34359).
//!
//! # Template analysis
//!
//! A small Jinja lexer splits the template into `{{ }}` / `{% %}` blocks (comments and
//! `{% raw %}` sections are skipped, as Jinja does) and tokenises each block into names, string
//! literals (with Python escapes decoded, so `'\x5f\x5f'` is `__`), numbers and operators. Within
//! a block, string literals joined by `~` or `+` are concatenated, so a dunder assembled from
//! pieces (`'__cla' ~ 'ss__'`) is seen whole. Real chat templates (ChatML, Llama, Mistral, ...)
//! only index messages and compare strings, so the rules below do not fire on them.
//!
//! | rule | severity | when |
//! |---|---|---|
//! | `gguf.template_injection` | critical | a name or string that is a dunder (`__class__`, `__globals__`, ...) or a fragment of one; attribute or item access to `mro`, `popen`, `system`, `eval`, `exec`, `__import__`, `f_globals`, ... (also through `|attr`); attribute, item or filter access on the gadget roots `cycler`, `joiner`, `namespace`, `lipsum`, `config`, `request`, `url_for`, `get_flashed_messages` |
//! | `gguf.template_obfuscation` | high | `|attr` with a computed name, `%c` formatting or `\N{...}` escapes (ways to build a name from numbers), calls to `eval`/`exec`/`getattr`/`open` |
//! | `gguf.header` | — | (incomplete only) the header, a key-value or a tensor info is malformed or over a limit |
//!
//! # Reading
//!
//! The header, key-values and tensor infos are read with the format readers' GGUF cursor
//! ([`weighhouse_formats::gguf::Reader`]: magic, version and byte order, counts, strings, value
//! types). The scanner keeps its own, more tolerant walk on top of it, because a file that
//! `weighhouse_formats::gguf::parse` refuses may still reach a loader that renders its template:
//! GGUF v1 (32-bit counts), v2 and v3, little- and big-endian, are read; duplicate keys, keys and
//! strings that are not UTF-8, bools other than 0 and 1, and arrays of arrays (up to
//! [`MAX_ARRAY_DEPTH`] deep) are walked rather than refused; and a tensor info is only checked
//! for being complete, not for ggml's rules on types, shapes and offsets.

use weighhouse_formats::gguf::{Reader, Scalar, value_type as vt};

use crate::error::GgufError;
use crate::report::{Report, Severity};

/// Most key-values read.
const MAX_KV: u64 = 10_000_000;
/// Most tensor infos read.
const MAX_TENSORS: u64 = 10_000_000;
/// Deepest array nesting.
const MAX_ARRAY_DEPTH: usize = 4;
/// Longest template scanned in full.
const MAX_TEMPLATE_BYTES: usize = 64 << 20;

/// Read one value of type `t`, handing every string to `on_str` with its offset.
fn value<'a>(
    r: &mut Reader<'a>,
    t: u32,
    depth: usize,
    on_str: &mut dyn FnMut(&'a [u8], usize),
) -> Result<(), GgufError> {
    if let Some(n) = vt::fixed_size(t) {
        r.take(n, "value")?;
        return Ok(());
    }
    match t {
        vt::STRING => {
            let at = r.position();
            if let Some(Scalar::String(s)) = r.scalar(t, u64::MAX, "string")? {
                on_str(s, at);
            }
            Ok(())
        }
        vt::ARRAY => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(GgufError::ArraysTooDeep);
            }
            let (et, n) = r.array_header("array")?;
            if let Some(each) = vt::fixed_size(et) {
                let total = n.checked_mul(each).ok_or(GgufError::ArraySizeOverflow)?;
                r.take(total, "array")?;
                return Ok(());
            }
            // Every element takes at least 4 bytes (a string or array header).
            if n > r.remaining() / 4 {
                return Err(GgufError::ArrayTooLong(n));
            }
            for _ in 0..n {
                value(r, et, depth + 1, on_str)?;
            }
            Ok(())
        }
        other => Err(GgufError::UnknownValueType(other)),
    }
}

/// Scan a GGUF file.
pub(crate) fn scan(data: &[u8], loc: &str, r: &mut Report) {
    r.format("gguf");
    if let Err(why) = parse(data, loc, r) {
        r.incomplete(loc, format!("GGUF: {why}"));
    }
}

fn parse(data: &[u8], loc: &str, rep: &mut Report) -> Result<(), GgufError> {
    let mut r = Reader::new(data, data.len() as u64);
    let v1 = r.version()? == 1;
    let n_tensors = r.count("tensor count")?;
    let n_kv = r.count("key-value count")?;
    if n_kv > MAX_KV || n_kv > r.remaining() / 12 {
        return Err(GgufError::KvCount(n_kv));
    }
    if n_tensors > MAX_TENSORS {
        return Err(GgufError::TensorLimit(n_tensors));
    }
    let mut templates: Vec<(String, usize, &[u8])> = Vec::new();
    for _ in 0..n_kv {
        let key_at = r.position();
        let key = String::from_utf8_lossy(r.string(u64::MAX, "key")?).into_owned();
        let t = r.u32("value type")?;
        let is_template = key.starts_with("tokenizer.chat_template") || key.contains("template");
        let mut found: Vec<(usize, &[u8])> = Vec::new();
        value(&mut r, t, 0, &mut |s, at| {
            if is_template {
                found.push((at, s));
            }
        })
        .map_err(|e| GgufError::Key {
            key: key.clone(),
            offset: key_at,
            source: Box::new(e),
        })?;
        templates.extend(found.into_iter().map(|(at, s)| (key.clone(), at, s)));
    }
    for (key, at, s) in templates {
        let text = String::from_utf8_lossy(s);
        let here = format!("{loc}!kv:{key}@{at}");
        if text.len() > MAX_TEMPLATE_BYTES {
            rep.incomplete(&here, "chat template is too long to scan");
            continue;
        }
        rep.format("jinja");
        scan_template(&text, &here, rep);
    }
    // Tensor infos: name, dims, type, offset.
    let min = if v1 { 4 + 4 + 4 + 8 } else { 8 + 4 + 4 + 8 };
    if n_tensors > r.remaining() / min {
        return Err(GgufError::TensorCount(n_tensors));
    }
    for i in 0..n_tensors {
        let name = r
            .string(u64::MAX, "tensor name")
            .map_err(|e| GgufError::Tensor {
                index: i,
                source: Box::new(e.into()),
            })?;
        let n_dims = r.u32("dimension count")?;
        if n_dims > 8 {
            return Err(GgufError::TooManyDims {
                name: String::from_utf8_lossy(name).into_owned(),
                n_dims,
            });
        }
        for _ in 0..n_dims {
            r.count("dimension")?;
        }
        r.u32("tensor type")?;
        r.u64("tensor offset")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Jinja.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Num,
    Op(String),
}

/// Attribute / item names that only serve to escape the template into Python.
const SENSITIVE_ATTRS: &[&str] = &[
    "mro",
    "popen",
    "system",
    "eval",
    "exec",
    "execfile",
    "import_module",
    "getattr",
    "globals",
    "builtins",
    "subprocess",
    "check_output",
    "check_call",
    "spawn",
    "spawnv",
    "execv",
    "execve",
    "fork",
    "f_globals",
    "f_locals",
    "f_back",
    "f_builtins",
    "func_globals",
    "func_code",
    "gi_frame",
    "gi_code",
    "cr_frame",
    "ag_frame",
    "tb_frame",
    "co_code",
    "load_module",
    "modules",
    "os",
    "sys",
];

/// Template globals (Jinja's own, and Flask's) whose attributes lead to Python internals.
const GADGET_ROOTS: &[&str] = &[
    "cycler",
    "joiner",
    "namespace",
    "lipsum",
    "config",
    "request",
    "url_for",
    "get_flashed_messages",
];

/// Functions a template has no business calling.
const CALL_DENY: &[&str] = &[
    "eval",
    "exec",
    "getattr",
    "setattr",
    "open",
    "compile",
    "__import__",
    "globals",
    "locals",
    "vars",
    "dir",
];

fn is_dunder_fragment(s: &str) -> bool {
    // A dunder name, or a piece of one: at least two underscores next to identifier text.
    let b = s.as_bytes();
    if s.contains("__") {
        if let Some(i) = s.find("__") {
            let before = i.checked_sub(1).and_then(|j| b.get(j));
            let after = b.get(i + 2);
            let ident = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            if ident(before) || ident(after) {
                return true;
            }
        }
        // Nothing but underscores and whitespace ("__", "___"): a separator built up to be
        // joined with a name.
        if s.trim().chars().all(|c| c == '_') {
            return true;
        }
    }
    false
}

/// Scan one Jinja template.
pub(crate) fn scan_template(text: &str, loc: &str, r: &mut Report) {
    for (offset, toks) in blocks(text, r, loc) {
        check_block(&toks, &format!("{loc}+{offset}"), r);
    }
}

/// The code blocks of `text` as `(offset, tokens)`.
fn blocks(text: &str, r: &mut Report, loc: &str) -> Vec<(usize, Vec<Tok>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while i + 1 < b.len() {
        if b[i] != b'{' {
            i += 1;
            continue;
        }
        match b[i + 1] {
            b'#' => {
                i = match find(b, i + 2, b"#}") {
                    Some(j) => j + 2,
                    None => b.len(),
                };
            }
            open @ (b'{' | b'%') => {
                let close: &[u8] = if open == b'{' { b"}}" } else { b"%}" };
                let start = i;
                let (toks, end, unclosed) = lex(text, i + 2, close);
                if unclosed {
                    r.add(
                        "gguf.template_syntax",
                        Severity::Low,
                        &format!("{loc}+{start}"),
                        "an unterminated Jinja block",
                    );
                }
                i = end;
                let is_raw = open == b'%'
                    && toks
                        .iter()
                        .find(|t| !matches!(t, Tok::Op(o) if o == "-" || o == "+"))
                        == Some(&Tok::Name("raw".into()));
                out.push((start, toks));
                if is_raw {
                    // Skip to `{% endraw %}`.
                    let mut j = i;
                    loop {
                        let Some(k) = find(b, j, b"{%") else {
                            i = b.len();
                            break;
                        };
                        let (t2, e2, _) = lex(text, k + 2, b"%}");
                        if t2.iter().any(|t| *t == Tok::Name("endraw".into())) {
                            i = e2;
                            break;
                        }
                        j = k + 2;
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Tokenise from `start` until `close` (outside strings). Returns the tokens, the offset just
/// past `close` (or the end) and whether the block was left open.
fn lex(text: &str, start: usize, close: &[u8]) -> (Vec<Tok>, usize, bool) {
    let b = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        if b[i..].starts_with(close) {
            return (toks, i + close.len(), false);
        }
        // Whitespace control before the closing delimiter: `-}}`, `+%}`.
        if (c == b'-' || c == b'+') && b[i + 1..].starts_with(close) {
            return (toks, i + 1 + close.len(), false);
        }
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'\'' || c == b'"' {
            let (s, end) = string_lit(b, i);
            toks.push(Tok::Str(s));
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            toks.push(Tok::Name(String::from_utf8_lossy(&b[s..i]).into_owned()));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            toks.push(Tok::Num);
        } else {
            toks.push(Tok::Op((c as char).to_string()));
            i += 1;
        }
    }
    (toks, b.len(), true)
}

/// A string literal starting at `b[i]` (a quote): its decoded value and the offset past it.
fn string_lit(b: &[u8], i: usize) -> (String, usize) {
    let q = b[i];
    let mut j = i + 1;
    let mut raw = Vec::new();
    while j < b.len() && b[j] != q {
        if b[j] == b'\\' && j + 1 < b.len() {
            raw.push(b[j]);
            raw.push(b[j + 1]);
            j += 2;
        } else {
            raw.push(b[j]);
            j += 1;
        }
    }
    let end = (j + 1).min(b.len());
    (unescape(&String::from_utf8_lossy(&raw)), end)
}

/// Decode Python string escapes, as Jinja does for literals. `\N{...}` is kept as written (it
/// is reported separately).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    let hex = |cs: &[char], from: usize, n: usize| -> Option<char> {
        let t: String = cs.get(from..from + n)?.iter().collect();
        u32::from_str_radix(&t, 16).ok().and_then(char::from_u32)
    };
    while i < cs.len() {
        if cs[i] != '\\' || i + 1 >= cs.len() {
            out.push(cs[i]);
            i += 1;
            continue;
        }
        let e = cs[i + 1];
        i += 2;
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                match hex(&cs, i, n) {
                    Some(c) => {
                        out.push(c);
                        i += n;
                    }
                    None => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '0'..='7' => {
                let mut v = e as u32 - '0' as u32;
                let mut k = 0;
                while k < 2 && i < cs.len() && ('0'..='7').contains(&cs[i]) {
                    v = v * 8 + (cs[i] as u32 - '0' as u32);
                    i += 1;
                    k += 1;
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            other => {
                if !matches!(other, '\\' | '\'' | '"') {
                    out.push('\\');
                }
                out.push(other);
            }
        }
    }
    out
}

fn check_block(toks: &[Tok], loc: &str, r: &mut Report) {
    let crit = |r: &mut Report, msg: String| {
        r.add(
            "gguf.template_injection",
            Severity::Critical,
            loc,
            format!("{msg}: server-side template injection (SSTI) reaching Python internals"),
        );
    };
    let op = |i: usize, o: &str| matches!(toks.get(i), Some(Tok::Op(x)) if x == o);
    for (i, t) in toks.iter().enumerate() {
        let prev_dot = i > 0 && op(i - 1, ".");
        match t {
            Tok::Name(n) => {
                if n.starts_with("__") || is_dunder_fragment(n) {
                    crit(
                        r,
                        format!("Jinja template uses the dunder name `{n}` (Python object walk)"),
                    );
                } else if prev_dot && SENSITIVE_ATTRS.contains(&n.as_str()) {
                    crit(r, format!("Jinja template reads the attribute `.{n}`"));
                }
                let root = !prev_dot && (i == 0 || !op(i - 1, "|"));
                if root
                    && GADGET_ROOTS.contains(&n.as_str())
                    && (op(i + 1, ".") || op(i + 1, "[") || op(i + 1, "|"))
                {
                    crit(
                        r,
                        format!("Jinja template walks from the gadget root `{n}`"),
                    );
                }
                if root && op(i + 1, "(") && CALL_DENY.contains(&n.as_str()) {
                    r.add(
                        "gguf.template_obfuscation",
                        Severity::High,
                        loc,
                        format!("Jinja template calls `{n}()`"),
                    );
                }
                // `|attr(...)`: the name must be a plain, harmless literal.
                if n == "attr" && i > 0 && op(i - 1, "|") {
                    match (toks.get(i + 1), toks.get(i + 2), toks.get(i + 3)) {
                        (Some(Tok::Op(p)), Some(Tok::Str(s)), Some(Tok::Op(c)))
                            if p == "(" && c == ")" =>
                        {
                            if is_dunder_fragment(s) || s.starts_with('_') {
                                crit(r, format!("Jinja `|attr({s:?})` reads a dunder attribute"));
                            } else if SENSITIVE_ATTRS.contains(&s.as_str()) {
                                crit(
                                    r,
                                    format!("Jinja `|attr({s:?})` reads a dangerous attribute"),
                                );
                            }
                        }
                        _ => r.add(
                            "gguf.template_obfuscation",
                            Severity::High,
                            loc,
                            "Jinja `|attr()` with a computed attribute name",
                        ),
                    }
                }
            }
            Tok::Str(s) => {
                if is_dunder_fragment(s) {
                    crit(
                        r,
                        format!(
                            "Jinja template builds the dunder string {s:?} (Python object walk)"
                        ),
                    );
                }
                // Item access `x['popen']`.
                if op(i.wrapping_sub(1), "[")
                    && op(i + 1, "]")
                    && i >= 2
                    && matches!(toks.get(i - 2), Some(Tok::Name(_) | Tok::Op(_)))
                    && !op(i - 2, "(")
                    && !op(i - 2, ",")
                    && !op(i - 2, "[")
                    && !op(i - 2, "=")
                    && SENSITIVE_ATTRS.contains(&s.as_str())
                    && s != "system"
                    && s != "os"
                    && s != "sys"
                    && s != "modules"
                {
                    crit(r, format!("Jinja template reads the item [{s:?}]"));
                }
                if s.contains("%c") {
                    r.add(
                        "gguf.template_obfuscation",
                        Severity::High,
                        loc,
                        "Jinja template formats characters from numbers (`%c`)",
                    );
                }
                if s.contains("\\N{") {
                    r.add(
                        "gguf.template_obfuscation",
                        Severity::High,
                        loc,
                        "Jinja template builds characters from `\\N{...}` escapes",
                    );
                }
            }
            _ => {}
        }
    }
    // Concatenated literals: `'__cla' ~ 'ss__'`, `'_' ~ '_'`.
    let mut chain = String::new();
    let mut i = 0;
    while i < toks.len() {
        if let Tok::Str(s) = &toks[i] {
            chain.push_str(s);
            if (op(i + 1, "~") || op(i + 1, "+")) && matches!(toks.get(i + 2), Some(Tok::Str(_))) {
                i += 2;
                continue;
            }
            if is_dunder_fragment(&chain) {
                crit(
                    r,
                    format!("Jinja template concatenates strings into {chain:?} (a dunder name)"),
                );
            }
            chain.clear();
        }
        i += 1;
    }
    // Any string repeated with `*` that is only underscores: `'_' * 2`.
    for w in toks.windows(3) {
        if let [Tok::Str(s), Tok::Op(o), Tok::Num] = w
            && o == "*"
            && !s.is_empty()
            && s.chars().all(|c| c == '_')
        {
            crit(
                r,
                "Jinja template multiplies underscores into a dunder".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use crate::testutil::corpus_file;

    fn scan_file(rel: &str) -> Report {
        let mut r = Report::default();
        scan(&corpus_file(rel), rel, &mut r);
        r
    }

    fn tpl(t: &str) -> Report {
        let mut r = Report::default();
        scan_template(t, "t", &mut r);
        r
    }

    fn gguf_with(kvs: &[(&str, &str)]) -> Vec<u8> {
        let mut v = b"GGUF".to_vec();
        v.extend(3u32.to_le_bytes());
        v.extend(0u64.to_le_bytes());
        v.extend((kvs.len() as u64).to_le_bytes());
        for (k, s) in kvs {
            v.extend((k.len() as u64).to_le_bytes());
            v.extend(k.as_bytes());
            v.extend(8u32.to_le_bytes());
            v.extend((s.len() as u64).to_le_bytes());
            v.extend(s.as_bytes());
        }
        v
    }

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    const LLAMA3: &str = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

    const MISTRAL: &str = "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}{%- set ns = namespace(found=false) %}{{- bos_token }}{%- for message in loop_messages %}{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif %}{%- if message['role'] == 'user' %}{%- if loop.first and system_message is defined %}{{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}{%- else %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}{%- endif %}{%- set ns.found = true %}{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token}}{%- else %}{{- raise_exception('Only user and assistant roles are supported!') }}{%- endif %}{%- endfor %}{# a comment with __class__ #}{% raw %}{{ ''.__class__ }}{% endraw %}";

    #[test]
    fn corpus() {
        let r = scan_file("malicious/m59_gguf_chat_template_ssti.gguf");
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule == "gguf.template_injection" && f.severity == Severity::Critical)
        );
        for b in [
            "benign/b38_gguf_chatml.gguf",
            "benign/b52_gguf_no_template.gguf",
        ] {
            let r = scan_file(b);
            assert_eq!(r.verdict(), Verdict::Safe, "{b}: {r:?}");
            assert!(r.findings.is_empty(), "{b}: {r:?}");
        }
    }

    #[test]
    fn real_templates_are_clean() {
        for t in [CHATML, LLAMA3, MISTRAL] {
            let r = tpl(t);
            assert!(r.findings.is_empty(), "{t}: {r:?}");
        }
        let mut r = Report::default();
        scan(
            &gguf_with(&[("tokenizer.chat_template", CHATML)]),
            "x",
            &mut r,
        );
        assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");
    }

    #[test]
    fn ssti_gadgets() {
        for t in [
            "{{ ''.__class__.__mro__ }}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ ()|attr('__class__') }}",
            "{{ x['__globals__'] }}",
            "{{ x[ '__cla' ~ 'ss__' ] }}",
            "{% set a = '__cla' %}{{ a }}",
            "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
            "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
            "{{ lipsum|attr('x') }}",
            "{{ namespace.__init__ }}",
            "{{ joiner['x'] }}",
            "{{ self._TemplateReference__context }}",
            "{{ x.mro() }}",
            "{{ os.popen('id').read() }}",
            "{{ ('_' * 2) ~ 'class' ~ ('_' * 2) }}",
            "{{ x|attr(name) }}",
            "{{ '%c%c'|format(95,95) }}",
            "{{ x[\"\\137\\137class\\137\\137\"] }}",
            "{{ x.__class__ }",
        ] {
            let r = tpl(t);
            assert_eq!(r.verdict(), Verdict::Unsafe, "{t}: {r:?}");
        }
        let mut r = Report::default();
        scan(
            &gguf_with(&[
                ("general.name", "x"),
                (
                    "tokenizer.chat_template.tool_use",
                    "{{ ''.__class__.__mro__ }}",
                ),
            ]),
            "x",
            &mut r,
        );
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");
    }

    #[test]
    fn malformed_is_incomplete_and_never_panics() {
        let good = gguf_with(&[("tokenizer.chat_template", CHATML)]);
        for len in 0..good.len() {
            let mut r = Report::default();
            scan(&good[..len], "x", &mut r);
            assert_ne!(r.verdict(), Verdict::Safe, "{len}");
        }
        let mut x = 0x1234_5678_9abc_def1u64;
        for _ in 0..2000 {
            let mut d = good.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % d.len();
                d[i] = (x >> 40) as u8;
            }
            let mut r = Report::default();
            scan(&d, "x", &mut r);
        }
        for t in [
            "{{",
            "{%",
            "{{ '",
            "{{ '\\",
            "{% raw %}",
            "{#",
            "\\x",
            "{{ '\\U0011ffff' }}",
        ] {
            tpl(t);
        }
    }
}
