//! The conversation state object of the HTTP API, exactly as DESIGN.md §5 shows it.
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum ConversationState {
    Unidentified,
    Pending {
        flow: String,
        challenge: ChallengeView,
    },
    Authenticated {
        flow: String,
        subject: SubjectView,
        session: SessionView,
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        tokens: Option<TokenSet>,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ChallengeView {
    pub id: String,
    pub method: crate::delivery::Method,
    pub destination: String,
    pub expires_in: u64,
    pub attempts_remaining: u32,
    pub sends_remaining: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SubjectView {
    pub id: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    /// Seconds of inactivity after which the session ends.
    pub idle_timeout: u64,
    /// The absolute end, RFC 3339.
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TokenSet {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}
