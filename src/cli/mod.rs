//! Command-line interface (DESIGN.md §3). Exit codes: 0 ok, 1 runtime failure,
//! 2 bad usage or configuration, with a one-line reason.
mod audit;
mod demo;
mod import;
mod operate;
mod seal;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app::{AppState, Edges};
use crate::config::{self, Algorithm, Config, ValidConfig};
use crate::store::Store;

#[derive(Parser)]
#[command(name = "doorman", version, about = "Auth gateway for chat bots and phonebots")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run pending migrations, then serve the HTTP API.
    Serve(ConfigArg),
    /// Run pending migrations and exit.
    Migrate(ConfigArg),
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Upsert the records of FILE into DIRECTORY, in one transaction.
    Import {
        directory: String,
        file: PathBuf,
        #[arg(long, value_enum)]
        format: Option<import::Format>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Manage bot clients.
    Clients {
        #[command(subcommand)]
        command: operate::ClientsCommand,
    },
    /// Operate on one record (lift its code-login lock).
    Records {
        #[command(subcommand)]
        command: operate::RecordsCommand,
    },
    /// List and revoke sessions.
    Sessions {
        #[command(subcommand)]
        command: operate::SessionsCommand,
    },
    /// Read, verify, export and prune the audit trail.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Try doorman: a throwaway server with demo employees, a demo bot and the playground.
    Demo(demo::DemoArgs),
}

#[derive(clap::Args)]
pub(crate) struct ConfigArg {
    /// TOML configuration file; without it doorman runs on its embedded defaults.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new private key; its file name is its kid.
    Generate {
        #[arg(long, value_enum, default_value = "es256")]
        alg: KeyAlg,
        #[arg(long, default_value = "keys")]
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyAlg {
    #[value(name = "ES256", alias = "es256")]
    Es256,
    #[value(name = "RS256", alias = "rs256")]
    Rs256,
    #[value(name = "EdDSA", alias = "eddsa")]
    EdDsa,
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum Failure {
    Usage(String),
    Runtime(String),
}

pub fn run(cli: Cli) -> ExitCode {
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(Failure::Runtime(format!("cannot start the runtime: {e}"))),
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(failure),
    }
}

fn fail(failure: Failure) -> ExitCode {
    match failure {
        Failure::Usage(reason) => {
            eprintln!("doorman: {reason}");
            ExitCode::from(2)
        }
        Failure::Runtime(reason) => {
            eprintln!("doorman: {reason}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing() {
    // reqwest/lettre use aws-lc-rs and sea-orm's rustls uses ring: with both present
    // rustls cannot choose, so choose once here.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve(arg) => serve(&load_config(&arg)?).await,
        Command::Migrate(arg) => {
            let store = connect(&*load_config(&arg)?).await?;
            println!("migrations applied");
            drop(store);
            Ok(())
        }
        Command::Keys { command: KeysCommand::Generate { alg, dir } } => {
            let algorithm = match alg {
                KeyAlg::Es256 => Algorithm::ES256,
                KeyAlg::Rs256 => Algorithm::RS256,
                KeyAlg::EdDsa => Algorithm::EdDSA,
            };
            let kid = crate::keys::generate_key_file(&dir, algorithm).map_err(|e| Failure::Runtime(e.to_string()))?;
            println!("{}", dir.join(format!("{kid}.pem")).display());
            Ok(())
        }
        Command::Import { directory, file, format, config } => {
            let config = load_config(&config)?;
            import::run(&config, &directory, &file, format).await
        }
        Command::Clients { command } => operate::clients(command).await,
        Command::Records { command } => operate::records(command).await,
        Command::Sessions { command } => operate::sessions(command).await,
        Command::Audit { command } => audit::run(command).await,
        Command::Demo(args) => demo::run(args).await,
    }
}

fn load_config(arg: &ConfigArg) -> Result<ValidConfig, Failure> {
    config::load(arg.config.as_deref().map(Path::new)).map_err(|e| Failure::Usage(e.to_string()))
}

async fn connect(config: &Config) -> Result<Store, Failure> {
    let store = Store::connect(&config.database).await.map_err(|e| Failure::Runtime(e.to_string()))?;
    store.migrate().await.map_err(|e| Failure::Runtime(e.to_string()))?;
    Ok(store)
}

async fn serve(config: &ValidConfig) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on {}: {e}", config.server.listen)))?;
    let state: Arc<AppState> =
        AppState::build(config.clone(), Edges::default()).await.map_err(|e| Failure::Runtime(e.to_string()))?;
    if config.playground.enabled {
        tracing::warn!(
            "[playground] enabled: GET /playground talks to the dialog as client `{}` without its secret and shows \
             console-delivered codes. It answers only browsers on this machine; never enable it in production.",
            config.playground.client.as_deref().or(config.clients.first().map(|c| c.id.as_str())).unwrap_or("?")
        );
    }
    tracing::info!(listen = %config.server.listen, "doorman is serving");
    crate::app::serve(listener, state, shutdown_signal()).await.map_err(|e| Failure::Runtime(e.to_string()))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return interrupt.await.unwrap_or(()),
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate.recv() => {},
    }
}
