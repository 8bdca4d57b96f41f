//! The login dialog of DESIGN.md §9: doorman holds the conversation itself ("what is your
//! employee number?", "Incorrect code. You have 2 attempts remaining.") on top of the
//! identify / verify / resend / cancel domain, which keeps every rule. The layer is a
//! pure core the tests drive without HTTP — [`hear`] what was said, [`advance`] to a plan,
//! [`after`] an effect to what is said back — and an async [`driver`] that runs the plans
//! with the domain. It never touches the store.
mod advance;
mod after;
mod answer;
pub mod driver;
pub mod format;
mod heard;
mod terms;
pub mod understand;

pub use advance::{Effect, Plan, Rules, Situation, Standing, advance};
pub use after::after;
pub use answer::{Answer, Expect, Redirect, Reply};
pub use driver::{Dialogs, Input, Message};
pub use heard::{Heard, hear};

use serde::Serialize;

use crate::domain::memory::DialogMemory;

/// Where the dialog stands: what the next message should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    AskIdentifier,
    ConfirmChannelNumber,
    AskCode,
    Done,
}

/// How a finished dialog ended (only with `step: done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Authenticated,
    AlreadyAuthenticated,
    Cancelled,
    Failed,
}

/// One text to say: a resource key and its placeholder values, rendered by the driver
/// in the conversation's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Line {
    pub fn new(key: &'static str) -> Self {
        Self { key, args: Vec::new() }
    }

    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }
}

/// What the dialog says, where it then stands, and what it remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub lines: Vec<Line>,
    pub step: Step,
    pub outcome: Option<Outcome>,
    /// None: the dialog is over and forgotten; the next message starts a new one.
    pub memory: Option<DialogMemory>,
}

impl Said {
    /// The dialog goes on at `step`, remembering `memory`.
    pub fn ask(line: Line, step: Step, memory: DialogMemory) -> Self {
        Self { lines: vec![line], step, outcome: None, memory: Some(memory) }
    }

    /// The dialog ends with `outcome`.
    pub fn end(line: Line, outcome: Outcome) -> Self {
        Self { lines: vec![line], step: Step::Done, outcome: Some(outcome), memory: None }
    }
}
