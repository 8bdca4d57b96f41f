//! Validate doorman's access tokens in a downstream API (DESIGN.md §13).
//!
//! ```no_run
//! use axum::{Router, extract::Path, routing::get};
//! use doorman_verify::{Claims, Options, Rejection, Verifier};
//!
//! async fn payslips(claims: Claims, Path(employee): Path<String>) -> Result<String, Rejection> {
//!     claims.require_any_role(&["view_own_payroll"])?;
//!     claims.require_own("employee_number", &employee)?;
//!     Ok(format!("payslips of {employee}"))
//! }
//!
//! # async fn run() -> Result<(), doorman_verify::SetupError> {
//! let verifier = Verifier::discover(Options::new("https://doorman.example", "doorman")).await?;
//! let app: Router = Router::new().route("/employees/{employee}/payslips", get(payslips)).with_state(verifier);
//! # Ok(()) }
//! ```
//!
//! Keys come from the issuer's JWKS (found through its RFC 8414 metadata, or given), are
//! cached, and are fetched again when a token names an unknown `kid` (at most once per
//! [`Options::refresh_interval`]) or when the set is older than [`Options::max_age`]. If
//! the JWKS cannot be fetched the verifier keeps the keys it has. Each key's algorithm
//! comes from the key set, never from the token.
mod claims;
mod error;
mod extract;
mod keys;
mod verifier;

pub use claims::Claims;
pub use error::{SetupError, VerifyError};
pub use extract::{Guarded, Rejection, RoleGuard, enforce};
pub use verifier::{Options, Verifier, unix_now};
