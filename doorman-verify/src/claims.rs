//! The claims of a validated doorman access token (RFC 9068 plus doorman's own).
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::extract::Rejection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// `directory/key` of the person, or the client for `client_credentials` tokens.
    pub sub: String,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: i64,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub jti: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// The doorman session; absent on `client_credentials` tokens.
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Everything else: `acr`, `amr`, `channel`, `flow` and the flow's record fields.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Audience {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Audience::deserialize(deserializer)? {
        Audience::One(one) => vec![one],
        Audience::Many(many) => many,
    })
}

impl Claims {
    /// A claim as text, by name: strings as they are, numbers and booleans written out.
    pub fn claim(&self, name: &str) -> Option<String> {
        let text = |s: &str| Some(s.to_string());
        match name {
            "iss" => text(&self.iss),
            "sub" => text(&self.sub),
            "jti" => self.jti.clone(),
            "client_id" => self.client_id.clone(),
            "sid" => self.sid.clone(),
            _ => match self.other.get(name)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            },
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// 403 `insufficient_role` unless the token has every one of `roles`.
    pub fn require_all_roles(&self, roles: &[&str]) -> Result<(), Rejection> {
        if roles.iter().all(|r| self.has_role(r)) { Ok(()) } else { Err(Rejection::InsufficientRole) }
    }

    /// 403 `insufficient_role` unless the token has at least one of `roles`.
    pub fn require_any_role(&self, roles: &[&str]) -> Result<(), Rejection> {
        if roles.iter().any(|r| self.has_role(r)) { Ok(()) } else { Err(Rejection::InsufficientRole) }
    }

    /// "Own records only": 403 `forbidden_resource` unless claim `name` is exactly
    /// `value` (typically a path parameter). A missing claim never matches.
    pub fn require_own(&self, name: &str, value: &str) -> Result<(), Rejection> {
        match self.claim(name) {
            Some(own) if own == value => Ok(()),
            _ => Err(Rejection::ForbiddenResource),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(extra: Value) -> Claims {
        let mut base = serde_json::json!({"iss": "i", "sub": "employees/4721", "aud": "doorman", "exp": 1,
            "roles": ["view_own_payroll", "view_own_schedule"]});
        base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn audience_is_a_string_or_a_list() {
        assert_eq!(claims(serde_json::json!({})).aud, ["doorman"]);
        assert_eq!(claims(serde_json::json!({"aud": ["a", "b"]})).aud, ["a", "b"]);
    }

    #[test]
    fn role_guards_and_own_records() {
        let c = claims(serde_json::json!({"employee_number": "4721", "level": 3}));
        assert!(c.require_all_roles(&["view_own_payroll", "view_own_schedule"]).is_ok());
        assert_eq!(c.require_all_roles(&["view_own_payroll", "payroll_admin"]), Err(Rejection::InsufficientRole));
        assert!(c.require_any_role(&["payroll_admin", "view_own_payroll"]).is_ok());
        assert_eq!(c.require_any_role(&["payroll_admin"]), Err(Rejection::InsufficientRole));
        assert_eq!(c.require_any_role(&[]), Err(Rejection::InsufficientRole));
        assert!(c.require_own("employee_number", "4721").is_ok());
        assert_eq!(c.require_own("employee_number", "4722"), Err(Rejection::ForbiddenResource));
        assert_eq!(c.require_own("employee_number", "4721 "), Err(Rejection::ForbiddenResource));
        assert_eq!(c.require_own("badge", ""), Err(Rejection::ForbiddenResource));
        assert!(c.require_own("level", "3").is_ok());
        assert!(c.require_own("sub", "employees/4721").is_ok());
    }
}
