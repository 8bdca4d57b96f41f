//! doorman's integration tests: the real router on a real port with a real database.
//! Set DOORMAN_TEST_DATABASE_URL=postgres://... to run them all against PostgreSQL.
mod admin;
mod bad_input;
mod cli;
mod clients;
mod codes;
mod conversation_flow;
mod dialog;
mod email;
mod evidence;
mod helpers;
mod introspection;
mod limits;
mod lockouts;
mod oauth;
mod openapi;
mod operator_cli;
mod providers;
mod proxy;
mod resend;
mod restart;
mod selection;
mod sessions;
mod test_codes;
mod tokens;
mod twilio;
mod twilio_verify;
