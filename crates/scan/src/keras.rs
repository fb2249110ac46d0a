//! Keras models: the JSON configuration of Keras 2 HDF5 files (`.h5`, `.hdf5`, legacy `.keras`)
//! and of Keras 3 `.keras` archives (`config.json`, `metadata.json`).
//!
//! Keras runs code while it *deserialises* a configuration, before any weight is read:
//!
//! * a `Lambda` layer carries marshalled Python bytecode (Keras 2: `function: [b64, ...]` with
//!   `function_type: "lambda"`; Keras 3: `{"class_name": "__lambda__", "config": {"code": ...}}`);
//! * Keras 3 imports the `module` of every serialised object and takes `class_name` from it, and
//!   Keras < 3.9 does so even in safe mode (CVE-2025-1550), so `{"module": "os", "class_name":
//!   "function", "config": "system"}` is `os.system`;
//! * a few objects inside Keras itself reach the file system or the network
//!   (`keras.utils.get_file`, CVE-2025-8747; `TFSMLayer`, which loads a whole SavedModel,
//!   CVE-2026-1462).
//!
//! The whole document is walked, not just `config.layers`: sub-models
//! (`config.layers[i].config.layers[j]`), wrappers (`config.layer`, `forward_layer`,
//! `backward_layer`), functional models, losses and metrics of `training_config`, and any other
//! place an object can hide.
//!
//! # Rules
//!
//! | rule | severity | when |
//! |---|---|---|
//! | `keras.lambda` | critical | `class_name` `Lambda` or `__lambda__`, or `function_type: "lambda"` |
//! | `keras.module_reference` | critical | a `module` / `*_module` key naming a module outside the allowlist |
//! | `keras.dangerous_reference` | critical | an object inside Keras that touches files or loads other models (`get_file`, `TFSMLayer`, `load_model`, ...) |
//! | `keras.custom_object` | critical | a `registered_name` `package>name` whose package is not in the allowlist |
//! | `keras.config` | medium | a configuration that is not valid JSON (with the file marked incomplete) |
//! | `keras.hdf5` | — | (incomplete only) an HDF5 file whose root attributes cannot be read |
//!
//! The module allowlist is the Keras family only: `keras`, `tf_keras`, `tf.keras`,
//! `tensorflow.keras`, `keras_hub`, `keras_nlp` and `keras_cv`, each with its sub-modules.
//!
//! # HDF5
//!
//! The root attributes are read with `hdf5-reader` (superblock v0–v3, object headers v1/v2,
//! compact and dense attribute storage). Every string attribute that looks like JSON is walked;
//! `model_config` and `training_config` are what Keras itself reads. A file without them
//! (weights only) has nothing to run. If the file cannot be parsed, it is reported incomplete
//! and the raw bytes are searched for embedded JSON configurations and Lambda markers instead.

use hdf5_reader::messages::datatype::{Datatype, StringSize, VarLenKind};
use hdf5_reader::{Attribute, Hdf5File, OpenOptions};
use serde_json::Value;

use crate::error::Hdf5Error;
use crate::report::{Report, Severity};

/// Deepest JSON nesting walked (serde_json itself stops at 128).
const MAX_DEPTH: usize = 256;
/// Most JSON values visited in one configuration.
const MAX_NODES: usize = 5_000_000;
/// Longest single attribute string decoded from an HDF5 file.
const MAX_ATTR_BYTES: usize = 256 << 20;
/// Most embedded JSON candidates tried by the raw byte search.
const MAX_CANDIDATES: usize = 1024;

/// Module roots a Keras configuration may name (each also with any sub-module).
const ALLOWED_MODULES: &[&str] = &[
    "keras",
    "tf_keras",
    "tf.keras",
    "tensorflow.keras",
    "keras_hub",
    "keras_nlp",
    "keras_cv",
];

/// Objects inside Keras that reach files, the network, or other models.
const DANGEROUS_NAMES: &[&str] = &[
    "get_file",
    "TFSMLayer",
    "load_model",
    "load_weights",
    "load_img",
    "exec",
    "eval",
    "system",
    "popen",
    "__import__",
];

/// Scan an HDF5 file (Keras 2 H5, `.hdf5`, legacy H5 `.keras`).
pub(crate) fn scan(data: &[u8], loc: &str, r: &mut Report) {
    r.format("keras-h5");
    match root_string_attributes(data) {
        Ok(attrs) => {
            for (name, value) in attrs {
                let t = value.trim_start();
                if t.starts_with('{') || t.starts_with('[') {
                    scan_config(&value, &format!("{loc}!attr:{name}"), r);
                }
            }
        }
        Err(why) => {
            // Fail closed, but still report any configuration or Lambda visible in the bytes.
            r.incomplete(
                loc,
                format!("HDF5 root attributes could not be read: {why}"),
            );
            byte_search(data, loc, r);
        }
    }
}

/// The root group's string attributes, as `(name, value)`.
fn root_string_attributes(data: &[u8]) -> Result<Vec<(String, String)>, Hdf5Error> {
    let options = OpenOptions::default()
        .with_chunk_cache_bytes(0)
        .with_max_read_bytes(MAX_ATTR_BYTES)
        .with_max_object_header_bytes(64 << 20);
    let file = Hdf5File::from_bytes_with_options(data, options)?;
    let offset_size = file.superblock().offset_size;
    let root = file.root_group()?;
    let raw = root.raw_attributes()?;
    let mut out = Vec::new();
    for a in raw {
        let (msg, _) = a.into_parts();
        let count = msg.dataspace.num_elements().unwrap_or(0);
        let name = msg.name.clone();
        let values: Vec<String> = match &msg.datatype {
            Datatype::String {
                size: StringSize::Fixed(width),
                ..
            } => {
                let width = *width as usize;
                if width == 0 {
                    continue;
                }
                let attr = Attribute::from_message(msg);
                attr.read_strings().map_err(|source| Hdf5Error::Attribute {
                    name: name.clone(),
                    source,
                })?
            }
            Datatype::String {
                size: StringSize::Variable,
                ..
            }
            | Datatype::VarLen {
                kind: VarLenKind::String,
                ..
            } => {
                // Variable-length strings live in the global heap: decode only scalars and
                // short lists (configurations are scalars), so shared heap objects cannot
                // expand into unbounded memory.
                if count > 64 {
                    continue;
                }
                let attr = Attribute::from_message_with_context(msg, Some(data), offset_size);
                match &attr.decoded_strings {
                    Some(s) => s.clone(),
                    None => match attr.read_vlen_strings(data, offset_size) {
                        Ok(s) => s,
                        Err(_) => {
                            vec![attr.read_string().map_err(|source| Hdf5Error::Attribute {
                                name: name.clone(),
                                source,
                            })?]
                        }
                    },
                }
            }
            _ => continue,
        };
        for v in values {
            if v.len() > MAX_ATTR_BYTES {
                return Err(Hdf5Error::TooLong {
                    name,
                    max: MAX_ATTR_BYTES,
                });
            }
            out.push((name.clone(), v));
        }
    }
    Ok(out)
}

/// Fallback for files the HDF5 reader could not read, or that hold no configuration where
/// Keras looks: search the raw bytes for JSON configurations and for Lambda markers.
fn byte_search(data: &[u8], loc: &str, r: &mut Report) {
    let mut tried = 0usize;
    for start in find_all(data, b"{\"class_name\"")
        .chain(find_all(data, b"{\"module\""))
        .take(MAX_CANDIDATES)
    {
        tried += 1;
        let mut it = serde_json::Deserializer::from_slice(&data[start..]).into_iter::<Value>();
        if let Some(Ok(v)) = it.next() {
            walk_root(&v, &format!("{loc}@{start}"), r);
        }
    }
    if tried >= MAX_CANDIDATES {
        r.incomplete(loc, "too many embedded JSON candidates to check");
    }
    for marker in [
        &b"\"class_name\": \"Lambda\""[..],
        b"\"class_name\":\"Lambda\"",
        b"\"__lambda__\"",
        b"\"function_type\": \"lambda\"",
        b"\"function_type\":\"lambda\"",
    ] {
        if let Some(at) = find_all(data, marker).next() {
            r.add(
                "keras.lambda",
                Severity::Critical,
                &format!("{loc}@{at}"),
                "the file embeds a Keras Lambda layer (serialised Python bytecode runs on load)",
            );
        }
    }
}

fn find_all<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let mut from = 0usize;
    std::iter::from_fn(move || {
        if needle.is_empty() {
            return None;
        }
        let rest = hay.get(from..)?;
        let i = rest.windows(needle.len()).position(|w| w == needle)?;
        let at = from + i;
        from = at + 1;
        Some(at)
    })
}

/// Walk a Keras JSON configuration.
pub(crate) fn scan_config(text: &str, loc: &str, r: &mut Report) {
    r.format("keras-config");
    // serde_json refuses documents nested deeper than 128 levels, so no recursion below can
    // go deeper than that either.
    match serde_json::from_str::<Value>(text) {
        Ok(v) => walk_root(&v, loc, r),
        Err(e) => {
            r.add(
                "keras.config",
                Severity::Medium,
                loc,
                format!("the Keras configuration is not valid JSON: {e}"),
            );
            r.incomplete(loc, format!("Keras configuration is not valid JSON: {e}"));
            // Still look for markers in the text.
            byte_search(text.as_bytes(), loc, r);
        }
    }
}

fn walk_root(v: &Value, loc: &str, r: &mut Report) {
    let mut w = Walker {
        r,
        nodes: 0,
        truncated: false,
    };
    w.walk(v, loc, 0);
    if w.truncated {
        r.incomplete(
            loc,
            "Keras configuration is too large or too deeply nested to walk",
        );
    }
}

struct Walker<'r> {
    r: &'r mut Report,
    nodes: usize,
    truncated: bool,
}

/// Whether `module` is in the Keras family.
fn module_allowed(module: &str) -> bool {
    ALLOWED_MODULES.iter().any(|root| {
        module == *root
            || module
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

fn is_module_key(k: &str) -> bool {
    k == "module" || k.ends_with("_module")
}

impl Walker<'_> {
    fn walk(&mut self, v: &Value, loc: &str, depth: usize) {
        self.nodes += 1;
        if depth > MAX_DEPTH || self.nodes > MAX_NODES {
            self.truncated = true;
            return;
        }
        match v {
            Value::Array(items) => {
                for item in items {
                    self.walk(item, loc, depth + 1);
                }
            }
            Value::Object(map) => {
                let class_name = map.get("class_name").and_then(Value::as_str);
                // Name the location after the layer when this object is one.
                let layer_name = map
                    .get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .or_else(|| map.get("name").and_then(Value::as_str));
                let here = match (class_name, layer_name) {
                    (Some(_), Some(n)) => format!("{loc}!layer:{n}"),
                    (Some(c), None) => format!("{loc}!object:{c}"),
                    _ => loc.to_string(),
                };
                self.object(map, class_name, &here);
                for (_, child) in map {
                    self.walk(child, &here, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn object(
        &mut self,
        map: &serde_json::Map<String, Value>,
        class_name: Option<&str>,
        loc: &str,
    ) {
        match class_name {
            Some("Lambda") => self.r.add(
                "keras.lambda",
                Severity::Critical,
                loc,
                "Lambda layer: Keras deserialises and runs its Python code on load",
            ),
            Some("__lambda__") => self.r.add(
                "keras.lambda",
                Severity::Critical,
                loc,
                "__lambda__ object: marshalled Python bytecode that Keras runs on load",
            ),
            Some("TFSMLayer") => self.r.add(
                "keras.dangerous_reference",
                Severity::Critical,
                loc,
                "TFSMLayer loads and runs an external TensorFlow SavedModel (CVE-2026-1462)",
            ),
            _ => {}
        }
        if map.get("function_type").and_then(Value::as_str) == Some("lambda") {
            self.r.add(
                "keras.lambda",
                Severity::Critical,
                loc,
                "function_type \"lambda\": the layer carries marshalled Python bytecode",
            );
        }
        let target = map.get("config").and_then(Value::as_str);
        for (k, v) in map {
            if !is_module_key(k) {
                continue;
            }
            let Some(module) = v.as_str() else {
                continue;
            };
            let what = match (class_name, target) {
                (Some("function"), Some(f)) => format!("{module}.{f}"),
                (Some(c), _) => format!("{module}.{c}"),
                _ => module.to_string(),
            };
            if !module_allowed(module) {
                self.r.add(
                    "keras.module_reference",
                    Severity::Critical,
                    loc,
                    format!(
                        "`{k}` names module {module:?} outside Keras: loading imports {what} \
                         (CVE-2025-1550)"
                    ),
                );
            }
        }
        let mut names = Vec::new();
        names.extend(class_name);
        if class_name == Some("function") || map.contains_key("module") {
            names.extend(target);
        }
        if let Some(reg) = map.get("registered_name").and_then(Value::as_str) {
            names.push(reg.rsplit('>').next().unwrap_or(reg));
        }
        if let Some(bad) = names.iter().find(|n| DANGEROUS_NAMES.contains(n))
            && *bad != "TFSMLayer"
        {
            self.r.add(
                "keras.dangerous_reference",
                Severity::Critical,
                loc,
                format!("reference to {bad:?}, which reaches files, the network or code"),
            );
        }
        if let Some(reg) = map.get("registered_name").and_then(Value::as_str)
            && let Some((package, _)) = reg.split_once('>')
            && !module_allowed(package)
        {
            self.r.add(
                "keras.custom_object",
                Severity::Critical,
                loc,
                format!(
                    "custom registered object {reg:?}: loading it runs code from package \
                     {package:?}"
                ),
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

    fn config(text: &str) -> Report {
        let mut r = Report::default();
        scan_config(text, "config.json", &mut r);
        r
    }

    fn has(r: &Report, rule: &str) -> bool {
        r.findings
            .iter()
            .any(|f| f.rule == rule && f.severity >= Severity::High)
    }

    #[test]
    fn corpus_h5() {
        for m in [
            "malicious/m51_h5_lambda_toplevel.h5",
            "malicious/m52_h5_lambda_nested_submodel.h5",
            "malicious/m53_hdf5_ext_lambda.hdf5",
        ] {
            let r = scan_file(m);
            assert_eq!(r.verdict(), Verdict::Unsafe, "{m}: {r:?}");
            assert!(has(&r, "keras.lambda"), "{m}: {r:?}");
            assert!(r.incomplete.is_empty(), "{m}: {r:?}");
        }
        for b in [
            "benign/b34_h5_keras_dense.h5",
            "benign/b35_h5_weights_only.h5",
        ] {
            let r = scan_file(b);
            assert_eq!(r.verdict(), Verdict::Safe, "{b}: {r:?}");
        }
    }

    #[test]
    fn nested_submodel_location() {
        let r = scan_file("malicious/m52_h5_lambda_nested_submodel.h5");
        assert!(
            r.findings
                .iter()
                .any(|f| f.location.contains("!layer:inner!layer:lambda")),
            "{r:?}"
        );
    }

    #[test]
    fn lambda_three_levels_deep() {
        let cfg = r#"{"module":"keras","class_name":"Functional","config":{"name":"outer","layers":[
            {"module":"keras.layers","class_name":"Bidirectional","config":{"name":"bi",
              "forward_layer":{"module":"keras","class_name":"Sequential","config":{"name":"mid","layers":[
                {"module":"keras.layers","class_name":"TimeDistributed","config":{"name":"td","layer":
                  {"module":"keras.layers","class_name":"Lambda","config":{"name":"deep","function":
                    {"class_name":"__lambda__","config":{"code":"AAAA"}}}}}}]}}}}]}}"#;
        let r = config(cfg);
        assert_eq!(r.verdict(), Verdict::Unsafe);
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule == "keras.lambda" && f.location.ends_with("!layer:deep"))
        );
    }

    #[test]
    fn module_function_reference() {
        let r = config(
            r#"{"module":"keras.layers","class_name":"Dense","config":{"name":"d","units":1,
            "activation":{"module":"os","class_name":"function","config":"system","registered_name":"system"}}}"#,
        );
        assert!(has(&r, "keras.module_reference"), "{r:?}");
        assert!(r.findings.iter().any(|f| f.message.contains("os.system")));
        // Look-alike roots are not Keras.
        let r = config(r#"{"module":"kerasx.evil","class_name":"X","config":{}}"#);
        assert!(has(&r, "keras.module_reference"));
        let r =
            config(r#"{"module":"keras.src.utils","class_name":"function","config":"get_file"}"#);
        assert!(has(&r, "keras.dangerous_reference"));
        let r =
            config(r#"{"module":"keras.layers","class_name":"TFSMLayer","config":{"name":"t"}}"#);
        assert!(has(&r, "keras.dangerous_reference"));
        let r = config(
            r#"{"module":"keras.layers","class_name":"Dense","config":{"name":"t"},"registered_name":"Custom>Evil"}"#,
        );
        assert!(has(&r, "keras.custom_object"));
        let r = config(
            r#"{"class_name":"Model","config":{"name":"m","layers":[{"class_name":"Lambda","config":{"name":"x","function":["AAA",null,null],"function_type":"lambda","module":"__main__"}}]}}"#,
        );
        assert!(has(&r, "keras.lambda"));
        assert!(has(&r, "keras.module_reference"));
    }

    #[test]
    fn training_config_losses() {
        let r = config(
            r#"{"loss":{"module":"builtins","class_name":"function","config":"eval"},"metrics":["mae"]}"#,
        );
        assert!(has(&r, "keras.module_reference"));
    }

    #[test]
    fn benign_configs() {
        let r = config(
            r#"{"module": "keras", "class_name": "Sequential", "config": {"name": "model", "trainable": true, "layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 4]}, "registered_name": null}, {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 4, "activation": {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "relu"}, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}}, "registered_name": null}]}, "registered_name": null, "build_config": {"input_shape": [null, 4]}}"#,
        );
        assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");
        assert!(r.findings.is_empty(), "{r:?}");
        let r = config(r#"{"keras_version": "3.8.0", "date_saved": "2025-01-01@00:00:00"}"#);
        assert_eq!(r.verdict(), Verdict::Safe);
        let r = config(
            r#"{"module":"keras_hub.src.models","class_name":"GemmaBackbone","config":{"name":"g"},"registered_name":"keras_hub>GemmaBackbone"}"#,
        );
        assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");
    }

    #[test]
    fn invalid_input_is_incomplete_not_safe() {
        let r = config("{\"class_name\": \"Lambda\", ");
        assert_eq!(r.verdict(), Verdict::Unsafe, "markers still count: {r:?}");
        let r = config("not json");
        assert_eq!(r.verdict(), Verdict::Incomplete);
        let deep = "[".repeat(100_000);
        let r = config(&deep);
        assert_eq!(r.verdict(), Verdict::Incomplete);
        let mut r = Report::default();
        scan(b"\x89HDF\r\n\x1a\n garbage", "x.h5", &mut r);
        assert_eq!(r.verdict(), Verdict::Incomplete);
    }

    #[test]
    fn truncated_and_mutated_h5_never_panic() {
        let data = corpus_file("malicious/m52_h5_lambda_nested_submodel.h5");
        for len in (0..data.len()).step_by(97) {
            let mut r = Report::default();
            scan(&data[..len], "t", &mut r);
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..300 {
            let mut d = data.clone();
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % d.len();
                d[i] = (x >> 32) as u8;
            }
            let mut r = Report::default();
            scan(&d, "t", &mut r);
        }
    }
}
