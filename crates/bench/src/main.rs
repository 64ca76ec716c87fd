//! `sesh-bench`: see `sesh_bench` and BENCHMARKS.md.

use clap::Parser;
use sesh_bench::cli::{Cli, Mode};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let result = match cli.mode {
        Some(Mode::Client) => sesh_bench::client::run(),
        Some(Mode::ServeBaseline { kind, listen }) => {
            sesh_bench::limits::raise_open_files();
            sesh_bench::baseline::serve(kind, listen)
        }
        None => drive(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sesh-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn drive(args: sesh_bench::cli::RunArgs) -> anyhow::Result<()> {
    let limit = sesh_bench::limits::raise_open_files();
    tracing::info!(open_files = limit, "driver starting");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(sesh_bench::scenarios::run(&args));
    if args.quick {
        println!(
            "Quick mode: small sizes for a smoke test; the targets are meant for the default sizes.\n"
        );
    }
    println!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    if !report.failures.is_empty() {
        for failure in &report.failures {
            eprintln!("FAILED: {failure}");
        }
        anyhow::bail!("{} failure(s)", report.failures.len());
    }
    Ok(())
}
