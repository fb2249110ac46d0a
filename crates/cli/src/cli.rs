//! Command-line arguments. Types here hold flags only; each flag's doc comment is its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Weighhouse: inspect, convert, check and share open weights.
#[derive(Debug, Parser)]
#[command(name = "wh", version, about, propagate_version = true)]
pub struct Cli {
    /// Print no progress bars or notes on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the tensors of checkpoints in any supported format (reads headers, not weights).
    Inspect(InspectArgs),
    /// Convert any readable checkpoint to safetensors.
    Convert(ConvertArgs),
}

/// `wh inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Checkpoint files, model folders, sharded `*.index.json` files or TensorFlow prefixes.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

    /// Print one JSON object per path on stdout instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Also compute the SHA-256 of every tensor's bytes (row-major, contiguous, little-endian).
    #[arg(long)]
    pub digests: bool,
}

/// A dtype `wh convert` can convert floating-point tensors to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetDType {
    /// 32-bit float.
    F32,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    Bf16,
}

/// `wh convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The checkpoint to convert: a file, a folder, a sharded index or a TensorFlow prefix.
    pub src: PathBuf,

    /// Output: a `.safetensors` file path, or a folder (which gets `model.safetensors`).
    pub dst: PathBuf,

    /// Convert floating-point tensors to this dtype (rounding to nearest even); quantised GGUF
    /// tensors are dequantised. Integer and boolean tensors are kept as they are.
    #[arg(long, value_enum)]
    pub dtype: Option<TargetDType>,

    /// Largest shard, e.g. `5GB`, `500MB`, `2GiB`, or a byte count. Larger outputs are split into
    /// `model-00001-of-0000N.safetensors` files with a `model.safetensors.index.json`.
    #[arg(long, default_value = "5GB")]
    pub max_shard_size: String,

    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,

    /// Sync every output file to disk before moving it into place, so the result survives a
    /// power loss (slower: the whole output is written through to the disk before returning).
    #[arg(long)]
    pub sync: bool,
}
