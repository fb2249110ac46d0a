//! `wh serve`: run the hub until Ctrl-C or SIGTERM, then finish the requests in flight.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use weighhouse_hub::Config;

use crate::UserError;
use crate::cli::{LogFormat, ServeArgs};
use crate::printer::Printer;

pub fn run(args: ServeArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => log.init(),
        LogFormat::Json => log.json().flatten_event(true).init(),
    }
    let lfs_part_size =
        weighhouse_tensor::units::parse_size(&args.lfs_part_size).map_err(UserError)?;
    if lfs_part_size < 5 << 20 {
        return Err(UserError("--lfs-part-size must be at least 5MiB".into()).into());
    }
    let mut config = Config::new(args.data.clone(), args.listen);
    config.public_url = args.public_url;
    config.page_size = args.page_size as usize;
    config.lfs_part_size = lfs_part_size;
    config.durable = !args.no_fsync;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let data = args.data.display().to_string();
    let quiet = printer;
    runtime.block_on(weighhouse_hub::serve(
        config,
        |started| {
            let addr = started.addr;
            quiet.note(&format!(
                "wh serve: data in {data}; set HF_ENDPOINT=http://{addr} in clients"
            ));
            if started.users == 0 {
                quiet.note(&format!(
                    "wh serve: this hub has no users yet. Create the first one, a site \
                     administrator, in another terminal:\n    wh admin user create NAME --admin \
                     --data {data}\nIt prints the user's token once: clients use it as HF_TOKEN."
                ));
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{addr}");
            let _ = out.flush();
        },
        shutdown_signal(),
    ))?;
    printer.note("wh serve: stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
