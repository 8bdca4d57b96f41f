//! `doorman clients`, `doorman records` and `doorman sessions`: the operator's tools, the
//! same code as the admin API ([`Admin`]), straight on the database.
use clap::Subcommand;

use super::{ConfigArg, Failure, connect, load_config};
use crate::clock::{Clock, SystemClock};
use crate::crypto::{Hasher, HasherParams};
use crate::domain::admin::{Admin, AdminError, Whose};

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Create a client; prints its client_id and client_secret once.
    Create {
        /// The client id: 1 to 64 letters, digits, - and _.
        name: String,
        /// Comma-separated flow names the client may use.
        #[arg(long, value_delimiter = ',')]
        flows: Vec<String>,
        /// Comma-separated scopes for client_credentials tokens.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List every client (never a secret).
    List(ConfigArg),
    /// Disable a client and end its sessions.
    Disable {
        /// The client id.
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Give a client a new secret (printed once); the old one stops working.
    Rotate {
        /// The client id.
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
pub enum RecordsCommand {
    /// Lift the record's code-login lock (a lockout, or the lifetime cap of
    /// otp.max_consecutive_failures) and forgive its failed codes.
    Unlock {
        directory: String,
        key: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(clap::Args)]
pub struct WhoseArgs {
    /// The person: `directory/key` of their record (a token's `sub`).
    #[arg(long, value_name = "DIRECTORY/KEY", conflicts_with = "client")]
    subject: Option<String>,
    /// A bot client's id.
    #[arg(long, value_name = "CLIENT_ID")]
    client: Option<String>,
}

impl WhoseArgs {
    fn whose(&self) -> Whose<'_> {
        Whose { subject: self.subject.as_deref(), client_id: self.client.as_deref() }
    }
}

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// List the open sessions of a subject or a client.
    List {
        #[command(flatten)]
        whose: WhoseArgs,
        /// Include ended sessions.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// End one session by id, or every session of a subject or client.
    Revoke {
        /// The session id (`sid` in its tokens, `id` in `sessions list`).
        #[arg(required_unless_present_any = ["subject", "client"], conflicts_with_all = ["subject", "client"])]
        id: Option<String>,
        #[command(flatten)]
        whose: WhoseArgs,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Runs `work` with an [`Admin`] for the configuration in `config`.
pub(super) async fn with_admin<T>(
    config: &ConfigArg,
    work: impl AsyncFnOnce(&Admin<'_>) -> Result<T, AdminError>,
) -> Result<T, Failure> {
    let config = load_config(config)?;
    let store = connect(&config).await?;
    let hasher = Hasher::new(HasherParams::SECRETS, None).map_err(|e| Failure::Runtime(e.to_string()))?;
    let admin = Admin { store: &store, config: &config, hasher: &hasher, now: SystemClock.now() };
    work(&admin).await.map_err(usage)
}

pub(super) fn usage(e: AdminError) -> Failure {
    match e {
        AdminError::Invalid(m) | AdminError::Conflict(m) => Failure::Usage(m),
        AdminError::Unconfigured(m) => Failure::Unconfigured(m),
        other => Failure::Runtime(other.to_string()),
    }
}

pub(super) fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(value).unwrap_or_default());
}

pub async fn clients(command: ClientsCommand) -> Result<(), Failure> {
    match command {
        ClientsCommand::Create { name, flows, scopes, config } => {
            let created = with_admin(&config, async |a| a.create_client(&name, flows, scopes).await).await?;
            println!("client_id={}", created.client_id);
            println!("client_secret={}", created.client_secret);
            eprintln!("The secret is shown only this once; doorman keeps only its hash.");
        }
        ClientsCommand::List(config) => {
            for client in with_admin(&config, async |a| a.list_clients().await).await? {
                print_json(&client);
            }
        }
        ClientsCommand::Disable { name, config } => {
            with_admin(&config, async |a| a.disable_client(&name).await).await?;
            eprintln!(
                "client {name} is disabled and its sessions ended (a running server may accept it for up to 60 s)"
            );
        }
        ClientsCommand::Rotate { name, config } => {
            let rotated = with_admin(&config, async |a| a.rotate_secret(&name).await).await?;
            println!("client_id={}", rotated.client_id);
            println!("client_secret={}", rotated.client_secret);
            eprintln!("The secret is shown only this once; the old one stops working within 60 s.");
        }
    }
    Ok(())
}

pub async fn records(command: RecordsCommand) -> Result<(), Failure> {
    let RecordsCommand::Unlock { directory, key, config } = command;
    let unlocked = with_admin(&config, async |a| a.unlock_record(&directory, &key, "cli").await).await?;
    print_json(&unlocked);
    Ok(())
}

pub async fn sessions(command: SessionsCommand) -> Result<(), Failure> {
    match command {
        SessionsCommand::List { whose, all, config } => {
            if whose.subject.is_none() && whose.client.is_none() {
                return Err(Failure::Usage(
                    "name whose sessions: --subject DIRECTORY/KEY or --client CLIENT_ID".into(),
                ));
            }
            for session in with_admin(&config, async |a| a.list_sessions(whose.whose(), all).await).await? {
                print_json(&session);
            }
        }
        SessionsCommand::Revoke { id: Some(id), config, .. } => {
            with_admin(&config, async |a| a.revoke_session(&id).await).await?;
            println!("revoked 1 session");
        }
        SessionsCommand::Revoke { id: None, whose, config } => {
            let revoked = with_admin(&config, async |a| a.revoke_sessions(whose.whose()).await).await?;
            println!("revoked {}", super::counted(revoked, "session"));
        }
    }
    Ok(())
}
