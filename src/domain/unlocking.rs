//! An operator lifts a record's code-login lock: the one way out of the lifetime cap
//! (`otp.max_consecutive_failures`), and a way to end a shorter lockout early. Through
//! the admin API or the CLI alike; the count starts again and the unlock is audited.
use sea_orm::TransactionTrait;
use serde::Serialize;
use serde_json::json;

use super::OTP_SCOPE;
use super::admin::{Admin, AdminError};
use crate::store::audit::AuditEvent;
use crate::store::audit::chain::append_in;
use crate::store::guards::UNTIL_UNLOCKED;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unlocked {
    /// `directory/key`
    pub subject: String,
    /// Whether a lock was in force (a lockout, or the lifetime cap).
    pub was_locked: bool,
    pub was_locked_until_unlocked: bool,
    /// The failed codes in a row that the unlock forgave.
    pub consecutive_failures: u32,
}

impl Admin<'_> {
    /// `via` says who asked (`cli`, `admin_api`), for the audit trail.
    pub async fn unlock_record(&self, directory: &str, key: &str, via: &str) -> Result<Unlocked, AdminError> {
        if self.config.directory(directory).is_none() {
            return Err(AdminError::NotFound(format!("no directory `{directory}`")));
        }
        let record = self.store.find_record_by_key(directory, key).await?;
        let record = record.ok_or_else(|| AdminError::NotFound(format!("no record `{directory}/{key}`")))?;
        let txn = self.store.db().begin().await.map_err(crate::store::StoreError::from)?;
        let cleared = self.store.unlock_in(&txn, OTP_SCOPE, &record.id.to_string()).await?;
        let (consecutive_failures, locked_until) = cleared.unwrap_or((0, None));
        let unlocked = Unlocked {
            subject: record.subject(),
            was_locked: locked_until.is_some_and(|until| until > self.now),
            was_locked_until_unlocked: locked_until == Some(UNTIL_UNLOCKED),
            consecutive_failures,
        };
        let event = AuditEvent {
            kind: "lockout.unlocked",
            client_id: None,
            subject: Some(unlocked.subject.clone()),
            conversation: None,
            detail: json!({"via": via, "was_locked": unlocked.was_locked,
                "was_locked_until_unlocked": unlocked.was_locked_until_unlocked,
                "consecutive_failures": consecutive_failures}),
        };
        append_in(&txn, &[(event, self.now)]).await?;
        txn.commit().await.map_err(crate::store::StoreError::from)?;
        Ok(unlocked)
    }
}
