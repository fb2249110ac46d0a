//! ONNX models: every tensor's external-data `location` and every node's operator domain.
//!
//! The `ModelProto` is walked by hand over the protobuf wire format, with the format readers'
//! decoder ([`weighhouse_formats::proto`], which the SavedModel scanner uses too): the main
//! graph, the graphs of `training_info`, every subgraph held in a node attribute
//! (`If`/`Loop`/`Scan` bodies, at any depth up to [`MAX_GRAPH_DEPTH`]), and the model-local
//! functions. Every `TensorProto` met on the way
//! (initializers, sparse initializers, `Constant` values, tensor attributes) is checked.
//!
//! # Rules
//!
//! | rule | severity | when |
//! |---|---|---|
//! | `onnx.external_data_escape` | critical | an external-data `location` that is absolute, has a `..` component (with `/` or `\` as separator), a drive letter or a NUL, or a URL scheme: `onnx.load` / onnxruntime would read a file outside the model's folder (CVE-2024-27318, CVE-2022-25882) |
//! | `onnx.external_data` | info | a tensor whose data lives in another file (inside the folder) |
//! | `onnx.external_data_missing_location` | medium | `data_location = EXTERNAL` without a `location` |
//! | `onnx.custom_op` | high | an `ai.onnx.contrib` Python operator (`PyOp`, onnxruntime-extensions) |
//! | `onnx.custom_op` | medium | a node in a domain that is neither standard ONNX, nor onnxruntime's (`com.microsoft*`), nor a function defined in the model |
//! | `onnx.custom_op` | info | a node in an onnxruntime contrib domain (`com.microsoft*`) |
//! | `onnx.protobuf` | — | (incomplete only) the protobuf is malformed or nested too deeply |

use std::collections::HashSet;

use weighhouse_formats::proto::{Fields, Wire};

use crate::error::OnnxError;
use crate::report::{Report, Severity};

/// Deepest nesting of graphs inside node attributes.
pub(crate) const MAX_GRAPH_DEPTH: usize = 64;

/// Whether `data` looks like an ONNX `ModelProto` (well-formed fields of the right wire types,
/// an `ir_version` and a `graph`): the format reader's own test.
pub(crate) fn looks_like(data: &[u8]) -> bool {
    weighhouse_formats::onnx::looks_like_onnx(data, &weighhouse_formats::Limits::default())
}

/// Scan an ONNX model.
pub(crate) fn scan(data: &[u8], loc: &str, r: &mut Report) {
    r.format("onnx");
    let mut s = Scanner {
        r,
        local_domains: HashSet::new(),
    };
    if let Err(why) = s.model(data, loc) {
        s.r.incomplete(loc, format!("ONNX: {why}"));
    }
}

struct Scanner<'r> {
    r: &'r mut Report,
    /// `(domain, name)` of the model's own functions.
    local_domains: HashSet<String>,
}

/// Domains of standard ONNX operators.
const STANDARD_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
];

/// Why an external-data location escapes the model's folder, if it does.
pub(crate) fn location_escape(location: &str) -> Option<&'static str> {
    if location.contains('\0') {
        return Some("contains a NUL byte");
    }
    if location.starts_with('/') || location.starts_with('\\') {
        return Some("is an absolute path");
    }
    let b = location.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Some("starts with a drive letter");
    }
    if location
        .split(['/', '\\'])
        .any(|c| c.trim_end_matches([' ', '.']).is_empty() && c.contains(".."))
    {
        return Some("has a `..` component");
    }
    if location.contains("://") {
        return Some("is a URL");
    }
    if location.starts_with('~') {
        return Some("starts with `~` (a home directory)");
    }
    None
}

impl Scanner<'_> {
    fn model(&mut self, data: &[u8], loc: &str) -> Result<(), OnnxError> {
        let mut graphs = Vec::new();
        let mut functions = Vec::new();
        for f in Fields::new(data) {
            let (n, v) = f?;
            match (n, v) {
                (7, Wire::Len(g)) => graphs.push((g, format!("{loc}!graph"))),
                (20, Wire::Len(t)) => {
                    for f in Fields::new(t) {
                        if let (1 | 2, Wire::Len(g)) = f? {
                            graphs.push((g, format!("{loc}!training_info")));
                        }
                    }
                }
                (25, Wire::Len(func)) => functions.push(func),
                _ => {}
            }
        }
        // Model-local functions first, so their domains count as defined.
        for func in &functions {
            for f in Fields::new(func) {
                if let (10, Wire::Len(d)) = f? {
                    self.local_domains
                        .insert(String::from_utf8_lossy(d).into_owned());
                }
            }
        }
        for (g, l) in graphs {
            self.graph(g, &l, 0)?;
        }
        for func in functions {
            let mut name = String::new();
            for f in Fields::new(func) {
                if let (1, Wire::Len(b)) = f? {
                    name = String::from_utf8_lossy(b).into_owned();
                }
            }
            let l = format!("{loc}!function:{name}");
            for f in Fields::new(func) {
                match f? {
                    (7, Wire::Len(node)) => self.node(node, &l, 0)?,
                    (11, Wire::Len(attr)) => self.attribute(attr, &l, 0)?,
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn graph(&mut self, g: &[u8], loc: &str, depth: usize) -> Result<(), OnnxError> {
        if depth > MAX_GRAPH_DEPTH {
            return Err(OnnxError::GraphsTooDeep(MAX_GRAPH_DEPTH));
        }
        for f in Fields::new(g) {
            match f? {
                (1, Wire::Len(node)) => self.node(node, loc, depth)?,
                (5, Wire::Len(t)) => self.tensor(t, &format!("{loc}!initializer"))?,
                (15, Wire::Len(st)) => self.sparse(st, &format!("{loc}!initializer"))?,
                _ => {}
            }
        }
        Ok(())
    }

    fn node(&mut self, node: &[u8], loc: &str, depth: usize) -> Result<(), OnnxError> {
        let mut name = String::new();
        let mut op = String::new();
        let mut domain = String::new();
        let mut attrs = Vec::new();
        for f in Fields::new(node) {
            match f? {
                (3, Wire::Len(b)) => name = String::from_utf8_lossy(b).into_owned(),
                (4, Wire::Len(b)) => op = String::from_utf8_lossy(b).into_owned(),
                (7, Wire::Len(b)) => domain = String::from_utf8_lossy(b).into_owned(),
                (5, Wire::Len(a)) => attrs.push(a),
                _ => {}
            }
        }
        let here = if name.is_empty() {
            format!("{loc}!node:{op}")
        } else {
            format!("{loc}!node:{name}")
        };
        self.domain(&domain, &op, &here);
        for a in attrs {
            self.attribute(a, &here, depth)?;
        }
        Ok(())
    }

    fn domain(&mut self, domain: &str, op: &str, loc: &str) {
        if STANDARD_DOMAINS.contains(&domain) || self.local_domains.contains(domain) {
            return;
        }
        if domain == "ai.onnx.contrib" && (op.starts_with("Py") || op.contains("PyOp")) {
            self.r.add(
                "onnx.custom_op",
                Severity::High,
                loc,
                format!("{domain}::{op} is an onnxruntime-extensions Python operator: it runs Python code"),
            );
        } else if domain == "com.microsoft"
            || domain.starts_with("com.microsoft.")
            || domain == "com.ms.internal.nhwc"
        {
            self.r.add(
                "onnx.custom_op",
                Severity::Info,
                loc,
                format!("{domain}::{op} is an onnxruntime contrib operator"),
            );
        } else {
            self.r.add(
                "onnx.custom_op",
                Severity::Medium,
                loc,
                format!("{domain}::{op} is a custom operator: it needs code outside ONNX to run"),
            );
        }
    }

    fn attribute(&mut self, a: &[u8], loc: &str, depth: usize) -> Result<(), OnnxError> {
        let mut name = String::new();
        for f in Fields::new(a) {
            if let (1, Wire::Len(b)) = f? {
                name = String::from_utf8_lossy(b).into_owned();
            }
        }
        let here = format!("{loc}!attr:{name}");
        for f in Fields::new(a) {
            match f? {
                (5 | 10, Wire::Len(t)) => self.tensor(t, &here)?,
                (6 | 11, Wire::Len(g)) => self.graph(g, &here, depth + 1)?,
                (22 | 23, Wire::Len(st)) => self.sparse(st, &here)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn sparse(&mut self, st: &[u8], loc: &str) -> Result<(), OnnxError> {
        for f in Fields::new(st) {
            if let (1 | 2, Wire::Len(t)) = f? {
                self.tensor(t, loc)?;
            }
        }
        Ok(())
    }

    fn tensor(&mut self, t: &[u8], loc: &str) -> Result<(), OnnxError> {
        let mut name = String::new();
        let mut external = false;
        let mut locations = Vec::new();
        for f in Fields::new(t) {
            match f? {
                (8, Wire::Len(b)) => name = String::from_utf8_lossy(b).into_owned(),
                (14, Wire::Varint(1)) => external = true,
                (13, Wire::Len(entry)) => {
                    let mut key = None;
                    let mut value = None;
                    for f in Fields::new(entry) {
                        match f? {
                            (1, Wire::Len(k)) => key = Some(k),
                            (2, Wire::Len(v)) => value = Some(v),
                            _ => {}
                        }
                    }
                    if key == Some(b"location") {
                        locations
                            .push(String::from_utf8_lossy(value.unwrap_or_default()).into_owned());
                    }
                }
                _ => {}
            }
        }
        let here = format!("{loc}!tensor:{name}");
        for l in &locations {
            if let Some(why) = location_escape(l) {
                self.r.add(
                    "onnx.external_data_escape",
                    Severity::Critical,
                    &here,
                    format!("external_data location {l:?} {why}: the loader reads a file outside the model's folder"),
                );
            } else {
                self.r.add(
                    "onnx.external_data",
                    Severity::Info,
                    &here,
                    format!("tensor data is read from the external file {l:?}"),
                );
            }
        }
        if external && locations.is_empty() {
            self.r.add(
                "onnx.external_data_missing_location",
                Severity::Medium,
                &here,
                "data_location is EXTERNAL but no location is given",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use crate::testutil::{corpus_file, fl, fv};

    fn scan_bytes(b: &[u8]) -> Report {
        let mut r = Report::default();
        scan(b, "m.onnx", &mut r);
        r
    }

    fn ext_tensor(name: &str, location: &str) -> Vec<u8> {
        let entry = [fl(1, b"location"), fl(2, location.as_bytes())].concat();
        [
            fv(1, 2),
            fv(2, 1),
            fl(8, name.as_bytes()),
            fl(13, &entry),
            fv(14, 1),
        ]
        .concat()
    }
    fn model(graph: &[u8]) -> Vec<u8> {
        [
            fv(1, 8),
            fl(7, graph),
            fl(8, &[fl(1, b""), fv(2, 17)].concat()),
        ]
        .concat()
    }
    fn node(op: &str, domain: &str, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut n = [
            fl(1, b"x"),
            fl(2, b"y"),
            fl(4, op.as_bytes()),
            fl(7, domain.as_bytes()),
        ]
        .concat();
        for a in attrs {
            n.extend(fl(5, a));
        }
        n
    }

    #[test]
    fn corpus() {
        let b = corpus_file("malicious/m60_onnx_external_data_traversal.onnx");
        assert!(looks_like(&b));
        let r = scan_bytes(&b);
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule == "onnx.external_data_escape")
        );
        let b = corpus_file("benign/b39_onnx_matmul.onnx");
        assert!(looks_like(&b));
        let r = scan_bytes(&b);
        assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");
        assert!(r.findings.is_empty(), "{r:?}");
    }

    #[test]
    fn traversal_locations() {
        for l in [
            "../../etc/passwd",
            "/etc/passwd",
            "C:\\Windows\\win.ini",
            "a\\..\\..\\b",
            "a/../../b",
            "x\0y",
            "\\\\server\\share",
            "file:///etc/passwd",
            "c:x",
        ] {
            let r = scan_bytes(&model(&fl(5, &ext_tensor("W", l))));
            assert_eq!(r.verdict(), Verdict::Unsafe, "{l:?}: {r:?}");
        }
        for l in ["weights.bin", "data/w.bin", "a..b.bin", "..data"] {
            let r = scan_bytes(&model(&fl(5, &ext_tensor("W", l))));
            assert_eq!(r.verdict(), Verdict::Safe, "{l:?}: {r:?}");
        }
    }

    #[test]
    fn nested_subgraph_and_function() {
        // If node whose then_branch holds a Constant whose value tensor escapes.
        let inner_const = node(
            "Constant",
            "",
            &[[
                fl(1, b"value"),
                fl(5, &ext_tensor("c", "../../../etc/shadow")),
                fv(20, 4),
            ]
            .concat()],
        );
        let inner_graph = [fl(1, &inner_const), fl(2, b"then")].concat();
        let if_node = node(
            "If",
            "",
            &[[fl(1, b"then_branch"), fl(6, &inner_graph), fv(20, 5)].concat()],
        );
        let r = scan_bytes(&model(&fl(1, &if_node)));
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");
        assert!(r.findings[0].location.contains("then_branch"));

        let func = [
            fl(1, b"f"),
            fl(10, b"my.domain"),
            fl(
                7,
                &node(
                    "Constant",
                    "",
                    &[[fl(1, b"value"), fl(5, &ext_tensor("c", "/abs")), fv(20, 4)].concat()],
                ),
            ),
        ]
        .concat();
        let m = [model(&fl(1, &node("f", "my.domain", &[]))), fl(25, &func)].concat();
        let r = scan_bytes(&m);
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");
        assert!(
            !r.findings.iter().any(|f| f.rule == "onnx.custom_op"),
            "{r:?}"
        );
    }

    #[test]
    fn custom_domains() {
        let r = scan_bytes(&model(&fl(1, &node("PyOp", "ai.onnx.contrib", &[]))));
        assert_eq!(r.verdict(), Verdict::Unsafe);
        let r = scan_bytes(&model(&fl(1, &node("Thing", "acme.ops", &[]))));
        assert_eq!(r.max_severity(), Some(Severity::Medium));
        assert_eq!(r.verdict(), Verdict::Safe);
        let r = scan_bytes(&model(&fl(1, &node("FusedMatMul", "com.microsoft", &[]))));
        assert_eq!(r.max_severity(), Some(Severity::Info));
    }

    #[test]
    fn deep_nesting_is_bounded_and_malformed_is_incomplete() {
        let mut g = fl(1, &node("Relu", "", &[]));
        for _ in 0..200 {
            let n = node("If", "", &[[fl(1, b"b"), fl(6, &g)].concat()]);
            g = fl(1, &n);
        }
        let r = scan_bytes(&model(&g));
        assert_eq!(r.verdict(), Verdict::Incomplete);
        let good = model(&fl(5, &ext_tensor("W", "w.bin")));
        for len in 0..good.len() {
            let _ = scan_bytes(&good[..len]);
        }
        let r = scan_bytes(&[0xff, 0xff, 0xff]);
        assert_eq!(r.verdict(), Verdict::Incomplete);
    }
}
