//! Where output goes: data to stdout, progress bars and notes to stderr (hidden with `--quiet` or
//! when stderr is not a terminal).

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Lines for people.
    Text,
    /// One JSON document (`--json`).
    Json,
}

/// Output settings shared by every command.
#[derive(Debug)]
pub struct Printer {
    quiet: bool,
    output: Output,
}

impl Printer {
    /// A printer; `quiet` hides progress and notes.
    pub fn new(quiet: bool, output: Output) -> Self {
        Self { quiet, output }
    }

    /// Whether results are printed as JSON.
    pub fn json(&self) -> bool {
        self.output == Output::Json
    }

    /// Print a JSON document on stdout (pretty-printed).
    pub fn json_value(&self, value: &serde_json::Value) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
        self.data(&text)
    }

    /// Write a line of data to stdout.
    pub fn data(&self, line: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")
    }

    /// A note for people on stderr.
    pub fn note(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// A byte-progress bar on stderr, hidden when quiet or not on a terminal.
    pub fn bytes_bar(&self, total: u64, what: &str) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_owned());
        bar
    }
}
