use serde::Deserialize;

/// A secret value from the configuration. Written as the value itself or as
/// `"env:NAME"`; never printed by `Debug`.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Secret {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        match raw.strip_prefix("env:") {
            Some(name) => {
                std::env::var(name).map(Secret).map_err(|_| format!("environment variable {name} is not set"))
            }
            None => Ok(Secret(raw)),
        }
        .and_then(|s| if s.0.is_empty() { Err("the secret is empty".to_string()) } else { Ok(s) })
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}
