use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    cc_export::cli::main().await
}
