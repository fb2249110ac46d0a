//! `wh inspect`: list tensors (name, dtype, shape, parameters, bytes) of any checkpoint.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weighhouse_formats::{Checkpoint, TensorView};

use crate::cli::InspectArgs;
use crate::printer::Printer;
use weighhouse_tensor::units::{human_bytes, human_count};

/// Run `wh inspect`.
pub fn run(args: InspectArgs, printer: &Printer) -> Result<ExitCode> {
    let mut failed = false;
    for path in &args.paths {
        let ck = match Checkpoint::open(path) {
            Ok(ck) => ck,
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                continue;
            }
        };
        let digests = if args.digests {
            Some(digests(&ck, printer)?)
        } else {
            None
        };
        if printer.json() {
            printer.data(&serde_json::to_string(&to_json(&ck, digests.as_deref()))?)?;
        } else {
            print_table(&ck, digests.as_deref(), printer)?;
        }
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of every tensor, spread over the machine's cores.
fn digests(ck: &Checkpoint, printer: &Printer) -> Result<Vec<String>> {
    let total: u64 = ck.tensors.iter().map(TensorView::byte_len).sum();
    let bar = printer.bytes_bar(total, "hashing");
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(ck.tensors.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<String>> = vec![None; ck.tensors.len()];
    let results: Vec<Result<Vec<(usize, String)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<Vec<(usize, String)>> {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(t) = ck.tensors.get(i) else { break };
                        let bytes = ck.tensor_bytes(t)?;
                        let mut h = Sha256::new();
                        for chunk in bytes.chunks(8 << 20) {
                            h.update(chunk);
                            bar.inc(chunk.len() as u64);
                        }
                        mine.push((i, hex(&h.finalize())));
                    }
                    Ok(mine)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("hashing thread panicked")))
            })
            .collect()
    });
    bar.finish_and_clear();
    for r in results {
        for (i, d) in r? {
            out[i] = Some(d);
        }
    }
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

fn to_json(ck: &Checkpoint, digests: Option<&[String]>) -> Value {
    let tensors: Vec<Value> = ck
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut o = json!({
                "name": t.name,
                "dtype": t.dtype.name(),
                "shape": t.shape,
                "bytes": t.byte_len(),
                "file": ck.file_of(t).display().to_string(),
            });
            if let (Some(d), Some(map)) = (digests, o.as_object_mut()) {
                map.insert("sha256".into(), Value::String(d[i].clone()));
            }
            o
        })
        .collect();
    let other: Vec<Value> = ck
        .other
        .iter()
        .map(|o| json!({"name": o.name, "value": o.value}))
        .collect();
    json!({
        "path": ck.path.display().to_string(),
        "format": ck.format.name(),
        "parameters": ck.parameters(),
        "metadata": ck.metadata,
        "tensors": tensors,
        "other": other,
    })
}

fn print_table(ck: &Checkpoint, digests: Option<&[String]>, printer: &Printer) -> Result<()> {
    printer.data(&format!(
        "{}  ({}, {} tensors, {} files)",
        ck.path.display(),
        ck.format,
        ck.tensors.len(),
        ck.files().count()
    ))?;
    let shape = |t: &TensorView| {
        format!(
            "[{}]",
            t.shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let name_w = ck
        .tensors
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    let shape_w = ck
        .tensors
        .iter()
        .map(|t| shape(t).len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut header = format!(
        "{:<name_w$}  {:<8}  {:<shape_w$}  {:>12}  {:>10}",
        "name", "dtype", "shape", "parameters", "bytes"
    );
    if digests.is_some() {
        header.push_str("  sha256");
    }
    printer.data(&header)?;
    let mut per_dtype: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for (i, t) in ck.tensors.iter().enumerate() {
        let mut line = format!(
            "{:<name_w$}  {:<8}  {:<shape_w$}  {:>12}  {:>10}",
            t.name,
            t.dtype.name(),
            shape(t),
            t.num_elements(),
            human_bytes(t.byte_len())
        );
        if let Some(d) = digests {
            line.push_str("  ");
            line.push_str(&d[i]);
        }
        printer.data(&line)?;
        let e = per_dtype.entry(t.dtype.name()).or_default();
        e.0 += 1;
        e.1 += t.num_elements();
        e.2 += t.byte_len();
    }
    printer.data("")?;
    for (dtype, (n, params, bytes)) in &per_dtype {
        printer.data(&format!(
            "{dtype:<8} {n:>7} tensors  {:>10} parameters  {:>10}",
            human_count(*params),
            human_bytes(*bytes)
        ))?;
    }
    let total_bytes: u64 = ck.tensors.iter().map(TensorView::byte_len).sum();
    printer.data(&format!(
        "total    {:>7} tensors  {:>10} parameters  {:>10}  ({} parameters)",
        ck.tensors.len(),
        human_count(ck.parameters()),
        human_bytes(total_bytes),
        ck.parameters()
    ))?;
    if !ck.metadata.is_empty() {
        printer.data(&format!(
            "metadata: {} entries (see --json)",
            ck.metadata.len()
        ))?;
    }
    for o in &ck.other {
        let v = o.value.to_string();
        let v = if v.len() > 80 {
            format!("{}…", &v[..v.floor_char_boundary(80)])
        } else {
            v
        };
        printer.data(&format!("other: {} = {v}", o.name))?;
    }
    printer.data("")?;
    Ok(())
}
