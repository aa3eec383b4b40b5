//! The `tributary` binary: parse arguments, set up logging, run a command.

use std::process::ExitCode;

use clap::Parser;
use tributary::cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // One TLS provider for reqwest and sqlx.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .with_writer(std::io::stderr);
    match args.log_format {
        cli::LogFormat::Text => logs.init(),
        cli::LogFormat::Json => logs.json().with_current_span(true).init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(cli::EXIT_FAILED);
        }
    };
    ExitCode::from(runtime.block_on(cli::run(args)))
}
