//! `doorman import`: every row is read and checked first, and every bad one reported
//! (line, field, why); then all are written in one transaction, so a bad row leaves
//! nothing applied. `--skip-invalid` writes the good rows and lists the others.
use std::path::Path;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Failure, connect};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::records::{BadRow, ImportError, RecordRules, bad_rows, import, read_csv, read_jsonl};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object a line.
    Jsonl,
}

pub async fn run(
    config: &Config,
    directory: &str,
    file: &Path,
    format: Option<Format>,
    skip_invalid: bool,
) -> Result<(), Failure> {
    let dir = config
        .directory(directory)
        .ok_or_else(|| Failure::Unconfigured(format!("DIRECTORY: no directory named `{directory}` is configured")))?;
    let format = format.unwrap_or(if file.extension().is_some_and(|e| e == "jsonl" || e == "ndjson") {
        Format::Jsonl
    } else {
        Format::Csv
    });
    let text = std::fs::read_to_string(file).map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
    let rules = RecordRules::new(config, dir);
    let checked = match format {
        Format::Csv => read_csv(&text, &rules),
        Format::Jsonl => read_jsonl(&text, &rules),
    };
    let skipped = if skip_invalid { checked.bad.clone() } else { Vec::new() };
    let rows = if skip_invalid {
        checked.rows
    } else {
        checked.all_or_nothing().map_err(|bad| {
            Failure::Usage(format!(
                "{}: {}, nothing was imported (--skip-invalid imports the others):\n{}",
                file.display(),
                bad_rows(&bad),
                listed(&bad)
            ))
        })?
    };

    let store = connect(config).await?;
    let progress = ProgressBar::new(rows.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} records ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let now = SystemClock.now();
    let written = import(&store, &rows, now, || progress.inc(1)).await;
    if let Err(e) = written {
        progress.abandon();
        return Err(match e {
            ImportError::Row(line, reason) => {
                Failure::Usage(format!("{}, line {line}: {reason}; nothing was imported", file.display()))
            }
            ImportError::Store(e) => Failure::Runtime(e.to_string()),
        });
    }
    progress.finish_and_clear();
    let imported = super::counted(rows.len(), "record");
    println!("imported {imported} into {} in {:.2?}", dir.name, started.elapsed());
    if !skipped.is_empty() {
        eprintln!("skipped {} of {}:\n{}", bad_rows(&skipped), file.display(), listed(&skipped));
    }
    Ok(())
}

/// One problem a line, indented.
fn listed(bad: &[BadRow]) -> String {
    bad.iter().map(|b| format!("  {b}")).collect::<Vec<_>>().join("\n")
}
