//! The log output: text (coloured only on a terminal) or JSON lines, on stderr. The
//! format can change once the configuration is read (`[log] format`); until then
//! `DOORMAN_LOG__FORMAT` decides, so even configuration errors come out as JSON.
use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::LogFormat;

type Output = Box<dyn Layer<Registry> + Send + Sync>;

/// The one subscriber of the process is global, so its switch is too.
static OUTPUT: OnceLock<reload::Handle<Output, Registry>> = OnceLock::new();

/// Migrations are chatty at `info` on every CLI command: they show at `debug`, or when
/// `RUST_LOG` names them.
const QUIET: &[&str] = &["sea_orm_migration=warn", "sqlx=warn"];

/// `RUST_LOG` filters (default `info`).
pub fn init() {
    let mut directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let debugging = directives.split(',').any(|d| matches!(d.trim(), "debug" | "trace"));
    for quiet in QUIET {
        let target = quiet.split('=').next().unwrap_or_default();
        if !debugging && !directives.contains(target) {
            directives.push(',');
            directives.push_str(quiet);
        }
    }
    let filter = EnvFilter::builder().parse_lossy(directives);
    let format = match std::env::var("DOORMAN_LOG__FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        _ => LogFormat::Text,
    };
    let (output, handle) = reload::Layer::new(output(format));
    if tracing_subscriber::registry().with(output).with(filter).try_init().is_ok() {
        let _ = OUTPUT.set(handle);
    }
}

/// Switches to the configured format.
pub fn use_format(format: LogFormat) {
    if let Some(handle) = OUTPUT.get() {
        let _ = handle.reload(output(format));
    }
}

fn output(format: LogFormat) -> Output {
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            layer.with_ansi(colour).boxed()
        }
        LogFormat::Json => layer.json().with_ansi(false).flatten_event(true).with_span_list(false).boxed(),
    }
}
