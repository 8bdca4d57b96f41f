//! What the login dialog remembers of a conversation between two messages: the flow it
//! runs, the question it asked, prompts used, and what the person wanted before login.
//! The challenge and the session stay the truth about where the login stands; this is
//! only the dialog's notes, stored so that they survive restarts and work on replicas.
use super::{Address, Auth, FlowResult};

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

impl Auth {
    /// The dialog's notes on the conversation; None before its first message.
    pub async fn dialog_memory(&self, address: &Address) -> FlowResult<Option<DialogMemory>> {
        let Some(conversation) = self.store.find_conversation(address).await? else {
            return Ok(None);
        };
        Ok(self.store.dialog_memory(&conversation).await?)
    }

    pub async fn remember_dialog(&self, address: &Address, memory: &DialogMemory) -> FlowResult<()> {
        let conversation = self.store.open_conversation(address, self.now()).await?;
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
