//! Why the proxy refused or failed a request. `http::error` maps each to its status.
use crate::domain::clients::ClientError;
use crate::domain::validate::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// 404 `unknown_service`
    #[error("no service is configured under this name")]
    UnknownService,
    /// 400 `invalid_request`: the path is ambiguous or malformed.
    #[error("invalid path: {0}")]
    InvalidPath(&'static str),
    /// 400 `invalid_request`: a header only doorman may set, or a malformed header.
    #[error("{0}")]
    InvalidHeader(String),
    /// 404 `no_route`: deny by default.
    #[error("no route of this service matches the method and path")]
    NoRoute,
    /// 401 `invalid_token`
    #[error("send Authorization: Bearer <access token>, or Basic client credentials with X-Doorman-Conversation")]
    MissingCredentials,
    /// 401 `invalid_token`
    #[error(transparent)]
    InvalidToken(#[from] TokenError),
    /// 401 `invalid_client`
    #[error("client authentication failed")]
    InvalidClient,
    /// 401 `not_authenticated`: conversation mode, and the conversation has no live session.
    #[error("the conversation has no live session")]
    NotAuthenticated,
    /// 403 `insufficient_role`
    #[error("the token lacks a role this route requires")]
    InsufficientRole,
    /// 403 `forbidden_resource`: a bound parameter is not the caller's own.
    #[error("this resource belongs to someone else")]
    ForbiddenResource,
    /// 413
    #[error("the request body is larger than this service accepts")]
    BodyTooLarge,
    /// 400 `invalid_request`: the body cannot carry the token (`inject = "json:..."`).
    #[error("{0}")]
    InvalidBody(String),
    /// 502 `bad_gateway`. The message names the service, never its upstream URL (an
    /// internal address is the operator's business); the cause goes to the log.
    #[error("service `{service}` could not be reached: its upstream refused or dropped the connection")]
    UpstreamUnavailable {
        service: String,
        #[source]
        cause: super::pool::Error,
    },
    /// 504 `upstream_timeout`
    #[error("service `{service}` did not answer in time")]
    UpstreamTimeout { service: String },
    /// 500
    #[error("internal error: {0}")]
    Internal(String),
}

impl ProxyError {
    /// The `error` code, also the `reason` of a `proxy.denied` audit event.
    pub fn code(&self) -> &'static str {
        match self {
            ProxyError::UnknownService => "unknown_service",
            ProxyError::InvalidPath(_) | ProxyError::InvalidHeader(_) | ProxyError::InvalidBody(_) => "invalid_request",
            ProxyError::NoRoute => "no_route",
            ProxyError::MissingCredentials | ProxyError::InvalidToken(_) => "invalid_token",
            ProxyError::InvalidClient => "invalid_client",
            ProxyError::NotAuthenticated => "not_authenticated",
            ProxyError::InsufficientRole => "insufficient_role",
            ProxyError::ForbiddenResource => "forbidden_resource",
            ProxyError::BodyTooLarge => "invalid_request",
            ProxyError::UpstreamUnavailable { .. } => "bad_gateway",
            ProxyError::UpstreamTimeout { .. } => "upstream_timeout",
            ProxyError::Internal(_) => "server_error",
        }
    }
}

impl From<ClientError> for ProxyError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Rejected => ProxyError::InvalidClient,
            other => ProxyError::Internal(other.to_string()),
        }
    }
}
