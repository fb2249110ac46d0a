//! `wh hash`, `wh sign`, `wh verify`: OpenSSF Model Signing manifests and bundles.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use weighhouse_integrity::keys::{SigningKey, VerifyingKey};
use weighhouse_integrity::manifest::{self, Manifest, Options};
use weighhouse_integrity::oms::{self, Signer, Trust, VerifyError, VerifyOptions};

use crate::UserError;
use crate::cli::{CoverageArgs, HashArgs, SignArgs, VerifyArgs};
use crate::printer::Printer;

/// Model-relative ignore paths: absolute paths and paths that exist from the current folder are
/// made relative to the model; anything else is taken as model-relative already.
fn coverage(model: &Path, args: &CoverageArgs) -> Result<Options, UserError> {
    let mut ignore = Vec::new();
    for p in &args.ignore_path {
        let rel = if p.is_absolute() || p.exists() {
            manifest::relative_to_model(model, p)
        } else {
            None
        };
        let rel = match rel {
            Some(r) => r,
            None if p.is_absolute() => {
                return Err(UserError(format!(
                    "--ignore-path {} is not inside the model {}",
                    p.display(),
                    model.display()
                )));
            }
            None => p
                .to_str()
                .ok_or_else(|| UserError(format!("--ignore-path {} is not UTF-8", p.display())))?
                .to_string(),
        };
        ignore.push(rel);
    }
    Ok(Options {
        ignore,
        ignore_git: !args.no_ignore_git_paths,
        allow_symlinks: args.allow_symlinks,
    })
}

fn default_signature(model: &Path) -> PathBuf {
    if model.is_dir() {
        model.join("model.sig")
    } else {
        let mut name = model
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".sig");
        model.with_file_name(name)
    }
}

fn read_text(path: &Path, what: &str) -> Result<String, UserError> {
    std::fs::read_to_string(path)
        .map_err(|e| UserError(format!("cannot read the {what} {}: {e}", path.display())))
}

fn manifest_json(path: &Path, m: &Manifest) -> serde_json::Value {
    json!({
        "path": path.display().to_string(),
        "root": hex::encode(m.root()),
        "algorithm": "sha256",
        "files": m.resources.iter().map(|r| json!({"name": r.name, "digest": hex::encode(r.digest), "size": r.size})).collect::<Vec<_>>(),
    })
}

fn input_error(e: weighhouse_integrity::Error) -> anyhow::Error {
    match e {
        weighhouse_integrity::Error::Io { .. } => anyhow::Error::new(e),
        other => UserError(other.to_string()).into(),
    }
}

pub fn hash(args: HashArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let opts = coverage(&args.path, &args.coverage)?;
    let entries = manifest::enumerate(&args.path, &opts).map_err(input_error)?;
    let total = entries.iter().map(|e| e.size).sum();
    let bar = printer.bytes_bar(total, "hashing");
    let m = manifest::hash_entries(&entries, manifest::default_threads(), &|n| bar.inc(n))
        .map_err(input_error)?;
    bar.finish_and_clear();
    if printer.json() {
        printer.data(&serde_json::to_string_pretty(&manifest_json(
            &args.path, &m,
        ))?)?;
    } else {
        let mut out = std::io::stdout().lock();
        for r in &m.resources {
            writeln!(out, "{}  {}", hex::encode(r.digest), r.name)?;
        }
        writeln!(out, "root sha256:{}", hex::encode(m.root()))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn sign(args: SignArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if !args.model.exists() {
        return Err(UserError(format!("{}: no such file or folder", args.model.display())).into());
    }
    let key_text = read_text(&args.private_key, "private key")?;
    let key = SigningKey::from_pem(&key_text, args.password.as_deref())
        .map_err(|e| UserError(format!("{}: {e}", args.private_key.display())))?;
    let signer = match &args.certificate {
        None => Signer::Key(key),
        Some(cert) => {
            let mut chain = oms::certificates_from_pem(&read_text(cert, "certificate")?)
                .map_err(|e| UserError(format!("{}: {e}", cert.display())))?;
            chain.truncate(1);
            oms::check_certificate_matches(&key, &chain[0])
                .map_err(|e| UserError(format!("{}: {e}", cert.display())))?;
            for c in &args.certificate_chain {
                chain.extend(
                    oms::certificates_from_pem(&read_text(c, "certificate chain")?)
                        .map_err(|e| UserError(format!("{}: {e}", c.display())))?,
                );
            }
            Signer::Certificate { key, chain }
        }
    };
    let signature = args
        .signature
        .clone()
        .unwrap_or_else(|| default_signature(&args.model));
    let opts = coverage(&args.model, &args.coverage)?;
    let total = manifest::enumerate(&args.model, &opts)
        .map_err(input_error)?
        .iter()
        .map(|e| e.size)
        .sum();
    let bar = printer.bytes_bar(total, "hashing");
    let signed = oms::sign(
        &args.model,
        &signature,
        &signer,
        &opts,
        manifest::default_threads(),
        &|n| bar.inc(n),
    )
    .map_err(input_error)?;
    bar.finish_and_clear();
    write_atomically(&signature, signed.bundle.as_bytes())?;
    let root = hex::encode(signed.manifest.root());
    if printer.json() {
        printer.data(&json!({"signature": signature.display().to_string(), "root": root, "files": signed.manifest.resources.len(), "bytes": signed.manifest.total_size()}).to_string())?;
    } else {
        printer.data(&format!(
            "signed {} files ({} bytes), root sha256:{root}",
            signed.manifest.resources.len(),
            signed.manifest.total_size()
        ))?;
        printer.data(&format!("signature written to {}", signature.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Write next to the target and rename, so a reader never sees half a signature.
fn write_atomically(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.sig".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing the signature {}", path.display()))
}

pub fn verify(args: VerifyArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if !args.model.exists() {
        return Err(UserError(format!("{}: no such file or folder", args.model.display())).into());
    }
    let trust = match &args.public_key {
        Some(p) => Trust::Key(
            VerifyingKey::from_pem(&read_text(p, "public key")?)
                .map_err(|e| UserError(format!("{}: {e}", p.display())))?,
        ),
        None => {
            let mut roots = Vec::new();
            for c in &args.certificate_chain {
                roots.extend(
                    oms::certificates_from_pem(&read_text(c, "certificate chain")?)
                        .map_err(|e| UserError(format!("{}: {e}", c.display())))?,
                );
            }
            Trust::Roots(roots)
        }
    };
    let signature = args
        .signature
        .clone()
        .unwrap_or_else(|| default_signature(&args.model));
    let fail = |msg: String| -> anyhow::Result<ExitCode> {
        if printer.json() {
            printer.data(&json!({"valid": false, "error": msg}).to_string())?;
        }
        eprintln!("verification failed: {msg}");
        Ok(ExitCode::from(1))
    };
    let bundle = match std::fs::read_to_string(&signature) {
        Ok(b) => b,
        Err(e) => {
            return fail(format!(
                "cannot read the signature {}: {e}",
                signature.display()
            ));
        }
    };
    let opts = VerifyOptions {
        manifest: coverage(&args.model, &args.coverage)?,
        ignore_unsigned: args.ignore_unsigned_files,
    };
    let bar = printer.bytes_bar(0, "hashing");
    let result = oms::verify(
        &args.model,
        &bundle,
        &signature,
        &trust,
        &opts,
        manifest::default_threads(),
        &|n| {
            bar.inc_length(n);
            bar.inc(n)
        },
    );
    bar.finish_and_clear();
    match result {
        Ok(v) => {
            if printer.json() {
                printer.data(&json!({"valid": true, "root": v.root, "signer": v.signer, "files": v.manifest.resources.len()}).to_string())?;
            } else {
                printer.data(&format!(
                    "verified: {} files, root sha256:{}, signed by {}",
                    v.manifest.resources.len(),
                    v.root,
                    v.signer
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::Local(e)) => match e {
            weighhouse_integrity::Error::Io { .. } => Err(e.into()),
            other => fail(other.to_string()),
        },
        Err(e) => fail(e.to_string()),
    }
}
