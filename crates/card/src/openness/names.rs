//! What file names and branch or tag names show: how a weight file is stored, training state
//! and checkpoint folders, intermediate-checkpoint refs, and quantisation in names and tags.

/// How a weight file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WeightFormat {
    Safetensors,
    Gguf,
    Pickle,
    Other,
}

/// Training-state files that are pickles but not weights.
pub(super) fn is_training_state(name: &str) -> bool {
    name == "training_args.bin"
        || name.starts_with("optimizer.")
        || name.starts_with("scheduler.")
        || name.starts_with("scaler.")
        || name.starts_with("rng_state")
}

pub(super) fn weight_format(lower_name: &str) -> Option<WeightFormat> {
    let ext = lower_name.rsplit_once('.').map(|x| x.1)?;
    if is_training_state(lower_name) {
        return None;
    }
    match ext {
        "safetensors" => Some(WeightFormat::Safetensors),
        "gguf" => Some(WeightFormat::Gguf),
        "bin" | "pt" | "pth" | "ckpt" | "pkl" | "pickle" => Some(WeightFormat::Pickle),
        "onnx" | "h5" | "keras" | "msgpack" | "npz" | "tflite" | "mlmodel" | "ot" => {
            Some(WeightFormat::Other)
        }
        _ => None,
    }
}

pub(super) fn is_pickle(lower_name: &str) -> bool {
    [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"]
        .iter()
        .any(|x| lower_name.ends_with(x))
}

/// A folder name of a training checkpoint: `checkpoint-500`, `step1000`, `global_step20`,
/// `iter_0001000`, `epoch-3`.
pub(super) fn is_checkpoint_dir(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let digits_after = |p: &str| {
        n.strip_prefix(p)
            .map(|r| r.trim_start_matches(['-', '_']))
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    };
    ["checkpoint", "ckpt", "step", "global_step", "iter", "epoch"]
        .iter()
        .any(|p| digits_after(p))
}

/// A branch or tag that names an intermediate checkpoint (`step1000-tokens4B`, `checkpoint-500`,
/// `stage1-step2000`).
pub(super) fn is_step_ref(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.split(['-', '_', '/', '.']).any(is_checkpoint_dir) || is_checkpoint_dir(&n)
}

/// A GGUF quantisation type in a file name (`model-Q4_K_M.gguf` → `Q4_K_M`).
pub(super) fn quant_in_name(name: &str) -> Option<String> {
    let up = name.to_ascii_uppercase();
    let stem = up.strip_suffix(".GGUF").unwrap_or(&up);
    let b = stem.as_bytes();
    for i in 0..b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if !boundary {
            continue;
        }
        let rest = &stem[i..];
        let after = rest
            .strip_prefix("IQ")
            .or_else(|| rest.strip_prefix("TQ"))
            .or_else(|| rest.strip_prefix('Q'));
        if let Some(a) = after
            && a.starts_with(|c: char| c.is_ascii_digit())
            && a[1..].starts_with(['_', 'K'])
        {
            let end = rest.find(['.', '-']).unwrap_or(rest.len());
            return Some(rest[..end].to_string());
        }
    }
    None
}

/// Words in tags or names that show a quantised form.
const QUANT_WORDS: &[&str] = &[
    "gguf",
    "ggml",
    "gptq",
    "awq",
    "exl2",
    "bnb",
    "bitsandbytes",
    "4bit",
    "8bit",
    "int4",
    "int8",
    "fp8",
    "nf4",
    "w4a16",
    "w8a8",
    "quantized",
    "quantised",
    "quant",
];

/// Whether tags or a name show a quantised form (`gguf`, `4-bit`, `Q4_K_M`, ...).
pub(super) fn shows_quant(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    if t.contains("4-bit") || t.contains("8-bit") || quant_in_name(&t).is_some() {
        return true;
    }
    t.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| QUANT_WORDS.contains(&w) || w.starts_with("quantiz") || w.starts_with("quantis"))
}
