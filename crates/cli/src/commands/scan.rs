//! `wh scan`: findings per file as text, JSON or SARIF; exit 1 when something reaches
//! `--fail-on` or a file could not be read completely.

use std::process::ExitCode;

use serde_json::json;
use weighhouse_scan::{FileReport, Options, Profile, Severity, Verdict};

use crate::cli::{ScanArgs, SeverityArg};
use crate::printer::Printer;

fn threshold(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    }
}

pub fn run(args: ScanArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.sarif && printer.json() {
        return Err(
            crate::UserError("--json and --sarif both choose the output: give one".into()).into(),
        );
    }
    let opts = Options {
        profile: if args.strict {
            Profile::Strict
        } else {
            Profile::Compat
        },
        ..Options::default()
    };
    let mut reports: Vec<FileReport> = Vec::new();
    for p in &args.paths {
        if !p.exists() {
            return Err(
                crate::UserError(format!("{}: no such file or folder", p.display())).into(),
            );
        }
        reports.extend(weighhouse_scan::scan_path(p, &opts));
    }
    let fail_on = threshold(args.fail_on);
    let failed = reports.iter().any(|r| {
        r.verdict == Verdict::Incomplete || r.findings.iter().any(|f| f.severity >= fail_on)
    });
    if printer.json() {
        printer.data(&serde_json::to_string_pretty(&json!({ "files": reports }))?)?;
    } else if args.sarif {
        printer.data(&serde_json::to_string_pretty(&crate::sarif::Log::of(
            &reports,
        ))?)?;
    } else {
        for r in &reports {
            let wo = match r.weights_only_loadable {
                Some(true) => ", loads with weights_only=True",
                Some(false) => ", needs weights_only=False",
                None => "",
            };
            printer.data(&format!(
                "{}: {} ({}{wo})",
                r.path,
                verdict_word(r.verdict),
                r.format
            ))?;
            for f in &r.findings {
                if f.severity >= Severity::Low || args.fail_on == SeverityArg::Info {
                    printer.data(&format!(
                        "  {:<8} {:<28} {}  [{}]",
                        f.severity.as_str(),
                        f.rule,
                        f.message,
                        f.location
                    ))?;
                }
            }
            for i in &r.incomplete {
                printer.data(&format!("  incomplete: {i}"))?;
            }
        }
        let unsafe_n = reports
            .iter()
            .filter(|r| r.verdict == Verdict::Unsafe)
            .count();
        let inc_n = reports
            .iter()
            .filter(|r| r.verdict == Verdict::Incomplete)
            .count();
        printer.note(&format!(
            "{} files: {unsafe_n} unsafe, {inc_n} incomplete, {} safe",
            reports.len(),
            reports.len() - unsafe_n - inc_n
        ));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Safe => "safe",
        Verdict::Unsafe => "UNSAFE",
        Verdict::Incomplete => "INCOMPLETE",
    }
}
