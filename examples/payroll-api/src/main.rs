//! `DOORMAN_ISSUER=https://doorman.example cargo run -p payroll-api`
//! Optional: `PAYROLL_AUDIENCE` (default `doorman`), `PAYROLL_LISTEN` (default 127.0.0.1:8090).
use std::process::ExitCode;

use doorman_verify::{Options, Verifier};

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(issuer) = std::env::var("DOORMAN_ISSUER") else {
        eprintln!("payroll-api: set DOORMAN_ISSUER to doorman's public URL");
        return ExitCode::from(2);
    };
    let audience = std::env::var("PAYROLL_AUDIENCE").unwrap_or_else(|_| "doorman".into());
    let listen = std::env::var("PAYROLL_LISTEN").unwrap_or_else(|_| "127.0.0.1:8090".into());
    let verifier = match Verifier::discover(Options::new(issuer, audience)).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("payroll-api: {e}");
            return ExitCode::from(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("payroll-api: cannot listen on {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    match axum::serve(listener, payroll_api::router(verifier)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("payroll-api: {e}");
            ExitCode::from(1)
        }
    }
}
