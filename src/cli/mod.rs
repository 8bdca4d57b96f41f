//! Command-line interface. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or
//! configuration, with the reason on stderr (listed in `doorman --help`).
mod audit;
mod demo;
mod import;
mod operate;
mod seal;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand, ValueEnum};

use crate::app::{AppState, Edges};
use crate::config::{self, Algorithm, Config, ValidConfig};
use crate::store::Store;

const AFTER_HELP: &str = "\
Configuration:
  Commands that read the configuration take --config FILE. Without it doorman reads
  $DOORMAN_CONFIG, else ./doorman.toml when that file exists, else runs on its embedded
  defaults (no directories, flows or clients). Each command logs which one it used.
  DOORMAN_SECTION__KEY=value overrides any key of the file (DOORMAN_OTP__LENGTH=8);
  a value written \"env:NAME\" in the file is read from the variable NAME.

Environment:
  DOORMAN_CONFIG          the configuration file, when --config is not given
  DOORMAN_SECTION__KEY    overrides one configuration key (two underscores per level)
  RUST_LOG                log filter (default info), e.g. RUST_LOG=doorman=debug

Exit codes:
  0  success
  1  runtime failure (database, network, I/O, a failed check such as audit verify)
  2  bad usage or configuration: unknown option, invalid file, bad import rows";

#[derive(Parser)]
#[command(
    name = "doorman",
    version,
    about = "Auth gateway for chat bots and phonebots",
    long_about = "Auth gateway for chat bots and phonebots: one-time codes to the phone or e-mail on record, \
                  short-lived JWTs, sessions, and a role-enforcing proxy.",
    after_help = AFTER_HELP
)]
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
    ///
    /// Every row is checked first: identifiers, the key, and a valid address (E.164 phone,
    /// e-mail) in every field a flow of the directory delivers codes to. Bad rows are all
    /// listed (line, field, why) and nothing is written, unless --skip-invalid.
    Import {
        /// The `[[directories]]` name the records belong to.
        directory: String,
        /// A CSV file with a header row (`key`, `roles` as `a;b`, `active`, and fields), or
        /// JSON Lines (`{"key", "fields", "roles", "active"}` a line).
        file: PathBuf,
        /// The file's format; by default `.jsonl`/`.ndjson` files are JSON Lines, others CSV.
        #[arg(long, value_enum)]
        format: Option<import::Format>,
        /// Import the valid rows and list the bad ones instead of importing nothing.
        #[arg(long)]
        skip_invalid: bool,
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
    /// Print a shell completion script: `doorman completions bash > /etc/bash_completion.d/doorman`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args)]
pub(crate) struct ConfigArg {
    /// The TOML configuration file. Without it: $DOORMAN_CONFIG, else ./doorman.toml if
    /// it exists, else the embedded defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new private key; its file name is its kid.
    Generate {
        /// The signing algorithm of the new key.
        #[arg(long, value_enum, default_value = "es256")]
        alg: KeyAlg,
        /// The keys directory ([keys] dir); created, or made, mode 0700.
        #[arg(long, default_value = "keys")]
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyAlg {
    /// ECDSA P-256 (the default: small and widely supported).
    #[value(name = "ES256", alias = "es256")]
    Es256,
    /// RSA 2048 with SHA-256, for verifiers that know only RSA.
    #[value(name = "RS256", alias = "rs256")]
    Rs256,
    /// Ed25519.
    #[value(name = "EdDSA", alias = "eddsa")]
    EdDsa,
}

/// `1 record`, `2 records`: a count with its noun (English plural in -s).
pub(crate) fn counted(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum Failure {
    Usage(String),
    /// Bad usage about the configuration: a directory, flow or client it does not name.
    Unconfigured(String),
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
        Failure::Unconfigured(reason) if NO_FILE_READ.load(Ordering::Relaxed) => {
            eprintln!("doorman: {reason} (no configuration file was read: {NO_FILE_HINT})");
            ExitCode::from(2)
        }
        Failure::Usage(reason) | Failure::Unconfigured(reason) => {
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
    crate::telemetry::logs::init();
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
        Command::Import { directory, file, format, skip_invalid, config } => {
            let config = load_config(&config)?;
            import::run(&config, &directory, &file, format, skip_invalid).await
        }
        Command::Clients { command } => operate::clients(command).await,
        Command::Records { command } => operate::records(command).await,
        Command::Sessions { command } => operate::sessions(command).await,
        Command::Audit { command } => audit::run(command).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "doorman", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// The configuration file a command reads: `--config`, else `$DOORMAN_CONFIG`, else
/// `./doorman.toml` when it exists, else none (the embedded defaults). Logged once, so an
/// operator always sees which one it was.
fn load_config(arg: &ConfigArg) -> Result<ValidConfig, Failure> {
    let env = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
    let (file, source) = match (&arg.config, env) {
        (Some(path), _) => (Some(path.clone()), "from --config"),
        (None, Some(path)) => (Some(path), "from DOORMAN_CONFIG"),
        (None, None) if Path::new(DEFAULT_CONFIG).is_file() => {
            (Some(PathBuf::from(DEFAULT_CONFIG)), "found in the working directory")
        }
        (None, None) => (None, ""),
    };
    match &file {
        Some(path) => tracing::info!("configuration: {} ({source})", path.display()),
        None => {
            NO_FILE_READ.store(true, Ordering::Relaxed);
            tracing::info!("configuration: no file ({NO_FILE_HINT})");
        }
    }
    let config = config::load(file.as_deref()).map_err(|e| Failure::Unconfigured(e.to_string()))?;
    crate::telemetry::logs::use_format(config.log.format);
    Ok(config)
}

const CONFIG_ENV: &str = "DOORMAN_CONFIG";
const DEFAULT_CONFIG: &str = "doorman.toml";
const NO_FILE_HINT: &str = "running on the embedded defaults; pass --config or set DOORMAN_CONFIG";

/// Set when a command found no configuration file, so that an error about a directory,
/// flow or client that is not configured can say why it may be missing.
static NO_FILE_READ: AtomicBool = AtomicBool::new(false);

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
