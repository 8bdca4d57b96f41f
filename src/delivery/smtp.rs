//! E-mail through an SMTP server with lettre (rustls; plain, STARTTLS or TLS by URL).
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{DeliveryError, OtpMessage, Sender};
use crate::config::SmtpConfig;

pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    /// Checks the settings without connecting; errors name the key below `delivery.smtp`.
    pub fn new(config: &SmtpConfig) -> Result<Self, String> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|e| format!("url: {e} (use smtp://host:port, add ?tls=required for STARTTLS, or smtps://)"))?
            .timeout(Some(config.timeout));
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_string()));
            }
            (None, None) => {}
            _ => return Err("username: username and password go together".into()),
        }
        let from = config.from.parse().map_err(|e| format!("from: not a mailbox ({e})"))?;
        Ok(Self { transport: builder.build(), from })
    }
}

#[async_trait::async_trait]
impl Sender for SmtpSender {
    async fn send(&self, m: &OtpMessage) -> Result<(), DeliveryError> {
        let to: Mailbox =
            m.destination.parse().map_err(|_| DeliveryError::Unreachable("invalid recipient address".into()))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(m.message.clone())
            .map_err(|_| DeliveryError::Unreachable("message could not be built".into()))?;
        // Only the kind of failure: the server's text may quote the address.
        self.transport.send(email).await.map(drop).map_err(|e| match e.status() {
            Some(code) => DeliveryError::Provider { code: i64::from(u16::from(code)) },
            None if e.is_timeout() => DeliveryError::Unreachable("timeout".into()),
            None => DeliveryError::Unreachable("connection failed".into()),
        })
    }
}
