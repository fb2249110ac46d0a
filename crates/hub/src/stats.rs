//! Download counts, kept the way the Hugging Face Hub keeps them, so that `downloads` in repo
//! info and listings means what clients and users expect:
//!
//! - **models**: every `GET` or `HEAD` of a *query file* through `/resolve` is one download. The
//!   query files are the top-level `config.json`, `config.yaml`, `hyperparams.yaml`,
//!   `params.json` and `meta.yaml` (one per load, whatever the number of weight files), and any
//!   `.gguf` file (each GGUF file is a model of its own). Other files do not count, so a
//!   `snapshot_download` of a transformers model counts once;
//! - **datasets**: the files one client address fetches from one repository within a 5-minute
//!   window count as one download;
//! - **spaces**: no downloads.
//!
//! `downloads` is the count of the last 30 days (today included, UTC), `downloadsAllTime` the
//! count since the repository was created. Counting costs a download nothing: counts are added
//! in memory and written in one transaction every [`FLUSH_INTERVAL`] and when the hub stops, so a
//! crash loses at most that much counting, never a download.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::db::{self, Db};
use crate::repo::RepoKind;

/// How often pending counts are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// The window within which one address's dataset files count once.
const DATASET_WINDOW_MS: i64 = 5 * 60 * 1000;

/// The days `downloads` covers.
pub const RECENT_DAYS: i64 = 30;

/// Whether fetching `path` of a model is a download.
pub fn is_model_query_file(path: &str) -> bool {
    matches!(
        path,
        "config.json" | "config.yaml" | "hyperparams.yaml" | "params.json" | "meta.yaml"
    ) || path
        .rsplit('/')
        .next()
        .is_some_and(|f| f.to_ascii_lowercase().ends_with(".gguf"))
}

/// The day (days since the epoch, UTC) of a time in milliseconds.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

/// Counts not yet written, and the dataset windows seen.
#[derive(Debug, Default)]
struct Pending {
    counts: HashMap<(i64, i64), i64>,
    /// (repository, client address) → the start of the window in which it last counted.
    windows: HashMap<(i64, String), i64>,
}

/// The download counter of a hub process.
#[derive(Debug, Default)]
pub struct Downloads {
    pending: Mutex<Pending>,
}

impl Downloads {
    /// Note a successful `GET` or `HEAD` of `path` in a repository.
    pub fn saw(&self, repo_id: i64, kind: RepoKind, path: &str, client: Option<&str>) {
        let now = db::now_ms();
        self.saw_at(repo_id, kind, path, client, now);
    }

    fn saw_at(&self, repo_id: i64, kind: RepoKind, path: &str, client: Option<&str>, now: i64) {
        let counts = match kind {
            RepoKind::Model => is_model_query_file(path),
            RepoKind::Dataset => true,
            RepoKind::Space => false,
        };
        if !counts {
            return;
        }
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if kind == RepoKind::Dataset {
            let key = (repo_id, client.unwrap_or("").to_string());
            match p.windows.get(&key) {
                Some(&start) if now - start < DATASET_WINDOW_MS => return,
                _ => {
                    p.windows.insert(key, now);
                }
            }
        }
        *p.counts.entry((repo_id, day_of(now))).or_insert(0) += 1;
    }

    /// Write the pending counts in one transaction (counts of deleted repositories are dropped),
    /// and forget dataset windows that have closed.
    pub async fn flush(&self, db: &Db) -> sqlx::Result<()> {
        let counts = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let now = db::now_ms();
            p.windows
                .retain(|_, start| now - *start < DATASET_WINDOW_MS);
            std::mem::take(&mut p.counts)
        };
        if counts.is_empty() {
            return Ok(());
        }
        let mut tx = db::write(db).await?;
        for ((repo_id, day), n) in &counts {
            sqlx::query(
                "INSERT INTO downloads (repo_id, day, count)
                 SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM repos WHERE id = ?)
                 ON CONFLICT (repo_id, day) DO UPDATE SET count = count + excluded.count",
            )
            .bind(repo_id)
            .bind(day)
            .bind(n)
            .bind(repo_id)
            .execute(&mut *tx)
            .await?;
        }
        if let Err(e) = tx.commit().await {
            // Keep them for the next flush rather than lose them.
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            for (k, n) in counts {
                *p.counts.entry(k).or_insert(0) += n;
            }
            return Err(e);
        }
        Ok(())
    }
}

impl Downloads {
    /// `(last 30 days, all time)` counted but not yet written, for one repository.
    pub fn unwritten(&self, repo_id: i64) -> (i64, i64) {
        let since = day_of(db::now_ms()) - (RECENT_DAYS - 1);
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.counts
            .iter()
            .filter(|((r, _), _)| *r == repo_id)
            .fold((0, 0), |(recent, all), ((_, day), n)| {
                (recent + if *day >= since { *n } else { 0 }, all + n)
            })
    }

    /// `(downloads in the last 30 days, downloads since creation)` of a repository, written or
    /// not yet.
    pub async fn counts(&self, db: &Db, repo_id: i64) -> sqlx::Result<(i64, i64)> {
        let (recent, all) = written(db, repo_id).await?;
        let (r, a) = self.unwritten(repo_id);
        Ok((recent + r, all + a))
    }
}

/// `(downloads in the last 30 days, downloads since creation)` of a repository, as written.
async fn written(db: &Db, repo_id: i64) -> sqlx::Result<(i64, i64)> {
    let since = day_of(db::now_ms()) - (RECENT_DAYS - 1);
    let (recent, all): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN day >= ? THEN count ELSE 0 END), 0), COALESCE(SUM(count), 0)
         FROM downloads WHERE repo_id = ?",
    )
    .bind(since)
    .bind(repo_id)
    .fetch_one(db)
    .await?;
    Ok((recent, all))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(d: &Downloads) -> i64 {
        d.pending.lock().expect("lock").counts.values().sum::<i64>()
    }

    #[test]
    fn models_count_their_query_files_only() {
        let d = Downloads::default();
        for path in [
            "config.json",
            "model.safetensors",
            "model-00001-of-00002.safetensors",
            "tokenizer.json",
            "sub/config.json",
            "README.md",
        ] {
            d.saw_at(1, RepoKind::Model, path, Some("10.0.0.1"), 1_000);
        }
        assert_eq!(total(&d), 1, "a transformers load counts once");
        d.saw_at(1, RepoKind::Model, "q4/model-Q4_K_M.GGUF", None, 2_000);
        d.saw_at(1, RepoKind::Model, "params.json", None, 3_000);
        assert_eq!(total(&d), 3);
        d.saw_at(2, RepoKind::Space, "config.json", None, 3_000);
        assert_eq!(total(&d), 3, "spaces have no downloads");
    }

    #[test]
    fn a_dataset_counts_once_per_address_and_window() {
        let d = Downloads::default();
        let t0 = 10 * DATASET_WINDOW_MS;
        for (i, f) in ["a.parquet", "b.parquet", "README.md"].iter().enumerate() {
            d.saw_at(
                7,
                RepoKind::Dataset,
                f,
                Some("10.0.0.1"),
                t0 + i as i64 * 1000,
            );
        }
        assert_eq!(total(&d), 1);
        d.saw_at(
            7,
            RepoKind::Dataset,
            "a.parquet",
            Some("10.0.0.2"),
            t0 + 5_000,
        );
        assert_eq!(total(&d), 2, "another address is another download");
        d.saw_at(
            8,
            RepoKind::Dataset,
            "a.parquet",
            Some("10.0.0.1"),
            t0 + 6_000,
        );
        assert_eq!(total(&d), 3, "another repository too");
        d.saw_at(
            7,
            RepoKind::Dataset,
            "a.parquet",
            Some("10.0.0.1"),
            t0 + DATASET_WINDOW_MS,
        );
        assert_eq!(total(&d), 4, "after five minutes, again");
    }

    #[test]
    fn days_are_utc() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_399_999), 0);
        assert_eq!(day_of(86_400_000), 1);
        assert_eq!(day_of(-1), -1);
    }
}
