//! Downloads one file from a hub with the Rust `hf-hub` 0.5 crate, the way candle, TEI and
//! tokenizers do: `ApiBuilder::from_env()`, so the endpoint comes from `HF_ENDPOINT`, the cache
//! from `HF_HOME` and the token from `$HF_HOME/token` (or from `HF_TOKEN`, which hf-hub itself
//! ignores but its users commonly pass on).
//!
//! Usage: `wh-hf-hub-check REPO_ID FILENAME [REVISION]`, where `REPO_ID` may start with
//! `datasets/` for a dataset repo. It downloads the file with the blocking (ureq) API, then again
//! with the async (reqwest) API, and prints one line per API: `sync <sha256> <size>` and
//! `tokio <sha256> <size>`. Any failure is printed on stderr and the exit status is 1.

use std::error::Error;
use std::fs::File;
use std::path::Path;
use std::process::ExitCode;

use hf_hub::{Repo, RepoType};
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(2..=3).contains(&args.len()) {
        eprintln!("usage: wh-hf-hub-check REPO_ID FILENAME [REVISION]");
        return ExitCode::from(2);
    }
    let revision = args.get(2).map_or("main", String::as_str);
    let repo = repo(&args[0], revision);
    let filename = &args[1];

    match sync_download(repo.clone(), filename) {
        Ok((digest, size)) => println!("sync {digest} {size}"),
        Err(err) => {
            eprintln!("sync: {err}");
            return ExitCode::FAILURE;
        }
    }
    match tokio_download(repo, filename) {
        Ok((digest, size)) => println!("tokio {digest} {size}"),
        Err(err) => {
            eprintln!("tokio: {err}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn repo(id: &str, revision: &str) -> Repo {
    let (repo_type, id) = match id.strip_prefix("datasets/") {
        Some(rest) => (RepoType::Dataset, rest),
        None => (RepoType::Model, id),
    };
    Repo::with_revision(id.to_string(), repo_type, revision.to_string())
}

/// `HF_TOKEN` when set; otherwise `None`, leaving the token `from_env()` read from `$HF_HOME/token`.
fn env_token() -> Option<String> {
    std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty())
}

fn sync_download(repo: Repo, filename: &str) -> Result<(String, u64)> {
    let mut builder = hf_hub::api::sync::ApiBuilder::from_env().with_progress(false);
    if let Some(token) = env_token() {
        builder = builder.with_token(Some(token));
    }
    let api = builder.build()?;
    // The cache under HF_HOME starts empty, so `get` goes to the hub.
    let path = api.repo(repo).get(filename)?;
    digest(&path)
}

fn tokio_download(repo: Repo, filename: &str) -> Result<(String, u64)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut builder = hf_hub::api::tokio::ApiBuilder::from_env().with_progress(false);
        if let Some(token) = env_token() {
            builder = builder.with_token(Some(token));
        }
        let api = builder.build()?;
        // Both APIs share the cache, where the sync download already put the file, so `get` would
        // not touch the network: `download` always fetches it again (and overwrites the blob).
        let path = api.repo(repo).download(filename).await?;
        digest(&path)
    })
}

fn digest(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), size))
}
