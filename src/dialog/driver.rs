//! Runs one message through the dialog: reads where the conversation stands, lets the
//! pure core decide, runs the one effect it asks for with the domain, and keeps the
//! dialog's notes. Every rule of §2 and §7 is the domain's: a dialog login is an API
//! login with words around it.
use super::advance::{Rules, Situation, Standing, advance, prompt};
use super::answer::{Answer, Reply, expect, redirect};
use super::terms::Terms;
use super::{Effect, Heard, Line, Outcome, Plan, Said, Step, after, hear};
use crate::config::{FlowConfig, ValidConfig};
use crate::domain::memory::{Awaiting, DialogMemory};
use crate::domain::{
    Address, Auth, Client, ConversationState, FlowName, FlowResult, Identifier, IdentifyRequest, Locale,
};

/// What a person sent.
#[derive(Debug, Clone)]
pub enum Input {
    Text(String),
    /// Keypad keys, `#` and `*` included.
    Digits(String),
    /// A keypad prompt timed out with nothing typed; after `max` in a row the call is over.
    Silence {
        max: u32,
    },
}

#[derive(Debug, Clone)]
pub struct Message {
    pub input: Input,
    pub flow: Option<FlowName>,
    pub locale: Option<Locale>,
    /// What the person asked for before login, for the redirect after it.
    pub intent: Option<String>,
}

/// The dialog engine: stateless apart from its terms checker; the notes live in the
/// database through the domain.
pub struct Dialogs {
    terms: Terms,
}

impl Dialogs {
    pub fn new(config: &ValidConfig) -> Result<Self, String> {
        Ok(Self { terms: Terms::new(config.dialog.terms_timeout)? })
    }

    pub async fn respond(
        &self,
        auth: &Auth,
        client: &Client,
        address: &Address,
        message: Message,
    ) -> FlowResult<Answer> {
        let flow = auth.dialog_flow(client, message.flow.as_ref())?;
        let remembered = auth.dialog_memory(address).await?.filter(|m| m.flow == flow.name);
        let base = remembered.clone().unwrap_or_default();
        let mut notes = DialogMemory {
            flow: flow.name.clone(),
            locale: message.locale.map(Locale::into_string).or(base.locale.clone()),
            intent: message.intent.clone().or(base.intent.clone()),
            ..base
        };
        let language = auth.texts().language([notes.locale.as_deref()], &auth.config.otp.default_locale);
        let keypad = !matches!(message.input, Input::Text(_)) || address.channel == "voice";
        let standing = standing_of(&auth.state(address).await?);
        let heard = match &message.input {
            Input::Silence { .. } => Heard::Nothing,
            Input::Text(text) => hear(Some(text), None, auth.texts(), &language),
            Input::Digits(digits) => hear(None, Some(digits), auth.texts(), &language),
        };
        notes.silences = match message.input {
            Input::Silence { .. } => notes.silences + 1,
            _ => 0,
        };
        let offer_number = flow.offer_channel_number
            && standing == Standing::Unidentified
            && remembered.as_ref().is_none_or(|m| m.awaiting == Awaiting::ChannelNumber);
        let channel_number = match offer_number {
            true => auth.channel_record(flow, address).await?.map(|r| r.masked),
            false => None,
        };
        let situation = Situation {
            standing,
            memory: remembered.as_ref(),
            channel_number,
            rules: Rules {
                format: &flow.identifier_format,
                label: flow.identifier_label(&language),
                code_length: auth.config.otp.length as usize,
                max_prompts: flow.max_identifier_prompts,
            },
            notes,
        };
        let turn = Turn { terms: &self.terms, auth, client, address, flow, language, keypad };
        let (said, state) = match message.input {
            Input::Silence { max } if situation.notes.silences > max => (turn.hang_up_silent().await?, None),
            _ => turn.decide_and_run(&situation, heard).await?,
        };
        turn.finish(&situation, said, state).await
    }
}

/// One message's work: who says it, in which conversation, of which flow, in which language.
struct Turn<'a> {
    terms: &'a Terms,
    auth: &'a Auth,
    client: &'a Client,
    address: &'a Address,
    flow: &'a FlowConfig,
    language: String,
    keypad: bool,
}

impl Turn<'_> {
    async fn decide_and_run(
        &self,
        situation: &Situation<'_>,
        heard: Heard,
    ) -> FlowResult<(Said, Option<ConversationState>)> {
        let effect = match advance(situation, heard) {
            Plan::Say(said) => return Ok((said, None)),
            Plan::Run(effect) => effect,
        };
        let result = self.run(situation, &effect).await;
        let state = result.as_ref().ok().cloned();
        Ok((after(situation, &effect, result)?, state))
    }

    async fn run(&self, situation: &Situation<'_>, effect: &Effect) -> FlowResult<ConversationState> {
        let (auth, client, address, flow) = (self.auth, self.client, self.address, self.flow);
        let identify = |identifier: &str| -> FlowResult<IdentifyRequest> {
            Ok(IdentifyRequest {
                flow: FlowName::parse(flow.name.clone())?,
                identifier: Identifier::parse(identifier)?,
                locale: situation.notes.locale.clone().map(Locale::parse).transpose()?,
                method: None,
            })
        };
        match effect {
            Effect::Identify(identifier) => auth.identify(client, address, identify(identifier)?).await,
            Effect::IdentifyByChannelNumber => match auth.channel_record(flow, address).await? {
                Some(record) => auth.identify(client, address, identify(&record.identifier)?).await,
                None => Err(crate::domain::FlowError::NoPendingChallenge),
            },
            Effect::Verify(code) => auth.verify(client, address, code).await,
            Effect::Resend => auth.resend(client, address).await,
            Effect::Cancel => auth.cancel(address).await.map(|()| ConversationState::Unidentified),
            Effect::Tokens => auth.token(address).await,
        }
    }

    /// A keypad that stayed silent too often: nothing is left alive after the call.
    async fn hang_up_silent(&self) -> FlowResult<Said> {
        self.auth.cancel(self.address).await?;
        let mut said = Said::end(Line::new("voice.no.input"), Outcome::Failed);
        said.lines.push(Line::new("voice.goodbye"));
        Ok(said)
    }

    async fn finish(
        &self,
        situation: &Situation<'_>,
        mut said: Said,
        state: Option<ConversationState>,
    ) -> FlowResult<Answer> {
        let (auth, address, flow) = (self.auth, self.address, self.flow);
        // A dialog that failed leaves no code alive behind it (a lockout, a spent budget).
        if said.outcome == Some(Outcome::Failed) {
            auth.cancel(address).await?;
        }
        let signed_in = matches!(said.outcome, Some(Outcome::Authenticated | Outcome::AlreadyAuthenticated));
        let state = match state {
            Some(state @ ConversationState::Authenticated { tokens: Some(_), .. }) => state,
            _ if signed_in => auth.token(address).await?,
            _ => auth.state(address).await?,
        };
        let redirect = match (&said.outcome, &state) {
            (Some(Outcome::Authenticated), ConversationState::Authenticated { subject, .. }) => {
                let accepted = match &flow.terms_url {
                    Some(url) => Some(self.terms.accepted(url, &subject.id).await),
                    None => None,
                };
                redirect(flow, situation.notes.intent.clone(), accepted)
            }
            (Some(Outcome::AlreadyAuthenticated), _) => redirect(flow, situation.notes.intent.clone(), None),
            _ => None,
        };
        if standing_of(&state) == Standing::Unidentified && said.step == Step::AskCode {
            // The code went away between the domain's answer and now: ask again.
            said = prompt(situation);
        }
        match &said.memory {
            Some(memory) => auth.remember_dialog(address, memory).await?,
            None => auth.forget_dialog(address).await?,
        }
        let variant = self.keypad.then_some("voice");
        let replies = said
            .lines
            .iter()
            .map(|line| {
                let args: Vec<(&str, &str)> = line.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
                Reply { key: line.key.to_string(), text: auth.texts().render(&self.language, line.key, variant, &args) }
            })
            .collect();
        Ok(Answer {
            state,
            step: said.step,
            replies,
            expect: expect(said.step, self.keypad, auth.config.otp.length as usize),
            outcome: said.outcome,
            redirect,
            locale: self.language.clone(),
        })
    }
}

fn standing_of(state: &ConversationState) -> Standing {
    match state {
        ConversationState::Unidentified => Standing::Unidentified,
        ConversationState::Pending { .. } => Standing::Pending,
        ConversationState::Authenticated { .. } => Standing::Authenticated,
    }
}
