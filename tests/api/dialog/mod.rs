//! The login dialog (DESIGN.md §9) through `POST /v1/conversations/{channel}/{id}/messages`,
//! as a person would hold it: one file per part of the conversation.
mod bot_errors;
mod channel_number;
mod commands;
mod identifiers;
mod keypad;
mod locales;
mod refusals;
mod terms;
mod transcript;

use serde_json::{Value, json};

use crate::helpers::*;

/// What the dialog answered: its JSON, and shortcuts into it.
pub struct Said(pub Value);

impl Said {
    pub fn keys(&self) -> Vec<&str> {
        self.0["replies"].as_array().map_or(vec![], |r| r.iter().filter_map(|r| r["key"].as_str()).collect())
    }

    pub fn key(&self) -> &str {
        self.keys().first().copied().unwrap_or("")
    }

    pub fn text(&self) -> String {
        let replies = self.0["replies"].as_array().cloned().unwrap_or_default();
        replies.iter().filter_map(|r| r["text"].as_str()).collect::<Vec<_>>().join(" ")
    }

    pub fn step(&self) -> &str {
        self.0["step"].as_str().unwrap_or("")
    }

    pub fn outcome(&self) -> &Value {
        &self.0["outcome"]
    }

    pub fn state(&self) -> &str {
        self.0["state"].as_str().unwrap_or("")
    }
}

/// Posts one message body to the whatsapp conversation `conversation` as the bot.
pub async fn message(app: &TestApp, conversation: &str, body: Value) -> Said {
    message_on(app, "whatsapp", conversation, body).await
}

pub async fn message_on(app: &TestApp, channel: &str, conversation: &str, body: Value) -> Said {
    let response = app
        .http
        .post(app.conversation_url(channel, conversation, "messages"))
        .basic_auth(BOT.0, Some(BOT.1))
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON answer");
    assert_eq!(status, 200, "{body}");
    Said(body)
}

/// The person writes `text`.
pub async fn say(app: &TestApp, conversation: &str, text: &str) -> Said {
    message(app, conversation, json!({"text": text})).await
}

/// The code the last delivery carried, waiting for delivery number `n`.
pub async fn code_number(app: &TestApp, n: usize) -> String {
    app.sink.wait_for(n).await["code"].as_str().expect("a code").to_string()
}
