//! What the login dialog remembers of a conversation between two messages: the flow it
//! runs, the question it asked, prompts used, and what the person wanted before login.
//! The challenge and the session stay the truth about where the login stands; this is
//! only the dialog's notes, stored so that they survive restarts and work on replicas.
use super::{Address, Auth, Client, FlowError, FlowName, FlowResult};
use crate::config::FlowConfig;
use crate::delivery::{Method, mask, normalize_address};

/// The question an unidentified conversation's next message answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Awaiting {
    #[default]
    Identifier,
    /// "Do you want to use this number?"
    ChannelNumber,
}

impl Awaiting {
    pub const fn as_str(self) -> &'static str {
        match self {
            Awaiting::Identifier => "identifier",
            Awaiting::ChannelNumber => "channel_number",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Awaiting::Identifier, Awaiting::ChannelNumber].into_iter().find(|a| a.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DialogMemory {
    pub flow: String,
    pub awaiting: Awaiting,
    /// Identifier prompts answered with something that was not an identifier.
    pub prompts_used: u32,
    /// Keypad prompts in a row that got no input.
    pub silences: u32,
    pub intent: Option<String>,
    pub locale: Option<String>,
}

/// The record whose phone the conversation's own number is, for "use this number?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRecord {
    /// The record's identifier in the flow, to identify with.
    pub identifier: String,
    /// The number as the person is shown it (`***78`).
    pub masked: String,
}

impl Auth {
    /// The flow a dialog runs: the one named, else the client's first.
    pub fn dialog_flow(&self, client: &Client, name: Option<&FlowName>) -> FlowResult<&FlowConfig> {
        let name = match name {
            Some(name) => name.as_str(),
            None => client.flows.first().map(String::as_str).ok_or(FlowError::FlowNotAllowed)?,
        };
        self.flow_for(client, name)
    }

    /// The one active record of the flow's directory whose phone (a field the flow sends
    /// sms or whatsapp codes to) is the conversation's id; None when no record or
    /// several records have that number: the offer must never guess.
    pub async fn channel_record(&self, flow: &FlowConfig, address: &Address) -> FlowResult<Option<ChannelRecord>> {
        let Some(phone) = normalize_address(Method::Sms, &address.external_id) else {
            return Ok(None);
        };
        let fields: Vec<&str> =
            flow.delivery.iter().filter(|t| t.method != Method::Email).map(|t| t.field.as_str()).collect();
        let mut found = self.store.records_with_phone(&flow.directory, &fields, &phone).await?;
        if found.len() != 1 {
            return Ok(None);
        }
        let record = found.remove(0);
        Ok(record
            .field(&flow.identify_by)
            .map(|identifier| ChannelRecord { identifier: identifier.to_string(), masked: mask(Method::Sms, &phone) }))
    }

    /// The dialog's notes on the conversation; None before its first message.
    pub async fn dialog_memory(&self, address: &Address) -> FlowResult<Option<DialogMemory>> {
        let Some(conversation) = self.store.find_conversation(address).await? else {
            return Ok(None);
        };
        Ok(self.store.dialog_memory(&conversation).await?)
    }

    pub async fn remember_dialog(&self, address: &Address, memory: &DialogMemory) -> FlowResult<()> {
        let conversation = self.store.open_conversation(address, self.now()).await?.id;
        Ok(self.store.save_dialog_memory(&conversation, memory, self.now()).await?)
    }

    /// Forgets the dialog: the next message starts a new one.
    pub async fn forget_dialog(&self, address: &Address) -> FlowResult<()> {
        if let Some(conversation) = self.store.find_conversation(address).await? {
            self.store.forget_dialog_memory(&conversation).await?;
        }
        Ok(())
    }
}
