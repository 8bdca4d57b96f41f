//! Storage models, generated-style: columns only, no behaviour. Timestamps are Unix
//! milliseconds (`i64`) so that SQLite and PostgreSQL compare them the same way.
pub mod audit_checkpoint;
pub mod audit_event;
pub mod challenge;
pub mod client;
pub mod conversation;
pub mod dialog;
pub mod guard;
pub mod record;
pub mod record_identifier;
pub mod refresh_token;
pub mod send_counter;
pub mod server_secret;
pub mod session;
