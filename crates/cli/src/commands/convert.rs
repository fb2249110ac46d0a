//! `wh convert`: any readable checkpoint to safetensors, byte for byte unless a dtype is asked for,
//! sharded with an index the way `transformers` writes large models.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use weighhouse_formats::safetensors::{
    OutTensor, StagedFile, header_bytes, index_json, plan_shards, sort_for_alignment,
};
use weighhouse_formats::{Checkpoint, DType, DataKey, Format, TensorView};
use weighhouse_ops::convert::{ConvertingWriter, encode_f32};
use weighhouse_ops::dequant::{dequantize, is_supported};

use crate::UserError;
use crate::cli::{ConvertArgs, TargetDType};
use crate::printer::Printer;
use weighhouse_tensor::units::{human_bytes, parse_size};

/// What happens to one tensor on the way out.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Bytes copied as they are.
    Copy,
    /// Floating-point conversion.
    Convert(DType),
    /// ggml blocks dequantised to the target.
    Dequantize(DType),
}

/// Run `wh convert`.
pub fn run(args: ConvertArgs, printer: &Printer) -> Result<ExitCode> {
    let max_shard = parse_size(&args.max_shard_size).map_err(UserError)?;
    let ck = Checkpoint::open(&args.src)?;
    let target = args.dtype.map(|d| match d {
        TargetDType::F32 => DType::F32,
        TargetDType::F16 => DType::F16,
        TargetDType::Bf16 => DType::BF16,
    });

    // A tied weight (one storage under several names) is stored once, under its first name; the
    // others are recorded in the metadata as `{removed: kept}`, as safetensors' `save_model`
    // does, so that loaders can tie them again.
    let mut first_of: HashMap<DataKey, usize> = HashMap::new();
    let mut tied: Vec<(String, String)> = Vec::new();
    let mut outs = Vec::with_capacity(ck.tensors.len());
    for (i, t) in ck.tensors.iter().enumerate() {
        if t.byte_len() > 0
            && let Some(&k) = first_of.get(&t.data_key())
        {
            tied.push((t.name.clone(), ck.tensors[k].name.clone()));
            continue;
        }
        first_of.insert(t.data_key(), i);
        let (dtype, plan) = plan_for(t, target)?;
        outs.push((
            OutTensor {
                name: t.name.clone(),
                dtype,
                shape: t.shape.clone(),
            },
            i,
            plan,
        ));
    }
    sort_for_alignment(&mut outs, |o| o.0.dtype);
    let order: Vec<OutTensor> = outs.iter().map(|o| o.0.clone()).collect();
    let shards = plan_shards(&order, max_shard).map_err(|e| UserError(e.to_string()))?;

    let (dir, stem) = output_location(&args.dst)?;
    if let Some(ext) = args.dst.extension().and_then(|e| e.to_str())
        && ext != "safetensors"
        && !args.dst.is_dir()
    {
        printer.note(&format!(
            "warning: {} ends in .{ext}, but wh convert writes safetensors: it is taken as a folder \
             and {stem}.safetensors is written inside it (name the output *.safetensors to write \
             that one file)",
            args.dst.display()
        ));
    }
    let n = shards.len();
    let names: Vec<String> = if n == 1 {
        vec![format!("{stem}.safetensors")]
    } else {
        (1..=n)
            .map(|k| format!("{stem}-{k:05}-of-{n:05}.safetensors"))
            .collect()
    };
    let index_name = format!("{stem}.safetensors.index.json");
    for name in names.iter().chain((n > 1).then_some(&index_name)) {
        let p = dir.join(name);
        if p.exists() && !args.force {
            return Err(UserError(format!(
                "{} exists; pass --force to replace it",
                p.display()
            ))
            .into());
        }
        for src in ck.files() {
            if same_file(src, &p) {
                return Err(UserError(format!("{} is also an input file", p.display())).into());
            }
        }
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let mut metadata = output_metadata(&ck);
    for (removed, kept) in &tied {
        metadata
            .entry(removed.clone())
            .or_insert_with(|| kept.clone().into());
    }
    let total: u64 = order
        .iter()
        .map(|t| weighhouse_tensor::byte_len(t.dtype, &t.shape).unwrap_or(0))
        .sum();
    let bar = printer.bytes_bar(total, "converting");
    let mut staged = Vec::with_capacity(n);
    let mut weight_map = Vec::new();
    for (shard, name) in shards.iter().zip(&names) {
        let tensors: Vec<OutTensor> = shard.iter().map(|&k| order[k].clone()).collect();
        let mut file = StagedFile::create(&dir.join(name), args.sync)
            .with_context(|| format!("creating {}", dir.join(name).display()))?;
        file.writer()
            .write_all(&header_bytes(&tensors, &metadata).map_err(|e| UserError(e.to_string()))?)?;
        for &k in shard {
            let (out, src_index, plan) = &outs[k];
            write_tensor(&ck, &ck.tensors[*src_index], *plan, &mut file)?;
            bar.inc(weighhouse_tensor::byte_len(out.dtype, &out.shape).unwrap_or(0));
            weight_map.push((out.name.clone(), name.clone()));
        }
        staged.push(file.finish()?);
    }
    bar.finish_and_clear();
    // Every shard is complete: move them into place, the index last.
    for (tmp, dst) in &staged {
        fs::rename(tmp, dst).with_context(|| format!("moving {} into place", dst.display()))?;
    }
    if args.sync {
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", dir.display()))?;
    }
    if n > 1 {
        let mut index = StagedFile::create(&dir.join(&index_name), args.sync)?;
        index.writer().write_all(&index_json(total, &weight_map))?;
        index.commit()?;
    }
    let written: Vec<PathBuf> = names.iter().map(|name| dir.join(name)).collect();
    let index = (n > 1).then(|| dir.join(&index_name));
    if printer.json() {
        let files: Vec<serde_json::Value> = shards
            .iter()
            .zip(&written)
            .map(|(shard, path)| {
                let bytes: u64 = shard
                    .iter()
                    .map(|&k| {
                        weighhouse_tensor::byte_len(order[k].dtype, &order[k].shape).unwrap_or(0)
                    })
                    .sum();
                json!({"path": path, "tensors": shard.len(), "bytes": bytes})
            })
            .collect();
        printer.json_value(&json!({
            "source": args.src,
            "files": files,
            "index": index,
            "tensors": order.len(),
            "bytes": total,
            "tied": tied.iter().map(|(removed, kept)| json!({"name": removed, "stored_as": kept})).collect::<Vec<_>>(),
            "left_out": ck.other.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if !tied.is_empty() {
        printer.note(&format!(
            "note: {} tied tensor{} stored once: {}",
            tied.len(),
            if tied.len() == 1 { "" } else { "s" },
            list_some(
                tied.iter()
                    .map(|(removed, kept)| format!("{removed} = {kept}"))
            )
        ));
    }
    if !ck.other.is_empty() {
        printer.note(&format!(
            "note: {} non-tensor value{} ({}) cannot be stored in safetensors and were left out",
            ck.other.len(),
            if ck.other.len() == 1 { "" } else { "s" },
            list_some(ck.other.iter().map(|o| o.name.clone()))
        ));
    }
    let place = match &index {
        None => written[0].display().to_string(),
        Some(index) => format!(
            "{} files {} … {} with the index {}",
            n,
            written[0].display(),
            names[n - 1],
            index.display()
        ),
    };
    printer.note(&format!(
        "wrote {} tensors, {}, to {place}",
        order.len(),
        human_bytes(total),
    ));
    Ok(ExitCode::SUCCESS)
}

/// The first five items, then `...` when there are more.
fn list_some(items: impl ExactSizeIterator<Item = String>) -> String {
    let n = items.len();
    let mut shown: Vec<String> = items.take(5).collect();
    if n > shown.len() {
        shown.push("...".into());
    }
    shown.join(", ")
}

fn plan_for(t: &TensorView, target: Option<DType>) -> Result<(DType, Plan)> {
    match (t.dtype, target) {
        (DType::Ggml(_), None) => Err(UserError(format!(
            "tensor {:?} is quantised ({}); safetensors has no quantised dtypes, so pass --dtype f32, f16 or bf16 to dequantise it",
            t.name, t.dtype
        ))
        .into()),
        (DType::Ggml(_), Some(_)) if !is_supported(t.dtype) => Err(UserError(format!(
            "tensor {:?}: dequantising {} is not supported",
            t.name, t.dtype
        ))
        .into()),
        (DType::Ggml(_), Some(to)) => Ok((to, Plan::Dequantize(to))),
        (d, _) if !d.in_safetensors() => {
            Err(UserError(format!("tensor {:?} has dtype {d}, which safetensors cannot store", t.name)).into())
        }
        (d, Some(to)) if d.is_float() && d != to => Ok((to, Plan::Convert(to))),
        (d, _) => Ok((d, Plan::Copy)),
    }
}

fn write_tensor(ck: &Checkpoint, t: &TensorView, plan: Plan, file: &mut StagedFile) -> Result<()> {
    match plan {
        Plan::Copy => {
            // Straight from the source file to the output file, so the kernel can copy it.
            ck.copy_tensor_to(t, file.file()?)?;
        }
        Plan::Convert(to) => {
            let mut w = ConvertingWriter::new(file.writer(), t.dtype, to)?;
            ck.copy_tensor_to(t, &mut w)?;
            w.finish()?;
        }
        Plan::Dequantize(to) => {
            let bytes = ck.tensor_bytes(t)?;
            let DType::Ggml(block) = t.dtype else {
                return Err(UserError(format!("tensor {:?} is not quantised", t.name)).into());
            };
            // A few thousand blocks at a time keeps memory bounded whatever the tensor's size.
            let step = usize::try_from(block.block_bytes()).unwrap_or(1).max(1) * 4096;
            let mut values = Vec::new();
            let mut buf = Vec::new();
            for chunk in bytes.chunks(step) {
                values.clear();
                buf.clear();
                dequantize(t.dtype, chunk, &mut values)
                    .map_err(|e| UserError(format!("tensor {:?}: {e}", t.name)))?;
                for &v in &values {
                    encode_f32(to, v, &mut buf);
                }
                file.writer().write_all(&buf)?;
            }
        }
    }
    Ok(())
}

/// `{"format": "pt"}` as `transformers` expects, plus the source's own safetensors metadata.
fn output_metadata(ck: &Checkpoint) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    if ck.format == Format::Safetensors {
        for (k, v) in &ck.metadata {
            if v.is_string() {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    let fmt = match ck.format {
        Format::TensorFlow | Format::KerasH5 | Format::KerasWeightsH5 | Format::Keras => "tf",
        Format::Npy | Format::Npz => "np",
        _ => "pt",
    };
    m.entry("format").or_insert_with(|| fmt.into());
    m
}

/// The folder and file stem of the output: a `.safetensors` path names a file, anything else a
/// folder that gets `model.safetensors`.
fn output_location(dst: &Path) -> Result<(PathBuf, String)> {
    let is_file = dst.extension().is_some_and(|e| e == "safetensors") && !dst.is_dir();
    if is_file {
        let dir = dst
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let stem = dst
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Ok((dir, stem))
    } else {
        Ok((dst.to_owned(), "model".into()))
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
