//! doorman: an auth gateway for chat bots and phonebots. See README.md.
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod dialog;
pub mod domain;
pub mod http;
pub mod keys;
pub mod proxy;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod texts;
pub mod voice;
