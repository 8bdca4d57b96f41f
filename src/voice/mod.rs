//! The phonebot keypad over Twilio Voice (DESIGN.md §10): the pure pieces the
//! `POST /v1/voice/twilio` handler is built from.
pub mod signature;
pub mod twiml;
