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

    /// Print results as JSON on stdout, for scripts (`wh inspect` prints one object per line, one
    /// per path; every other command one document).
    #[arg(long, global = true)]
    pub json: bool,

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
    /// The OpenSSF Model Signing SHA-256 manifest of a model folder or file, and its root digest.
    Hash(HashArgs),
    /// Sign a model: write an OpenSSF Model Signing bundle (`model_signing` compatible).
    Sign(SignArgs),
    /// Verify a model against its OpenSSF Model Signing bundle; exit 1 if it does not hold.
    Verify(VerifyArgs),
    /// A digest of the weights themselves, independent of format, sharding and metadata.
    Fingerprint(FingerprintArgs),
    /// Look for code-execution payloads in model files (never executes them).
    Scan(ScanArgs),
    /// Run the hub: an open-weights hub that Hugging Face clients use via `HF_ENDPOINT`.
    Serve(ServeArgs),
    /// Manage the hub's users, organisations, tokens and audit log (on its data folder).
    Admin(AdminArgs),
    /// Model cards: check one against the card rules, or write a new one from the weights.
    #[command(subcommand)]
    Card(CardCommand),
    /// Licences: what a derived model may be licensed as, given its parents.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Evaluate the Open Weight Definition, the OSI Open Source AI Definition and the Model
    /// Openness Framework classes from a repository's files and metadata.
    Openness(OpennessArgs),
    /// Gated repositories on a hub: request access, see its status, and (as a repo admin)
    /// list, approve, reject or grant requests.
    #[command(subcommand)]
    Access(AccessCommand),
}

/// Where a hub is and who is calling it.
#[derive(Debug, Args, Clone)]
pub struct RemoteArgs {
    /// The hub's URL (or set WH_ENDPOINT or HF_ENDPOINT).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Access token (or set WH_TOKEN or HF_TOKEN).
    #[arg(long, hide_env_values = true)]
    pub token: Option<String>,

    /// The repository type.
    #[arg(long = "repo-type", default_value = "model", value_parser = ["model", "dataset", "space"])]
    pub repo_type: String,

    /// The revision (branch, tag or commit) to read.
    #[arg(long, default_value = "main")]
    pub revision: String,
}

/// `wh card` subcommands.
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Check a model card (YAML front matter and Markdown sections) against the card rules;
    /// exit 1 when there is an error-level finding.
    Lint(CardLintArgs),
    /// Write a model card skeleton with the recommended sections, filled in from the weights and
    /// `config.json`.
    New(CardNewArgs),
}

/// `wh card lint`.
#[derive(Debug, Args)]
pub struct CardLintArgs {
    /// A model folder, a README.md, or (with --endpoint) a repository id on a hub.
    pub path: String,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `wh card new`.
#[derive(Debug, Args)]
pub struct CardNewArgs {
    /// The model folder; the card is written to PATH/README.md.
    pub path: PathBuf,

    /// Write the card here instead of PATH/README.md.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace an existing card.
    #[arg(long)]
    pub force: bool,

    /// The licence id to declare (a Hub licence id).
    #[arg(long)]
    pub license: Option<String>,

    /// Skip the weights fingerprint (it reads every tensor).
    #[arg(long)]
    pub no_fingerprint: bool,
}

/// `wh license` subcommands.
#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Resolve the licence of a model and of each of its `base_model`s and check that the
    /// declared licence is allowed for the derivation; exit 1 when it is not.
    Check(LicenseCheckArgs),
}

/// `wh license check`.
#[derive(Debug, Args)]
pub struct LicenseCheckArgs {
    /// A model folder, a README.md, or (with --endpoint) a repository id on a hub.
    pub path: String,

    #[command(flatten)]
    pub remote: RemoteArgs,

    /// A parent's licence, given directly: `ID=LICENSE` (e.g. `acme/base=apache-2.0`). Repeatable;
    /// takes precedence over the hub and --parents.
    #[arg(long = "parent", value_name = "ID=LICENSE")]
    pub parents: Vec<String>,

    /// A folder holding parent models as `NAMESPACE/NAME/README.md`.
    #[arg(long = "parents-dir", value_name = "DIR")]
    pub parents_dir: Option<PathBuf>,

    /// The relation to the parents, overriding the card's `base_model_relation`.
    #[arg(long, value_parser = ["finetune", "adapter", "merge", "quantized", "distillation", "trained-on-outputs"])]
    pub relation: Option<String>,

    /// The model's published name, for naming duties [default: the repo name, the card's
    /// model-index name, or the folder name].
    #[arg(long)]
    pub name: Option<String>,

    /// Also fail (exit 1) on unmet notice and attribution duties and on findings that need review.
    #[arg(long)]
    pub strict: bool,
}

/// `wh openness`.
#[derive(Debug, Args)]
pub struct OpennessArgs {
    /// A model folder, or (with --endpoint) a repository id on a hub.
    pub path: String,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `wh access` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Show a gated repository's agreement and request access; asks for explicit confirmation.
    Request(AccessRequestArgs),
    /// Your access status for a repository.
    Status(AccessRepoArgs),
    /// List access requests of a repository you administer.
    List(AccessListArgs),
    /// Approve a user's request.
    Approve(AccessUserArgs),
    /// Reject a user's request.
    Reject(AccessRejectArgs),
    /// Grant a user access without a request.
    Grant(AccessUserArgs),
    /// Put a user's request back to pending.
    Cancel(AccessUserArgs),
}

/// A repository on a hub.
#[derive(Debug, Args)]
pub struct AccessRepoArgs {
    /// The repository id (`namespace/name`).
    pub repo: String,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `wh access request`.
#[derive(Debug, Args)]
pub struct AccessRequestArgs {
    /// The repository id (`namespace/name`).
    pub repo: String,

    #[command(flatten)]
    pub remote: RemoteArgs,

    /// An answer to a form field: `LABEL=VALUE`. Repeatable; missing answers are asked for.
    #[arg(long = "field", value_name = "LABEL=VALUE")]
    pub fields: Vec<String>,

    /// Accept without the prompt, but only the agreement with this SHA-256 (as printed by a
    /// previous run); for scripts, and recorded in the audit log.
    #[arg(long = "i-accept", value_name = "SHA256")]
    pub i_accept: Option<String>,
}

/// `wh access list`.
#[derive(Debug, Args)]
pub struct AccessListArgs {
    /// The repository id (`namespace/name`).
    pub repo: String,

    #[command(flatten)]
    pub remote: RemoteArgs,

    /// Which requests.
    #[arg(long, default_value = "pending", value_parser = ["pending", "accepted", "rejected"])]
    pub status: String,
}

/// A user of a repository's access list.
#[derive(Debug, Args)]
pub struct AccessUserArgs {
    /// The repository id (`namespace/name`).
    pub repo: String,

    /// The user.
    pub user: String,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `wh access reject`.
#[derive(Debug, Args)]
pub struct AccessRejectArgs {
    /// The repository id (`namespace/name`).
    pub repo: String,

    /// The user.
    pub user: String,

    /// Why (shown to the user; at most 200 characters).
    #[arg(long)]
    pub reason: Option<String>,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Which files of a model a manifest covers.
#[derive(Debug, Args, Clone)]
pub struct CoverageArgs {
    /// Leave out this file or folder (relative to the model, or a path inside it). Repeatable.
    #[arg(
        long = "ignore-path",
        alias = "ignore-paths",
        alias = "ignore_paths",
        value_name = "P"
    )]
    pub ignore_path: Vec<PathBuf>,

    /// Cover `.git`, `.gitattributes`, `.github` and `.gitignore` at the model root too (they are
    /// left out by default, as `model_signing` does).
    #[arg(long, alias = "no_ignore_git_paths")]
    pub no_ignore_git_paths: bool,

    /// Hash the files symbolic links point to (links to folders are skipped) instead of refusing
    /// links.
    #[arg(long, alias = "allow_symlinks")]
    pub allow_symlinks: bool,
}

/// `wh hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// A model folder or a single file.
    pub path: PathBuf,

    #[command(flatten)]
    pub coverage: CoverageArgs,
}

/// `wh sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The model folder (or single file) to sign.
    pub model: PathBuf,

    /// EC private key (P-256, P-384 or P-521), PEM: PKCS#8, SEC1, or encrypted PKCS#8.
    #[arg(long, alias = "private_key", value_name = "KEY.pem")]
    pub private_key: PathBuf,

    /// Password of an encrypted private key (or set WH_KEY_PASSWORD).
    #[arg(long, env = "WH_KEY_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// Where to write the bundle [default: MODEL/model.sig, or FILE.sig for a single file].
    #[arg(long, value_name = "PATH")]
    pub signature: Option<PathBuf>,

    /// Sign with this certificate (its key must be the private key); the bundle carries it.
    #[arg(
        long,
        alias = "signing_certificate",
        alias = "signing-certificate",
        value_name = "CERT.pem"
    )]
    pub certificate: Option<PathBuf>,

    /// Intermediate certificates to include after the signing certificate. Repeatable.
    #[arg(
        long,
        alias = "certificate_chain",
        value_name = "CHAIN.pem",
        requires = "certificate"
    )]
    pub certificate_chain: Vec<PathBuf>,

    #[command(flatten)]
    pub coverage: CoverageArgs,
}

/// `wh verify`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("trust").required(true).args(["public_key", "certificate_chain"]))]
pub struct VerifyArgs {
    /// The model folder (or single file) to check.
    pub model: PathBuf,

    /// The signer's public key (PEM).
    #[arg(long, alias = "public_key", value_name = "KEY.pub.pem")]
    pub public_key: Option<PathBuf>,

    /// Trusted certificates (PEM) the bundle's certificate chain must lead to. Repeatable.
    #[arg(long, alias = "certificate_chain", value_name = "ROOT.pem")]
    pub certificate_chain: Vec<PathBuf>,

    /// The bundle [default: MODEL/model.sig, or FILE.sig for a single file].
    #[arg(long, value_name = "PATH")]
    pub signature: Option<PathBuf>,

    /// Check only the files the signature names; other files in the model are fine.
    #[arg(long, alias = "ignore_unsigned_files")]
    pub ignore_unsigned_files: bool,

    #[command(flatten)]
    pub coverage: CoverageArgs,
}

/// `wh fingerprint`.
#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// A checkpoint: file, folder, sharded index or TensorFlow prefix.
    pub path: PathBuf,
}

/// A severity threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// `wh scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders (folders are scanned recursively, every file by its content).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

    /// Print SARIF 2.1 (for code-scanning tools) instead of text or JSON.
    #[arg(long)]
    pub sarif: bool,

    /// Exit 1 when a finding is at or above this severity (or a file could not be read completely).
    #[arg(long, value_enum, default_value = "high")]
    pub fail_on: SeverityArg,

    /// Accept only what `torch.load(weights_only=True)` accepts (no compatibility profile).
    #[arg(long)]
    pub strict: bool,
}

/// `wh serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data folder: the SQLite database and the blob store. Created if missing.
    #[arg(long, env = "WH_DATA", default_value = "weighhouse-data")]
    pub data: PathBuf,

    /// Address and port to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "WH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,

    /// The URL clients reach the hub by, when it differs from the request's `Host` (behind a
    /// proxy that rewrites it).
    #[arg(long, env = "WH_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Entries per page of tree listings.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub page_size: u32,

    /// Part size of multipart LFS uploads (larger files are uploaded in parts).
    #[arg(long, default_value = "16MiB")]
    pub lfs_part_size: String,

    /// Do not sync uploaded files to disk before acknowledging them (faster; an acknowledged
    /// upload may then be lost in a power cut, though never in a crash of the hub itself).
    #[arg(long)]
    pub no_fsync: bool,

    /// Log format on stderr: `text` for people, `json` (one object per line) for log collectors.
    /// Each request gets one access-log line (target `wh::access`); `WH_LOG` sets the filter
    /// (default `info`; `WH_LOG=warn` keeps only problems).
    #[arg(long, env = "WH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How `wh serve` writes its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// `wh admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The hub's data folder.
    #[arg(
        long,
        env = "WH_DATA",
        default_value = "weighhouse-data",
        global = true
    )]
    pub data: PathBuf,

    #[command(subcommand)]
    pub command: AdminCommand,
}

/// `wh admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// Access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// A role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Read private repositories.
    Read,
    /// Also create repositories and push.
    Write,
    /// Everything.
    Admin,
}

/// `wh admin user`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print a new token (role write, or admin with --admin) as the last line.
    Create {
        /// User name.
        name: String,
        /// Make the user a site administrator.
        #[arg(long)]
        admin: bool,
    },
}

/// `wh admin token`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user and print it as the last line (it is shown only once).
    Create {
        /// User name.
        user: String,
        /// What the token may do.
        #[arg(long, value_enum, default_value = "read")]
        role: RoleArg,
        /// A label for the token.
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// Revoke a token by its id (see the audit log).
    Revoke {
        /// Token id.
        id: i64,
    },
}

/// `wh admin org`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation.
    Create {
        /// Organisation name.
        name: String,
    },
    /// Add a user to an organisation, or change their role.
    AddMember {
        /// Organisation name.
        org: String,
        /// User name.
        user: String,
        /// Their role in the organisation.
        #[arg(long, value_enum, default_value = "read")]
        role: RoleArg,
    },
}

/// `wh admin audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit entries, oldest first.
    List {
        /// Only entries after this id.
        #[arg(long, default_value_t = 0)]
        since: i64,
        /// At most this many entries (all by default).
        #[arg(long)]
        limit: Option<i64>,
    },
    /// Check that no entry was altered, removed or reordered (each entry hashes the previous
    /// one) and that the log still reaches the entry named by the anchor file `audit.head`;
    /// exit 1 naming the first broken entry.
    Verify,
    /// Erase the personal data (client addresses, form answers, e-mail) of the entries a user
    /// made or that are about them; the hashes do not cover it, so the chain stays valid.
    Erase {
        /// User name.
        #[arg(long)]
        user: String,
    },
}

/// `wh inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Checkpoint files, model folders, sharded `*.index.json` files or TensorFlow prefixes.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

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
