//! `wh fingerprint`: a digest of the weights themselves (see `weighhouse_integrity::fingerprint`).

use std::process::ExitCode;

use serde_json::json;
use weighhouse_integrity::fingerprint::{self, FingerprintError};

use crate::cli::FingerprintArgs;
use crate::printer::Printer;

pub fn run(args: FingerprintArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let fp = match fingerprint::of_path(&args.path, threads) {
        Ok(fp) => fp,
        Err(FingerprintError::Format(e)) => return Err(e.into()),
        Err(e @ FingerprintError::Empty(_)) => return Err(crate::UserError(e.to_string()).into()),
    };
    if printer.json() {
        printer.data(
            &json!({
                "path": args.path.display().to_string(),
                "fingerprint": fp.exact,
                "fingerprint_f32": fp.f32,
                "tensors": fp.tensors,
                "distinct_tensors": fp.distinct,
                "parameters": fp.parameters,
                "not_widened": fp.not_widened,
            })
            .to_string(),
        )?;
    } else {
        printer.data(&fp.exact)?;
        printer.data(&format!("f32: {}", fp.f32))?;
        printer.data(&format!(
            "tensors: {} ({} distinct), parameters: {}",
            fp.tensors, fp.distinct, fp.parameters
        ))?;
        if !fp.not_widened.is_empty() {
            printer.note(&format!("note: {} tensors have a dtype without an f32 widening and enter the f32 variant as stored", fp.not_widened.len()));
        }
    }
    Ok(ExitCode::SUCCESS)
}
