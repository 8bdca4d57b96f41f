use super::{DeliveryError, OtpMessage, Sender, mask};

/// Development delivery: prints the code on standard output. The only place a code is
/// ever written out; start-up warns that it is for development only.
pub struct ConsoleSender;

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
        Ok(())
    }
}
