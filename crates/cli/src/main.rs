//! `wh`: the Weighhouse command-line tool for open weights.
//!
//! Parse → run → print: clap types in [`cli`], one module per command in [`commands`], output
//! through [`printer::Printer`] (data on stdout, progress and diagnostics on stderr).

mod cli;
mod commands;
mod printer;
mod remote;
mod resolve;
mod sarif;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::printer::Printer;

/// A failure caused by the user's input (a bad file, a bad flag), as opposed to the machine.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = if cli.json {
        printer::Output::Json
    } else {
        printer::Output::Text
    };
    let printer = Printer::new(cli.quiet, output);
    let result = match cli.command {
        Command::Inspect(args) => commands::inspect::run(args, &printer),
        Command::Convert(args) => commands::convert::run(args, &printer),
        Command::Hash(args) => commands::sign::hash(args, &printer),
        Command::Sign(args) => commands::sign::sign(args, &printer),
        Command::Verify(args) => commands::sign::verify(args, &printer),
        Command::Fingerprint(args) => commands::fingerprint::run(args, &printer),
        Command::Scan(args) => commands::scan::run(args, &printer),
        Command::Serve(args) => commands::serve::run(args, &printer),
        Command::Admin(args) => commands::admin::run(args, &printer),
        Command::Card(cmd) => commands::card::run(cmd, &printer),
        Command::License(cmd) => commands::license::run(cmd, &printer),
        Command::Openness(args) => commands::openness::run(args, &printer),
        Command::Access(cmd) => commands::access::run(cmd, &printer),
    };
    match result {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// Print the error chain; input errors exit 2, internal errors 1, a closed pipe 0.
fn report(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == ErrorKind::BrokenPipe
        {
            return ExitCode::SUCCESS;
        }
    }
    let mut msg = format!("error: {err}");
    let mut shown = err.to_string();
    for cause in err.chain().skip(1) {
        // Many errors quote their source in their own message: say each thing once.
        let text = cause.to_string();
        if !text.is_empty() && !shown.contains(&text) {
            msg.push_str(&format!("\n  caused by: {text}"));
        }
        shown = text;
    }
    eprintln!("{msg}");
    if is_input_error(err) {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

fn is_input_error(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<UserError>().is_some()
            || c.downcast_ref::<weighhouse_formats::Error>()
                .is_some_and(|e| e.is_input_error())
            || c.downcast_ref::<weighhouse_formats::FormatError>()
                .is_some_and(|e| !matches!(e, weighhouse_formats::FormatError::Io(_)))
            || c.downcast_ref::<clap::Error>().is_some()
    })
}
