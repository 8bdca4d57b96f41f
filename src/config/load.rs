use std::path::Path;

use super::{Config, ValidConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    pub(super) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { key: key.into(), message: message.into() }
    }
}

const ENV_PREFIX: &str = "DOORMAN_";

/// Loads the configuration: the embedded defaults, then `file` if given, then every
/// `DOORMAN_SECTION__KEY=value` variable. Variables without `__` (such as
/// `DOORMAN_ADMIN_TOKEN`, read through `env:`) are not configuration keys.
pub fn load(file: Option<&Path>) -> Result<ValidConfig, ConfigError> {
    let (mut table, origin) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
            let table = text.parse::<toml::Table>().map_err(|e| ConfigError::Parse {
                path: path.display().to_string(),
                message: e.to_string().trim().replace('\n', " "),
            })?;
            (table, path.display().to_string())
        }
        None => (toml::Table::new(), "embedded defaults".to_string()),
    };
    overlay_env(&mut table, std::env::vars())?;
    let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let message = e.into_inner().to_string().trim().replace('\n', " ");
        if key == "." { ConfigError::Parse { path: origin, message } } else { ConfigError::invalid(key, message) }
    })?;
    config.validated()
}

fn overlay_env(table: &mut toml::Table, vars: impl Iterator<Item = (String, String)>) -> Result<(), ConfigError> {
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix(ENV_PREFIX).filter(|p| p.contains("__")) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        let value = parse_env_value(&raw);
        let (last, parents) = keys.split_last().expect("split on a non-empty string");
        let mut current = &mut *table;
        for key in parents {
            let entry = current.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            current =
                entry.as_table_mut().ok_or_else(|| ConfigError::invalid(&name, format!("`{key}` is not a section")))?;
        }
        current.insert(last.clone(), value);
    }
    Ok(())
}

/// `30`, `true` and `["a", "b"]` keep their TOML type; anything else is a string.
fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Loads `text` as if it were the configuration file (unit tests).
#[cfg(test)]
pub(super) fn from_str(text: &str) -> Result<ValidConfig, ConfigError> {
    let dir = tempfile::tempdir().map_err(|source| ConfigError::Read { path: "temp dir".into(), source })?;
    let path = dir.path().join("doorman.toml");
    std::fs::write(&path, text).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    load(Some(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named() {
        let err = from_str("[otp]\nlenght = 6\n").unwrap_err().to_string();
        assert!(err.contains("otp") && err.contains("lenght"), "{err}");
    }

    #[test]
    fn durations_and_defaults() {
        let config = from_str("[otp]\nttl = \"2m\"\n").unwrap();
        assert_eq!(config.otp.ttl.as_secs(), 120);
        assert_eq!(config.otp.max_attempts, 3);
        assert_eq!(config.sessions.max_lifetime.as_secs(), 86400);
    }

    #[test]
    fn bad_duration_is_named() {
        let err = from_str("[sessions]\nidle_timeout = \"soon\"\n").unwrap_err().to_string();
        assert!(err.starts_with("sessions.idle_timeout"), "{err}");
    }

    #[test]
    fn env_overlay_sets_nested_keys_and_keeps_types() {
        let mut table = toml::Table::new();
        let vars = [
            ("DOORMAN_OTP__LENGTH".to_string(), "8".to_string()),
            ("DOORMAN_SERVER__LISTEN".to_string(), "0.0.0.0:9000".to_string()),
            ("DOORMAN_ADMIN_TOKEN".to_string(), "not-a-key".to_string()),
        ];
        overlay_env(&mut table, vars.into_iter()).unwrap();
        assert_eq!(table["otp"]["length"].as_integer(), Some(8));
        assert_eq!(table["server"]["listen"].as_str(), Some("0.0.0.0:9000"));
        assert!(!table.contains_key("admin_token") && !table.contains_key("admin"));
    }

    #[test]
    fn dialog_flow_keys_are_parsed_once_and_named_when_wrong() {
        let flow = |extra: &str| {
            format!(
                "[[directories]]\nname = \"e\"\nidentifiers = [\"n\"]\n[[flows]]\nname = \"f\"\ndirectory = \"e\"\n\
                 identify_by = \"n\"\n{extra}\n"
            )
        };
        let config = from_str(&flow("delivery = [\"sms:phone\"]\nidentifier_format = \"regex:[0-9]{8}[A-Z]\"\nterms_url = \"https://t.example/ok\"")).unwrap();
        assert!(config.flows[0].identifier_format.matches("12345678Z"));
        assert_eq!(config.flows[0].terms_url.as_ref().map(|u| u.url().as_str()), Some("https://t.example/ok"));
        let err = from_str(&flow("identifier_format = \"regex:[0-9\"")).unwrap_err().to_string();
        assert!(err.starts_with("flows[0].identifier_format"), "{err}");
        let err = from_str(&flow("terms_url = \"ftp://t.example\"")).unwrap_err().to_string();
        assert!(err.starts_with("flows[0].terms_url"), "{err}");
        let err = from_str(&flow("delivery = [\"fax:phone\"]")).unwrap_err().to_string();
        assert!(err.contains("flows[0]") && err.contains("fax"), "{err}");
        let err = from_str("[server]\nlisten = \"localhost\"\n").unwrap_err().to_string();
        assert!(err.starts_with("server.listen"), "{err}");
    }

    #[test]
    fn missing_env_secret_is_named() {
        let err = from_str("[admin]\ntoken = \"env:DOORMAN_TEST_SURELY_UNSET\"\n").unwrap_err().to_string();
        assert!(err.contains("admin.token") && err.contains("DOORMAN_TEST_SURELY_UNSET"), "{err}");
    }
}
