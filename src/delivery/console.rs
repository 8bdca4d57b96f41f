use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::{DeliveryError, Method, OtpMessage, Sender, mask};
use crate::clock::{Clock, SystemClock, rfc3339};

/// Development delivery: prints the code on standard output. The only place a code is
/// ever written out; start-up warns that it is for development only.
#[derive(Default)]
pub struct ConsoleSender {
    /// With the playground on, the codes are also kept for its "person's phone".
    outbox: Option<Arc<Outbox>>,
}

impl ConsoleSender {
    pub fn new(outbox: Option<Arc<Outbox>>) -> Self {
        Self { outbox }
    }
}

#[async_trait::async_trait]
impl Sender for ConsoleSender {
    async fn send(&self, m: &OtpMessage) -> Result<(), DeliveryError> {
        println!(
            "[console delivery] code {} for {} {} (conversation {}:{}, challenge {})",
            m.code,
            m.method.as_str(),
            mask(m.method, &m.destination),
            m.channel,
            m.conversation_id,
            m.challenge_id
        );
        if let Some(outbox) = &self.outbox {
            outbox.keep(m, SystemClock.now());
        }
        Ok(())
    }
}

/// A console-delivered message as the playground shows it on the person's phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivered {
    pub channel: String,
    pub conversation: String,
    pub method: Method,
    /// Masked as the dialog words it (`***78`): the page is a phone, not a directory.
    pub destination: String,
    pub message: String,
    pub code: String,
    /// When it was sent, RFC 3339.
    pub at: String,
}

/// The last `capacity` console deliveries, in memory only: a restart forgets them, and
/// a busy development server cannot make it grow.
pub struct Outbox {
    capacity: usize,
    kept: Mutex<VecDeque<Delivered>>,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, kept: Mutex::new(VecDeque::with_capacity(capacity)) }
    }

    fn keep(&self, m: &OtpMessage, at: crate::clock::Millis) {
        let delivered = Delivered {
            channel: m.channel.clone(),
            conversation: m.conversation_id.clone(),
            method: m.method,
            destination: mask(m.method, &m.destination),
            message: m.message.clone(),
            code: m.code.clone(),
            at: rfc3339(at),
        };
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == self.capacity {
            kept.pop_front();
        }
        kept.push_back(delivered);
    }

    /// The deliveries of one conversation, oldest first; `channel` narrows it when the
    /// same id is used on two channels.
    pub fn of(&self, channel: Option<&str>, conversation: &str) -> Vec<Delivered> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .filter(|d| d.conversation == conversation && channel.is_none_or(|c| c == d.channel))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(channel: &str, conversation: &str, code: &str) -> OtpMessage {
        OtpMessage {
            challenge_id: "c".into(),
            method: Method::Whatsapp,
            destination: "+34665762878".into(),
            code: code.into(),
            message: format!("Your code is {code}"),
            subject: String::new(),
            locale: "en".into(),
            expires_at: 0,
            channel: channel.into(),
            conversation_id: conversation.into(),
        }
    }

    #[tokio::test]
    async fn keeps_the_last_deliveries_per_conversation_masked() {
        let outbox = Arc::new(Outbox::new(3));
        let sender = ConsoleSender::new(Some(outbox.clone()));
        for (channel, id, code) in [("whatsapp", "a", "1"), ("voice", "a", "2"), ("whatsapp", "b", "3")] {
            sender.send(&message(channel, id, code)).await.unwrap();
        }
        let codes = |d: Vec<Delivered>| d.into_iter().map(|d| d.code).collect::<Vec<_>>();
        assert_eq!(codes(outbox.of(None, "a")), ["1", "2"]);
        assert_eq!(codes(outbox.of(Some("voice"), "a")), ["2"]);
        assert_eq!(outbox.of(None, "b")[0].destination, "***78");
        sender.send(&message("whatsapp", "b", "4")).await.unwrap();
        assert_eq!(codes(outbox.of(None, "a")), ["2"], "the oldest is dropped past the capacity");
        assert_eq!(codes(outbox.of(None, "b")), ["3", "4"]);
    }
}
