//! Where a command's inputs come from, decided in one place: the hub (endpoint and token from
//! flags or the environment), the model card and files a command reads (a folder, a README.md,
//! or a repository on a hub), and the licences of a model's parents (flags, a folder of parents,
//! or the hub).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use weighhouse_card::derive::{NOTICE_FILES, Parent};
use weighhouse_card::{Card, Dir, Files};

use crate::UserError;
use crate::cli::RemoteArgs;
use crate::remote::{Remote, RemoteRepo};

/// The flag's value, else the first of the environment variables that is set (empty counts as
/// unset).
fn flag_or_env(flag: Option<&String>, vars: [&str; 2]) -> Option<String> {
    flag.cloned()
        .into_iter()
        .chain(vars.iter().filter_map(|v| std::env::var(v).ok()))
        .find(|v| !v.is_empty())
}

/// The hub's URL: `--endpoint`, else `WH_ENDPOINT`, else `HF_ENDPOINT`.
pub fn endpoint(args: &RemoteArgs) -> Option<String> {
    flag_or_env(args.endpoint.as_ref(), ["WH_ENDPOINT", "HF_ENDPOINT"])
}

/// The token: `--token`, else `WH_TOKEN`, else `HF_TOKEN`.
pub fn token(args: &RemoteArgs) -> Option<String> {
    flag_or_env(args.token.as_ref(), ["WH_TOKEN", "HF_TOKEN"])
}

/// The hub named by `args` or the environment; `None` when no endpoint is set.
pub fn remote(args: &RemoteArgs) -> Option<Remote> {
    let endpoint = endpoint(args)?;
    Some(Remote::new(
        &endpoint,
        token(args),
        &args.repo_type,
        &args.revision,
    ))
}

/// Like [`remote`], but an error naming the flag when no endpoint is set.
pub fn require_remote(args: &RemoteArgs) -> Result<Remote> {
    remote(args).ok_or_else(|| {
        UserError("no hub given: pass --endpoint URL or set WH_ENDPOINT / HF_ENDPOINT".into())
            .into()
    })
}

/// A card and the files around it, wherever they are.
pub struct Source {
    /// What to call it in reports.
    pub label: String,
    /// The card text (`None` when there is no README.md).
    pub card: Option<String>,
    /// The repository's files, when known.
    pub files: Option<Box<dyn Files>>,
    /// The hub, when the card comes from one.
    pub remote: Option<Remote>,
    /// The repo id, when the card comes from a hub.
    pub repo: Option<String>,
    /// The folder, when local.
    pub folder: Option<std::path::PathBuf>,
}

/// Find the card of `path`: a folder, a README.md, or a repo id on the hub named by `remote`.
pub fn open_source(path: &str, remote_args: &RemoteArgs) -> Result<Source> {
    let p = Path::new(path);
    if p.is_dir() {
        let dir = Dir::open(p).map_err(|e| UserError(format!("cannot read {path}: {e}")))?;
        let card = dir.text("README.md");
        return Ok(Source {
            label: p.join("README.md").display().to_string(),
            card,
            files: Some(Box::new(dir)),
            remote: None,
            repo: None,
            folder: Some(p.to_path_buf()),
        });
    }
    if p.is_file() {
        let meta = std::fs::metadata(p)?;
        if meta.len() > weighhouse_card::frontmatter::MAX_CARD as u64 {
            return Err(UserError(format!(
                "{path} is larger than {} bytes; not a model card",
                weighhouse_card::frontmatter::MAX_CARD
            ))
            .into());
        }
        let bytes = std::fs::read(p).map_err(|e| UserError(format!("cannot read {path}: {e}")))?;
        return Ok(Source {
            label: path.to_string(),
            card: Some(String::from_utf8_lossy(&bytes).into_owned()),
            files: None,
            remote: None,
            repo: None,
            folder: None,
        });
    }
    let Some(remote) = remote(remote_args) else {
        return Err(UserError(format!(
            "{path} is neither a folder nor a file; to read a repository on a hub, pass --endpoint URL (or set WH_ENDPOINT)"
        ))
        .into());
    };
    if !weighhouse_card::lint::is_repo_id(path) || !path.contains('/') {
        return Err(UserError(format!("{path} is not a repository id (namespace/name)")).into());
    }
    let repo = RemoteRepo::open(&remote, path)
        .map_err(|e| UserError(format!("{path} on {}: {e}", remote.endpoint)))?;
    let card = repo.text("README.md");
    Ok(Source {
        label: format!("{}/{path}@{}:README.md", remote.endpoint, remote.revision),
        card,
        files: Some(Box::new(repo)),
        remote: Some(remote),
        repo: Some(path.to_string()),
        folder: None,
    })
}

/// A parent's licence: from `--parent ID=LICENSE` flags, a folder of parents
/// (`DIR/namespace/name/README.md`), or the hub at `revision` (default `main`); a parent that none
/// of them can give is returned unresolved, saying why.
pub fn parent(
    id: &str,
    flags: &BTreeMap<String, String>,
    dir: Option<&Path>,
    hub: Option<&Remote>,
    revision: Option<&str>,
) -> Result<Parent> {
    if let Some(l) = flags.get(id) {
        return Ok(Parent {
            id: id.into(),
            license: Some(l.clone()),
            source: "--parent".into(),
            ..Parent::default()
        });
    }
    let from_card = |text: Option<String>, notice: Option<String>, source: String| {
        let card = text.map(|t| Card::parse(&t));
        Parent {
            id: id.into(),
            license: card.as_ref().and_then(|c| c.str_field("license")),
            license_name: card.as_ref().and_then(|c| c.str_field("license_name")),
            source,
            notice,
            unresolved: None,
        }
    };
    if let Some(dir) = dir
        && weighhouse_card::lint::is_repo_id(id)
    {
        let folder = dir.join(id);
        let readme = folder.join("README.md");
        if readme.is_file() {
            let text = std::fs::read_to_string(&readme)
                .map_err(|e| UserError(format!("{}: {e}", readme.display())))?;
            let notice = NOTICE_FILES
                .iter()
                .find_map(|n| std::fs::read_to_string(folder.join(n)).ok());
            return Ok(from_card(Some(text), notice, folder.display().to_string()));
        }
    }
    if let Some(hub) = hub
        && weighhouse_card::lint::is_repo_id(id)
    {
        let mut at = hub.clone();
        at.repo_type = "model".into();
        at.revision = revision.unwrap_or("main").to_string();
        let source = format!("{}/{id}@{}", hub.endpoint, at.revision);
        let readme = match at.file(id, "README.md") {
            Ok(r) => r,
            Err(e) => {
                return Ok(Parent {
                    id: id.into(),
                    unresolved: Some(format!("{source}: {e}")),
                    source,
                    ..Parent::default()
                });
            }
        };
        let notice = NOTICE_FILES
            .iter()
            .find_map(|n| at.file(id, n).ok().flatten())
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        return Ok(from_card(
            readme.map(|b| String::from_utf8_lossy(&b).into_owned()),
            notice,
            source,
        ));
    }
    Ok(Parent {
        id: id.into(),
        source: "unresolved".into(),
        unresolved: Some(
            "no hub or folder to read its card from: give --endpoint (or set WH_ENDPOINT), \
             --parents-dir DIR or --parent ID=LICENSE"
                .into(),
        ),
        ..Parent::default()
    })
}
