//! The terms-and-conditions check of seed 004: `GET {terms_url}?subject=directory/key`,
//! 200 when the person has accepted them. Anything else — 404, an error, a timeout —
//! means not accepted, so a login is never held up by the terms service.
use std::time::Duration;

use crate::config::WebUrl;

pub struct Terms {
    http: reqwest::Client,
}

impl Terms {
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("dialog.terms_timeout: {e}"))?;
        Ok(Self { http })
    }

    pub async fn accepted(&self, terms_url: &WebUrl, subject: &str) -> bool {
        let mut url = terms_url.url().clone();
        url.query_pairs_mut().append_pair("subject", subject);
        match self.http.get(url).send().await {
            Ok(response) => response.status() == reqwest::StatusCode::OK,
            Err(e) => {
                tracing::warn!(error = %e, "the terms check failed; the login goes to terms_intent");
                false
            }
        }
    }
}
