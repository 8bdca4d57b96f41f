//! `doorman audit`: read, verify, export and prune the audit trail (DESIGN.md §12).
use std::io::Write;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::Value;

use super::operate::{print_json, usage, with_admin};
use super::seal::{Seals, sign};
use super::{ConfigArg, Failure, connect, load_config};
use crate::clock::{Clock, Millis, SystemClock, millis};
use crate::domain::admin::parse_time;
use crate::store::Store;
use crate::store::audit::AuditFilter;
use crate::store::audit::checkpoints::{CheckpointStatement, PRUNE};
use crate::store::audit::export::Range;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// The last N events, oldest first, one JSON object a line.
    Tail {
        /// How many events.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u64,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Events matching every filter given, newest first, one JSON object a line.
    Query {
        /// Only events about this person (`directory/key`).
        #[arg(long, value_name = "DIRECTORY/KEY")]
        subject: Option<String>,
        /// Only events of this bot client.
        #[arg(long, value_name = "CLIENT_ID")]
        client: Option<String>,
        /// Only events of this kind, like `session.ended` or `code.sent`.
        #[arg(long)]
        kind: Option<String>,
        /// RFC 3339 time: events at or after it.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339 time: events before it.
        #[arg(long)]
        until: Option<String>,
        /// Only events with a smaller id (the next page).
        #[arg(long)]
        before: Option<i64>,
        /// At most this many events (up to 500).
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Check the hash chain and the checkpoints' signatures: exit 0 with the number of
    /// events checked, or exit 1 naming the first event that does not fit.
    Verify(ConfigArg),
    /// Every event in a time range, oldest first, for a SIEM.
    Export {
        /// RFC 3339 time: events at or after it.
        #[arg(long)]
        since: String,
        /// RFC 3339 time: events before it (default: no end).
        #[arg(long)]
        until: Option<String>,
        /// The output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Delete old events, leaving a signed checkpoint so that the rest still verifies.
    #[command(group = clap::ArgGroup::new("age").required(true))]
    Prune {
        /// RFC 3339 time: events before it go.
        #[arg(long, group = "age")]
        before: Option<String>,
        /// Events older than this go, like `90days`.
        #[arg(long, group = "age", value_parser = humantime::parse_duration)]
        older_than: Option<Duration>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Sign the chain's current head, so that deleting events before it shows.
    Checkpoint(ConfigArg),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object a line.
    Jsonl,
}

pub async fn run(command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::Tail { lines, config } => {
            let (events, _) = with_admin(&config, async |a| a.audit(&AuditFilter::default(), lines).await).await?;
            events.iter().rev().for_each(print_json);
        }
        AuditCommand::Query { subject, client, kind, since, until, before, limit, config } => {
            let filter = AuditFilter {
                since: since.as_deref().map(|t| parse_time("--since", t)).transpose().map_err(usage)?,
                until: until.as_deref().map(|t| parse_time("--until", t)).transpose().map_err(usage)?,
                subject,
                client_id: client,
                kind,
                before,
            };
            let (events, next) = with_admin(&config, async |a| a.audit(&filter, limit).await).await?;
            events.iter().for_each(print_json);
            if let Some(next) = next {
                eprintln!("more: --before {next}");
            }
        }
        AuditCommand::Verify(config) => verify(&config).await?,
        AuditCommand::Export { since, until, format: ExportFormat::Jsonl, config } => {
            let since = parse_time("--since", &since).map_err(usage)?;
            let until = until.as_deref().map(|t| parse_time("--until", t)).transpose().map_err(usage)?;
            if until.is_some_and(|until| until <= since) {
                return Err(Failure::Usage("--until must be later than --since".into()));
            }
            let config = load_config(&config)?;
            let store = connect(&config).await?;
            export(&store, Range { since: Some(since), until }).await?;
        }
        AuditCommand::Prune { before, older_than, config } => {
            let now = SystemClock.now();
            let retention = load_config(&config)?.audit.retention;
            let before = match (before, older_than.or(retention)) {
                (Some(time), _) => parse_time("--before", &time).map_err(usage)?,
                (None, Some(age)) => now - millis(age),
                (None, None) => {
                    return Err(Failure::Usage("give --before or --older-than, or set [audit] retention".into()));
                }
            };
            prune(&config, before, now).await?;
        }
        AuditCommand::Checkpoint(config) => {
            let config = load_config(&config)?;
            let store = connect(&config).await?;
            let statement = store.plan_audit_anchor(SystemClock.now()).await.map_err(runtime)?;
            let signature = sign(&config, &statement)?;
            store.store_audit_anchor(&statement, signature).await.map_err(runtime)?;
            println!("checkpoint at sequence {} signed", statement.seq);
        }
    }
    Ok(())
}

fn runtime(e: impl std::fmt::Display) -> Failure {
    Failure::Runtime(e.to_string())
}

/// Checks the signatures of the checkpoints the walk relies on (the last prune and every
/// one after it; older ones vouch for deleted events, and their keys may be gone), then
/// the chain itself.
async fn check(config: &crate::config::Config, store: &Store) -> Result<crate::store::audit::verify::Report, Failure> {
    let checkpoints = store.audit_checkpoints().await.map_err(runtime)?;
    let base = checkpoints.iter().filter(|c| c.kind == PRUNE).map(|c| c.seq).max().unwrap_or(0);
    let relied_on: Vec<_> = checkpoints.iter().filter(|c| c.seq >= base).collect();
    if !relied_on.is_empty() {
        let seals = Seals::load(config)?;
        for checkpoint in relied_on {
            if let Err(why) = seals.check(&checkpoint.signature, &CheckpointStatement::of(checkpoint)) {
                return Err(Failure::Runtime(format!("audit trail broken: checkpoint {}: {why}", checkpoint.id)));
            }
        }
    }
    match store.verify_audit().await.map_err(runtime)? {
        Ok(report) => Ok(report),
        Err(fault) => Err(Failure::Runtime(format!("audit trail broken: {fault}"))),
    }
}

async fn verify(config: &ConfigArg) -> Result<(), Failure> {
    let config = load_config(config)?;
    let store = connect(&config).await?;
    let report = check(&config, &store).await?;
    let range =
        if report.checked == 0 { String::new() } else { format!(" (sequence {} to {})", report.first, report.last) };
    println!("audit trail intact: {} events checked{range}, {} checkpoints", report.checked, report.checkpoints);
    if report.unchained > 0 {
        println!("{} older events were written before the chain existed; nothing vouches for them", report.unchained);
    }
    Ok(())
}

/// One exported event; `detail` as JSON, times in RFC 3339 with milliseconds.
#[derive(Serialize)]
struct Line<'a> {
    id: i64,
    seq: Option<i64>,
    at: String,
    kind: &'a str,
    client_id: Option<&'a str>,
    subject: Option<&'a str>,
    conversation: Option<&'a str>,
    detail: Value,
    hash: Option<&'a str>,
}

fn rfc3339_millis(at: Millis) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_millis(at.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

async fn export(store: &Store, range: Range) -> Result<(), Failure> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = store
        .export_audit(range, |e| {
            let line = Line {
                id: e.id,
                seq: e.seq,
                at: rfc3339_millis(e.at),
                kind: &e.kind,
                client_id: e.client_id.as_deref(),
                subject: e.subject.as_deref(),
                conversation: e.conversation.as_deref(),
                detail: serde_json::from_str(&e.detail).unwrap_or(Value::Null),
                hash: e.hash.as_deref(),
            };
            serde_json::to_writer(&mut out, &line).map_err(std::io::Error::from)?;
            out.write_all(b"\n")
        })
        .await
        .map_err(runtime)?;
    match written.and_then(|count| out.flush().map(|()| count)) {
        Ok(count) => {
            eprintln!("exported {count} events");
            Ok(())
        }
        // The reader went away (`| head`): not doorman's failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Runtime(format!("cannot write the export: {e}"))),
    }
}

/// Verifies first: pruning must never erase the evidence of tampering.
async fn prune(config: &ConfigArg, before: Millis, now: Millis) -> Result<(), Failure> {
    let config = load_config(config)?;
    let store = connect(&config).await?;
    check(&config, &store).await?;
    let Some(plan) = store.plan_audit_prune(before, now).await.map_err(runtime)? else {
        println!("nothing to prune");
        return Ok(());
    };
    let signature = sign(&config, &plan.statement)?;
    if !store.apply_audit_prune(&plan, signature).await.map_err(runtime)? {
        return Err(Failure::Runtime("the audit trail changed while pruning; nothing was deleted, run again".into()));
    }
    println!("pruned {} events through sequence {}; checkpoint signed", plan.statement.pruned, plan.statement.seq);
    Ok(())
}
