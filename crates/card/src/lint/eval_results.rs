//! The evaluation-results rules (META-010): the card's `model-index`, and the result files under
//! `.eval_results/`.

use serde_json::{Map, Value};

use super::finding::Severity;
use super::linter::{Linter, is_url};

impl Linter<'_> {
    pub(super) fn model_index(&mut self, data: &Map<String, Value>) {
        let Some(mi) = data.get("model-index") else {
            return;
        };
        let Value::Array(models) = mi else {
            self.push(
                "META-010",
                Severity::Error,
                Some("model-index"),
                "\"model-index\" must be an array".into(),
            );
            return;
        };
        let mut errors: Vec<(String, String)> = Vec::new();
        for (i, m) in models.iter().enumerate() {
            let base = format!("model-index[{i}]");
            let Value::Object(m) = m else {
                errors.push((base.clone(), format!("\"{base}\" must be of type object")));
                continue;
            };
            if !m.get("name").is_some_and(Value::is_string) {
                errors.push((
                    format!("{base}.name"),
                    format!("\"{base}.name\" is required"),
                ));
            }
            let Some(Value::Array(results)) = m.get("results") else {
                errors.push((
                    format!("{base}.results"),
                    format!("\"{base}.results\" must be an array"),
                ));
                continue;
            };
            for (j, r) in results.iter().enumerate() {
                let rb = format!("{base}.results[{j}]");
                let Value::Object(r) = r else {
                    errors.push((rb.clone(), format!("\"{rb}\" must be of type object")));
                    continue;
                };
                require_obj_str(r, "task", &["type"], &rb, &mut errors);
                require_obj_str(r, "dataset", &["type", "name"], &rb, &mut errors);
                if let Some(Value::Object(ds)) = r.get("dataset") {
                    for k in ["config", "split", "revision"] {
                        if let Some(v) = ds.get(k)
                            && !v.is_string()
                        {
                            errors.push((
                                format!("{rb}.dataset.{k}"),
                                format!("\"{rb}.dataset.{k}\" must be a string"),
                            ));
                        }
                    }
                }
                match r.get("metrics") {
                    Some(Value::Array(ms)) => {
                        for (k, mt) in ms.iter().enumerate() {
                            let mb = format!("{rb}.metrics[{k}]");
                            match mt {
                                Value::Object(mt) => {
                                    if !mt.get("type").is_some_and(Value::is_string) {
                                        errors.push((
                                            format!("{mb}.type"),
                                            format!("\"{mb}.type\" is required"),
                                        ));
                                    }
                                    if mt.get("value").is_none_or(Value::is_null) {
                                        errors.push((
                                            format!("{mb}.value"),
                                            format!("\"{mb}.value\" is required"),
                                        ));
                                    }
                                }
                                _ => errors
                                    .push((mb.clone(), format!("\"{mb}\" must be of type object"))),
                            }
                        }
                    }
                    _ => errors.push((
                        format!("{rb}.metrics"),
                        format!("\"{rb}.metrics\" must be an array"),
                    )),
                }
                if let Some(src) = r.get("source") {
                    match src {
                        Value::Object(s)
                            if s.get("url").and_then(Value::as_str).is_some_and(is_url) => {}
                        Value::Object(_) => errors.push((
                            format!("{rb}.source.url"),
                            format!(
                                "\"{rb}.source.url\" is required (a URL) when \"source\" is given"
                            ),
                        )),
                        _ => errors.push((
                            format!("{rb}.source"),
                            format!("\"{rb}.source\" must be of type object"),
                        )),
                    }
                }
            }
        }
        for (path, msg) in errors {
            self.push("META-010", Severity::Error, Some(&path), msg);
        }
    }

    pub(super) fn eval_results(&mut self) {
        let Some(files) = self.opts.files else { return };
        for e in files.entries() {
            if !(e.path.starts_with(".eval_results/")
                && (e.path.ends_with(".yaml") || e.path.ends_with(".yml")))
            {
                continue;
            }
            let Some(text) = files.text(&e.path) else {
                continue;
            };
            let v: Value = match serde_yaml_ng::from_str(&text) {
                Ok(v) => v,
                Err(err) => {
                    self.at(
                        "META-010",
                        Severity::Error,
                        None,
                        format!("{}: invalid YAML: {err}", e.path),
                    );
                    continue;
                }
            };
            let items = match v {
                Value::Array(a) => a,
                other => vec![other],
            };
            for (i, item) in items.iter().enumerate() {
                let p = format!("{}[{i}]", e.path);
                let ds = &item["dataset"];
                for k in ["id", "task_id"] {
                    if !ds[k].is_string() {
                        self.at(
                            "META-010",
                            Severity::Error,
                            None,
                            format!("{p}: \"dataset.{k}\" is required"),
                        );
                    }
                }
                if item.get("value").is_none_or(Value::is_null) {
                    self.at(
                        "META-010",
                        Severity::Error,
                        None,
                        format!("{p}: \"value\" is required"),
                    );
                }
                if let Some(src) = item.get("source")
                    && !src["url"].as_str().is_some_and(is_url)
                {
                    self.at(
                        "META-010",
                        Severity::Error,
                        None,
                        format!("{p}: \"source.url\" is required when \"source\" is given"),
                    );
                }
            }
        }
    }
}

fn require_obj_str(
    r: &Map<String, Value>,
    key: &str,
    fields: &[&str],
    base: &str,
    errors: &mut Vec<(String, String)>,
) {
    match r.get(key) {
        Some(Value::Object(o)) => {
            for f in fields {
                match o.get(*f) {
                    Some(Value::String(_)) => {}
                    None | Some(Value::Null) => errors.push((
                        format!("{base}.{key}.{f}"),
                        format!("\"{base}.{key}.{f}\" is required"),
                    )),
                    Some(_) => errors.push((
                        format!("{base}.{key}.{f}"),
                        format!("\"{base}.{key}.{f}\" must be a string"),
                    )),
                }
            }
        }
        _ => errors.push((
            format!("{base}.{key}"),
            format!("\"{base}.{key}\" is required"),
        )),
    }
}
