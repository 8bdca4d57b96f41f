//! `doorman import`: every row is read and checked first; then all are written in one
//! transaction, so a bad row (reported with its line number) leaves nothing applied.
use std::path::Path;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Failure, connect};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::records::{ImportError, check_unique_keys, import, read_csv, read_jsonl};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

pub async fn run(config: &Config, directory: &str, file: &Path, format: Option<Format>) -> Result<(), Failure> {
    let dir = config
        .directory(directory)
        .ok_or_else(|| Failure::Usage(format!("DIRECTORY: no directory named `{directory}` is configured")))?;
    let format = format.unwrap_or(if file.extension().is_some_and(|e| e == "jsonl" || e == "ndjson") {
        Format::Jsonl
    } else {
        Format::Csv
    });
    let text = std::fs::read_to_string(file).map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
    let rows = match format {
        Format::Csv => read_csv(&text, dir),
        Format::Jsonl => read_jsonl(&text, dir),
    }
    .map_err(|(line, reason)| {
        Failure::Usage(format!("{}, line {line}: {reason}; nothing was imported", file.display()))
    })?;
    check_unique_keys(&rows).map_err(|(line, reason)| {
        Failure::Usage(format!("{}, line {line}: {reason}; nothing was imported", file.display()))
    })?;

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
    println!("imported {} records into {} in {:.2?}", rows.len(), dir.name, started.elapsed());
    Ok(())
}
