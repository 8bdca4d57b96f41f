//! axum's rejections (JSON, form, query string, path, body) as [`ApiError`]s: the
//! status kept, the framework's wording ("Failed to deserialize the JSON body into the
//! target type") replaced by what was wrong and where, in the words of the parser.
use std::error::Error;

use axum::extract::rejection::{BytesRejection, FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;

use crate::http::error::ApiError;

pub fn json(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::InvalidRequest(format!("the body is not valid JSON: {}", parser_message(&e)))
        }
        JsonRejection::JsonDataError(e) => {
            ApiError::InvalidRequest(format!("invalid JSON body: {}", parser_message(&e)))
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::BytesRejection(e) => bytes(e),
        other => by_status(other.status(), "the JSON body could not be read"),
    }
}

pub fn form(rejection: FormRejection) -> ApiError {
    match rejection {
        FormRejection::FailedToDeserializeForm(e) => {
            ApiError::InvalidRequest(format!("invalid form body: {}", parser_message(&e)))
        }
        FormRejection::FailedToDeserializeFormBody(e) => {
            ApiError::InvalidRequest(format!("invalid form body: {}", parser_message(&e)))
        }
        FormRejection::BytesRejection(e) => bytes(e),
        other => by_status(other.status(), "the form body could not be read"),
    }
}

pub fn query(rejection: QueryRejection) -> ApiError {
    match rejection {
        QueryRejection::FailedToDeserializeQueryString(e) => {
            ApiError::InvalidRequest(format!("invalid query string: {}", parser_message(&e)))
        }
        other => by_status(other.status(), "the query string could not be read"),
    }
}

/// Path parameters are checked as sent before they are deserialized (see
/// [`super::path`]), so what is left here is a route whose parameters do not fit.
pub fn path(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(_) => {
            ApiError::InvalidRequest("the path parameters are not valid".into())
        }
        other => ApiError::Internal(other.body_text()),
    }
}

pub fn bytes(rejection: BytesRejection) -> ApiError {
    by_status(rejection.status(), "the body could not be read")
}

fn by_status(status: StatusCode, otherwise: &str) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        _ => ApiError::InvalidRequest(otherwise.into()),
    }
}

/// The innermost error of the chain: serde's message with the field's path and, for
/// JSON, the line and column (`identifier: invalid type: integer `1`, expected a string
/// at line 1 column 33`). Serde names the Rust type it expected ("expected struct
/// IdentifyBody"): that is said as the JSON it means.
fn parser_message(error: &(dyn Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let message = innermost.to_string();
    let Some((before, after)) = message.split_once("expected struct ") else {
        return message;
    };
    // "invalid length 0, expected struct X with 2 elements": an array where an object belongs.
    let before = match before.rfind("invalid length ") {
        Some(at) => &before[..at],
        None => before,
    };
    let position = after.find(" at line ").map_or("", |at| &after[at..]);
    format!("{before}expected a JSON object{position}")
}

#[cfg(test)]
mod tests {
    use axum::extract::FromRequest;
    use axum::http::{Request, header};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        flow: String,
        identifier: String,
    }

    async fn refusal(body: &str) -> String {
        let request = Request::post("/")
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        match axum::Json::<Body>::from_request(request, &()).await {
            Ok(body) => panic!("accepted {body:?}"),
            Err(rejection) => json(rejection).to_string(),
        }
    }

    #[tokio::test]
    async fn json_refusals_name_the_position_and_the_field() {
        assert_eq!(refusal("{not json").await, "the body is not valid JSON: key must be a string at line 1 column 2");
        assert_eq!(
            refusal(r#"{"flow": 1, "identifier": "4721"}"#).await,
            "invalid JSON body: flow: invalid type: integer `1`, expected a string at line 1 column 10"
        );
        assert_eq!(
            refusal(r#"{"flow": "payroll"}"#).await,
            "invalid JSON body: missing field `identifier` at line 1 column 19"
        );
        assert_eq!(refusal("[]").await, "invalid JSON body: expected a JSON object at line 1 column 2");
        assert_eq!(
            refusal(r#""4721""#).await,
            "invalid JSON body: invalid type: string \"4721\", expected a JSON object at line 1 column 6"
        );
        assert!(!refusal("[]").await.contains("Body"));
    }
}
