//! `wh card new`: write a model card skeleton (`weighhouse_card::skeleton`) filled in from the
//! folder's weights and `config.json`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use weighhouse_card::skeleton::{self, ConfigFacts, Facts, WeightFacts};
use weighhouse_card::{Card, Dir, Files, gate, licenses, lint};
use weighhouse_formats::Checkpoint;
use weighhouse_formats::safetensors::StagedFile;
use weighhouse_integrity::fingerprint;

use crate::UserError;
use crate::cli::CardNewArgs;
use crate::printer::Printer;

/// Run `wh card new`.
pub fn run(args: CardNewArgs, printer: &Printer) -> Result<ExitCode> {
    let dir = &args.path;
    if !dir.is_dir() {
        return Err(UserError(format!("{} is not a folder", dir.display())).into());
    }
    let out = args.output.clone().unwrap_or_else(|| dir.join("README.md"));
    if out.exists() && !args.force {
        return Err(UserError(format!(
            "{} exists: pass --force to replace it",
            out.display()
        ))
        .into());
    }
    if let Some(l) = &args.license
        && licenses::get(l).is_none()
    {
        let hint = if licenses::get(&l.to_ascii_lowercase()).is_some() {
            format!(" (licence ids are lowercase: {})", l.to_ascii_lowercase())
        } else {
            String::new()
        };
        return Err(UserError(format!(
            "--license {l} is not a Hub licence id{hint}; e.g. apache-2.0, mit, cc-by-4.0, or other"
        ))
        .into());
    }
    let listing = Dir::open(dir).with_context(|| format!("listing {}", dir.display()))?;
    let facts = gather(dir, &listing, &args, printer)?;
    let text = skeleton::render(&facts);

    let mut staged = StagedFile::create(&out, true)
        .with_context(|| format!("creating a file beside {}", out.display()))?;
    staged.writer().write_all(text.as_bytes())?;
    staged
        .commit()
        .with_context(|| format!("writing {}", out.display()))?;

    let card = Card::parse(&text);
    let report = lint::lint(
        &card,
        &lint::Options {
            files: Some(&listing as &dyn Files),
            ..lint::Options::default()
        },
    );
    let placeholders = text.matches(lint::PLACEHOLDER).count();
    if printer.json() {
        printer.data(
            &json!({
                "path": out.display().to_string(),
                "bytes": text.len(),
                "placeholders": placeholders,
                "lint": {
                    "errors": report.errors,
                    "policy": report.policy,
                    "warnings": report.warnings,
                },
                "facts": facts,
            })
            .to_string(),
        )?;
    } else {
        printer.data(&format!(
            "wrote {} ({} placeholders to fill; `wh card lint` lists them)",
            out.display(),
            placeholders
        ))?;
        for f in report
            .findings
            .iter()
            .filter(|f| f.severity >= lint::Severity::Policy)
        {
            printer.note(&format!(
                "{} {}: {}",
                f.severity.as_str(),
                f.rule,
                f.message
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Weight files the card lists: readable formats, outside training checkpoint folders.
fn is_weight_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let (dirs, name) = lower.rsplit_once('/').unwrap_or(("", lower.as_str()));
    let in_checkpoint = dirs.split('/').any(|d| {
        let rest = d
            .strip_prefix("checkpoint")
            .or_else(|| d.strip_prefix("global_step"));
        rest.is_some_and(|r| {
            r.trim_start_matches(['-', '_'])
                .starts_with(|c: char| c.is_ascii_digit())
        })
    });
    if in_checkpoint || name.starts_with("optimizer") || name == "training_args.bin" {
        return false;
    }
    let ext = name.rsplit_once('.').map(|x| x.1).unwrap_or("");
    match ext {
        "safetensors" | "gguf" | "pt" | "pth" | "ckpt" | "npz" | "onnx" | "h5" | "keras" => true,
        "bin" => name.contains("model"),
        _ => false,
    }
}

fn merge(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, n) in from {
        *into.entry(k.clone()).or_default() += n;
    }
}

fn gather(dir: &Path, listing: &Dir, args: &CardNewArgs, printer: &Printer) -> Result<Facts> {
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());

    let license = match &args.license {
        Some(l) => Some(l.clone()),
        None => {
            let found = gate::LICENSE_FILES.iter().find_map(|f| {
                listing
                    .text(f)
                    .and_then(|t| lint::detect_license(&t))
                    .map(|id| (*f, id))
            });
            match found {
                Some((f, id)) => {
                    printer.note(&format!("licence {id}: read from {f}"));
                    Some(id.to_string())
                }
                None => {
                    printer.note(
                        "no --license and no recognisable licence file: the card has no licence yet",
                    );
                    None
                }
            }
        }
    };

    let config = match listing.text("config.json") {
        Some(t) => match serde_json::from_str::<Value>(&t) {
            Ok(v) => Some(ConfigFacts::from_json(&v)),
            Err(e) => {
                printer.note(&format!("config.json is not JSON ({e}); left out"));
                None
            }
        },
        None => None,
    };

    // Each weight file on its own.
    let mut weights = Vec::new();
    for e in listing.entries() {
        if !is_weight_file(&e.path) {
            continue;
        }
        let mut w = WeightFacts {
            path: e.path.clone(),
            bytes: e.size,
            ..WeightFacts::default()
        };
        match Checkpoint::open(dir.join(&e.path)) {
            Ok(ck) => {
                w.format = ck.format.name().to_string();
                w.tensors = ck.tensors.len() as u64;
                w.parameters = ck.parameters();
                for t in &ck.tensors {
                    *w.dtypes.entry(t.dtype.name().to_string()).or_default() += 1;
                }
            }
            Err(err) => {
                w.format = e.path.rsplit_once('.').map_or("", |x| x.1).to_string();
                w.error = Some(err.source.to_string());
                printer.note(&format!("{}: not read: {err}", e.path));
            }
        }
        weights.push(w);
    }
    let total_bytes = weights.iter().map(|w| w.bytes).sum();

    // The folder as one checkpoint (shards joined, the preferred format when there are several):
    // the totals and the fingerprint.
    let mut facts = Facts {
        name,
        license,
        weights,
        total_bytes,
        ..Facts::default()
    };
    match Checkpoint::open(dir) {
        Ok(ck) => {
            facts.format = Some(ck.format.name().to_string());
            facts.parameters = Some(ck.parameters());
            facts.tensors = Some(ck.tensors.len() as u64);
            for t in &ck.tensors {
                *facts.dtypes.entry(t.dtype.name().to_string()).or_default() += 1;
            }
            if !args.no_fingerprint && !ck.tensors.is_empty() {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                match fingerprint::of_checkpoint(&ck, &dir.display().to_string(), threads) {
                    Ok(fp) => {
                        facts.fingerprint = Some(fp.exact);
                        facts.fingerprint_f32 = Some(fp.f32);
                    }
                    Err(e) => printer.note(&format!("no fingerprint: {e}")),
                }
            }
        }
        Err(e) => {
            // Weights only in subfolders (diffusers), or files that do not combine (several GGUF
            // quantisations): count the safetensors files, else the largest file.
            let read: Vec<&WeightFacts> =
                facts.weights.iter().filter(|w| w.error.is_none()).collect();
            let st: Vec<&WeightFacts> = read
                .iter()
                .copied()
                .filter(|w| w.format == "safetensors")
                .collect();
            let chosen: Vec<&WeightFacts> = if !st.is_empty() {
                st
            } else {
                read.iter()
                    .copied()
                    .max_by_key(|w| w.parameters)
                    .into_iter()
                    .collect()
            };
            if !chosen.is_empty() {
                facts.parameters = Some(chosen.iter().map(|w| w.parameters).sum());
                facts.tensors = Some(chosen.iter().map(|w| w.tensors).sum());
                let mut dtypes = BTreeMap::new();
                for w in &chosen {
                    merge(&mut dtypes, &w.dtypes);
                }
                facts.dtypes = dtypes;
            }
            if !facts.weights.is_empty() {
                printer.note(&format!(
                    "the folder does not read as one checkpoint ({e}); totals count {}",
                    if chosen.len() > 1 {
                        "its safetensors files"
                    } else {
                        "one file"
                    }
                ));
            }
        }
    }

    // Front matter.
    let has_gguf = facts.weights.iter().any(|w| w.format == "gguf");
    let diffusers = listing
        .text("model_index.json")
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|v| v.get("_diffusers_version").is_some());
    facts.library_name = if config
        .as_ref()
        .is_some_and(|c| !c.architectures.is_empty() || c.transformers_version.is_some())
    {
        Some("transformers".into())
    } else if diffusers {
        Some("diffusers".into())
    } else if has_gguf {
        Some("gguf".into())
    } else {
        None
    };
    if let Some(c) = &config {
        facts.pipeline_tag = skeleton::pipeline_tag_for(&c.architectures).map(str::to_string);
        facts.base_model = c
            .name_or_path
            .as_deref()
            .and_then(skeleton::base_model_from);
    }
    let mut tags: Vec<String> = Vec::new();
    for w in &facts.weights {
        if w.error.is_none()
            && (w.format == "safetensors" || w.format == "gguf")
            && !tags.contains(&w.format)
        {
            tags.push(w.format.clone());
        }
    }
    if let Some(t) = config.as_ref().and_then(|c| c.model_type.clone())
        && !tags.contains(&t)
    {
        tags.push(t);
    }
    facts.tags = tags;
    facts.config = config;
    Ok(facts)
}
