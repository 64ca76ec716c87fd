//! The `sesh` binary: parses settings, installs logging and runs the server until a signal.

use clap::Parser;
use sesh_gateway::{Application, Cli, Command, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(cli.settings).await?;
            app.run_until_stopped().await?;
        }
    }
    Ok(())
}
