//! The phonebot keypad over Twilio Voice (DESIGN.md §10): the pure pieces the
//! `POST /v1/voice/twilio` handler is built from.
pub mod signature;
pub mod twiml;

// `[voice]` lives with the rest of the configuration; it is declared here until
// `config::Config` takes it in, so that it compiles and its tests run.
#[path = "../config/voice.rs"]
pub mod config;
