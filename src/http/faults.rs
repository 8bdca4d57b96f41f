//! Server errors are logged here, once, with their whole cause chain and the request's
//! id: the response only says "server_error", and the error that made it travels to
//! this middleware in the response's extensions (the axum error-handling example's
//! pattern).
use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

/// The text of a 5xx error and its causes, attached to the response that hides it.
#[derive(Debug, Clone)]
pub struct ServerFault(pub String);

impl ServerFault {
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        Self(text)
    }
}

const MAX_REQUEST_ID_CHARS: usize = 128;

/// Every router but the proxy's runs through this: the proxy logs its own faults
/// ([`log_fault_of`]) so that its hot path pays for no middleware.
pub async fn log_server_faults(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let presented_id = request.headers().get("x-request-id").cloned();
    let mut response = next.run(request).await;
    log_fault_of(&method, uri.path(), presented_id.as_ref(), &mut response);
    response
}

/// Logs (and removes) the fault a 5xx response carries, if it carries one.
pub fn log_fault_of(method: &Method, path: &str, presented_id: Option<&HeaderValue>, response: &mut Response) {
    let Some(ServerFault(cause)) = response.extensions_mut().remove::<ServerFault>() else {
        return;
    };
    let request_id = presented_id
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= MAX_REQUEST_ID_CHARS)
        .map_or_else(|| crate::crypto::random_token(9), str::to_string);
    let status = response.status().as_u16();
    tracing::error!(%method, path, request_id, status, cause, "request failed");
}

#[cfg(test)]
mod tests {
    use super::ServerFault;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn the_whole_cause_chain_is_kept() {
        assert_eq!(ServerFault::of(&Outer(Inner)).0, "outer: inner");
    }
}
