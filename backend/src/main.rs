//! The `lifeguard` binary: parses the command line and hands over to [`lifeguard::cli`].

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    lifeguard::cli::main().await
}
