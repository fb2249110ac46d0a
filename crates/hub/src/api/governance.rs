//! Governance views of a repository revision: its openness (Open Weight Definition, OSI Open
//! Source AI Definition, Model Openness Framework), its card lint, and the repository's web page
//! showing both with the licence and the gate.
//!
//! The checks are those of `wh openness` and `wh card lint` (crate `weighhouse-card`), run on
//! the commit's files: whole small text files, and the headers of weight files.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::response::{Html, IntoResponse};
use futures_util::StreamExt;
use weighhouse_card::Card;
use weighhouse_card::derive::{NOTICE_FILES, Parent};
use weighhouse_card::files::{Entry, Files, MAX_TEXT};
use weighhouse_card::lint::{self, Mode, Options};
use weighhouse_card::openness::{self, Context, Report};

use super::read::{self, at_rev};
use super::{ApiError, ApiResult, App, Ctx, gate as hub_gate};
use crate::repo::{self, Repo, RepoKind, Snapshot};

/// Most bytes one evaluation reads from the store (weight headers included).
const READ_BUDGET: u64 = 512 << 20;

/// A commit's files, read from the blob store on demand. Used from a blocking thread.
struct SnapFiles {
    app: Arc<App>,
    entries: Vec<Entry>,
    shas: HashMap<String, String>,
    handle: tokio::runtime::Handle,
    budget: AtomicU64,
}

impl SnapFiles {
    fn new(app: &Arc<App>, snap: &Snapshot) -> Self {
        Self {
            app: Arc::clone(app),
            entries: snap
                .files
                .iter()
                .map(|f| Entry {
                    path: f.path.clone(),
                    size: f.size,
                })
                .collect(),
            shas: snap
                .files
                .iter()
                .map(|f| (f.path.clone(), f.sha256.clone()))
                .collect(),
            handle: tokio::runtime::Handle::current(),
            budget: AtomicU64::new(READ_BUDGET),
        }
    }
}

impl Files for SnapFiles {
    fn entries(&self) -> Vec<Entry> {
        self.entries.clone()
    }

    fn read_prefix(&self, path: &str, limit: u64) -> Option<Vec<u8>> {
        let sha = self.shas.get(path)?.parse().ok()?;
        let size = self.entries.iter().find(|e| e.path == path)?.size;
        let n = limit.min(size);
        let left = self.budget.load(Ordering::Relaxed);
        if n > left {
            return None;
        }
        self.budget.fetch_sub(n, Ordering::Relaxed);
        self.handle.block_on(async {
            let blob = self.app.store.open(&sha).await.ok()?;
            let mut out = Vec::with_capacity(n as usize);
            let mut stream = blob.stream(0..n);
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.ok()?);
            }
            Some(out)
        })
    }
}

/// Branch and tag names of a repository.
async fn ref_names(ctx: &Ctx, repo: &Repo) -> ApiResult<Vec<String>> {
    Ok(repo::refs(&ctx.app.db, repo.id)
        .await?
        .into_iter()
        .map(|r| {
            r.name
                .trim_start_matches("refs/heads/")
                .trim_start_matches("refs/tags/")
                .to_string()
        })
        .collect())
}

/// Run `f` on the files of `snap` in a blocking thread.
async fn with_files<T: Send + 'static>(
    ctx: &Ctx,
    snap: &Snapshot,
    f: impl FnOnce(&SnapFiles) -> T + Send + 'static,
) -> ApiResult<T> {
    let files = SnapFiles::new(&ctx.app, snap);
    tokio::task::spawn_blocking(move || f(&files))
        .await
        .map_err(|e| ApiError::internal(format!("evaluation failed: {e}")))
}

async fn evaluate(ctx: &Ctx, repo: &Repo, oid: &str, snap: &Snapshot) -> ApiResult<Report> {
    let context = Context {
        repo_id: Some(repo.full_name()),
        revision: Some(oid.to_string()),
        gated: Some(hub_gate::is_gated(repo)),
        refs: ref_names(ctx, repo).await?,
    };
    with_files(ctx, snap, move |files| openness::evaluate(files, &context)).await
}

/// `GET /api/{type}s/{ns}/{name}/openness[/{rev}]`.
pub(crate) async fn openness(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: Option<&str>,
) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let (oid, snap) = at_rev(ctx, &repo, rev.unwrap_or("main")).await?;
    let report = evaluate(ctx, &repo, &oid, &snap).await?;
    Ok(axum::Json(report).into_response())
}

/// `GET /api/{type}s/{ns}/{name}/card-lint[/{rev}]`: every card rule, on the repository's files.
pub(crate) async fn card_lint(
    ctx: &Ctx,
    kind: RepoKind,
    ns: &str,
    name: &str,
    rev: Option<&str>,
) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let (_, snap) = at_rev(ctx, &repo, rev.unwrap_or("main")).await?;
    let base = ctx.base.clone();
    let report = lint_snapshot(ctx, &snap, kind, base).await?;
    Ok(axum::Json(report).into_response())
}

/// A small text file of a commit, or `None` (also when it cannot be read).
async fn small_text(ctx: &Ctx, snap: &Snapshot, path: &str) -> Option<String> {
    read::small_text(&ctx.app, snap, path, MAX_TEXT)
        .await
        .ok()
        .flatten()
}

/// The card's `base_model` parents, when every one of them is a model on this hub that the
/// caller may read (at `base_model_revision` for a single pinned parent).
async fn local_parents(ctx: &Ctx, card: &Card) -> ApiResult<Option<Vec<Parent>>> {
    let ids = card.list_field("base_model");
    let pinned = card.str_field("base_model_revision");
    let mut out = Vec::new();
    for id in &ids {
        let Some((ns, name)) = id.split_once('/') else {
            return Ok(None);
        };
        let Ok(repo) = ctx.readable(RepoKind::Model, ns, name).await else {
            return Ok(None);
        };
        let rev = pinned
            .as_deref()
            .filter(|_| ids.len() == 1)
            .unwrap_or("main");
        let Ok((oid, snap)) = at_rev(ctx, &repo, rev).await else {
            return Ok(None);
        };
        let parent_card = small_text(ctx, &snap, "README.md")
            .await
            .map(|t| Card::parse(&t));
        let mut notice = None;
        for n in NOTICE_FILES {
            if let Some(t) = small_text(ctx, &snap, n).await {
                notice = Some(t);
                break;
            }
        }
        out.push(Parent {
            id: id.clone(),
            license: parent_card.as_ref().and_then(|c| c.str_field("license")),
            license_name: parent_card
                .as_ref()
                .and_then(|c| c.str_field("license_name")),
            source: format!("{}@{oid}", repo.full_name()),
            notice,
            unresolved: None,
        });
    }
    Ok(Some(out))
}

async fn lint_snapshot(
    ctx: &Ctx,
    snap: &Snapshot,
    kind: RepoKind,
    base: String,
) -> ApiResult<Option<lint::Report>> {
    let parents = match small_text(ctx, snap, "README.md").await {
        Some(t) if kind == RepoKind::Model => local_parents(ctx, &Card::parse(&t)).await?,
        _ => None,
    };
    with_files(ctx, snap, move |files| {
        let text = files.text("README.md")?;
        let card = Card::parse(&text);
        let opts = Options {
            mode: Mode::Full,
            repo_type: kind.singular(),
            files: Some(files),
            hub_url: &base,
            model_exists: None,
            parents: parents.as_deref(),
        };
        Some(lint::lint(&card, &opts))
    })
    .await
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;width:100%}\
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}\
.badge{display:inline-block;border-radius:.3rem;padding:.1rem .5rem;margin-right:.4rem;background:#eee}\
.pass{color:#176f2c}.fail{color:#b3261e}.review,.warn{color:#8a5a00}pre{background:#f6f6f6;padding:.8rem;white-space:pre-wrap}";

/// `GET /{ns}/{name}` (and `/datasets/...`, `/spaces/...`): the repository's page.
pub(crate) async fn page(ctx: &Ctx, kind: RepoKind, ns: &str, name: &str) -> ApiResult {
    let repo = ctx.readable(kind, ns, name).await?;
    let (oid, snap) = at_rev(ctx, &repo, "main").await?;
    let report = evaluate(ctx, &repo, &oid, &snap).await?;
    let lint = lint_snapshot(ctx, &snap, kind, ctx.base.clone()).await?;
    let full = repo.full_name();
    let mut h = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>{id}</title><style>{STYLE}</style>\
         <p><a href=\"/\">Weighhouse</a></p><h1>{id}</h1><p>",
        id = esc(&full)
    );
    for label in &report.labels {
        h.push_str(&format!("<span class=badge>{}</span>", esc(label)));
    }
    h.push_str(&format!(
        "</p><p>Revision <code>{}</code>{}</p>",
        esc(&oid),
        if repo.private { " · private" } else { "" }
    ));
    let licences: Vec<String> = report
        .licenses
        .iter()
        .map(|l| format!("{} ({})", l.id, l.source))
        .collect();
    h.push_str(&format!(
        "<h2>Licence</h2><p>{}</p>",
        if licences.is_empty() {
            "No licence declared.".to_string()
        } else {
            esc(&licences.join(", "))
        }
    ));
    if hub_gate::is_gated(&repo) {
        let a = hub_gate::agreement(ctx, &repo).await?;
        h.push_str(&format!(
            "<h2>Gated access ({mode})</h2><p>The weights are downloadable once the repository's \
             authors grant access. Read the agreement, then ask for access with \
             <code>wh access request {id} --endpoint {base}</code>. Agreement SHA-256: \
             <code>{sha}</code></p><pre>{text}</pre>",
            mode = esc(&repo.gated),
            id = esc(&full),
            base = esc(&ctx.base),
            sha = esc(&a.sha256),
            text = esc(&a.text)
        ));
    }
    h.push_str("<h2>Openness</h2>");
    let mut section = |title: &str, verdict: &str, criteria: &[openness::Criterion]| {
        h.push_str(&format!(
            "<h3>{} — {}</h3><table><tr><th>Criterion</th><th>Verdict</th><th>Evidence</th><th>Missing</th></tr>",
            esc(title),
            esc(verdict)
        ));
        for c in criteria {
            let v = c.verdict.as_str();
            let evidence: Vec<String> = c
                .evidence
                .iter()
                .map(|e| {
                    let field = e
                        .field
                        .as_deref()
                        .map(|f| format!(" {f}"))
                        .unwrap_or_default();
                    format!("{}{}: {}", e.file, field, e.detail)
                })
                .collect();
            h.push_str(&format!(
                "<tr><td>{} {}</td><td class={v}>{v}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.id),
                esc(&c.title),
                esc(&evidence.join("; ")),
                esc(&c.missing.join("; "))
            ));
        }
        h.push_str("</table>");
    };
    section(
        &format!("Open Weight Definition {}", report.owd.version),
        &report.owd.label,
        &report.owd.criteria,
    );
    section(
        &format!("OSI Open Source AI Definition {}", report.osaid.version),
        &report.osaid.summary,
        &report.osaid.criteria,
    );
    section("Other findings", "", &report.findings);
    h.push_str(&format!(
        "<h3>Model Openness Framework — {}</h3><table><tr><th>Component</th><th>Class</th>\
         <th>Found</th><th>Licence</th><th>Verdict</th></tr>",
        esc(&report.mof.label)
    ));
    for c in &report.mof.components {
        let v = c.verdict.as_str();
        h.push_str(&format!(
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td class={v}>{v}</td></tr>",
            esc(&c.name),
            if c.required { "" } else { " (optional)" },
            ["", "I", "II", "III"].get(c.class as usize).unwrap_or(&""),
            if c.present { "yes" } else { "no" },
            esc(c.license.as_deref().unwrap_or("")),
        ));
    }
    h.push_str("</table><h2>Model card</h2>");
    match lint {
        None => h.push_str("<p class=fail>There is no README.md.</p>"),
        Some(r) => {
            h.push_str(&format!(
                "<p>{} error(s), {} policy, {} warning(s).</p><table><tr><th>Line</th><th>Rule</th><th>Severity</th><th>Message</th></tr>",
                r.errors, r.policy, r.warnings
            ));
            for f in &r.findings {
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    f.line.map(|l| l.to_string()).unwrap_or_default(),
                    f.rule,
                    f.severity.as_str(),
                    esc(&f.message)
                ));
            }
            h.push_str("</table>");
        }
    }
    h.push_str("<h2>Files</h2><table><tr><th>Path</th><th>Size</th></tr>");
    for f in &snap.files {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&f.path),
            f.size
        ));
    }
    h.push_str("</table></html>");
    Ok(Html(h).into_response())
}
