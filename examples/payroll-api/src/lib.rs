//! An example downstream API: employees read their own payslips, payroll staff read
//! anyone's. Everything about tokens is `doorman-verify`'s; this file is only the rules.
use axum::extract::Path;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use doorman_verify::{Claims, Guarded, Rejection, RoleGuard, Verifier, enforce};
use serde_json::{Value, json};

pub const OWN_PAYROLL: &str = "view_own_payroll";
pub const PAYROLL_ADMIN: &str = "payroll_admin";

pub fn router(verifier: Verifier) -> Router {
    // Staff-only routes: the guard refuses before the handler runs.
    let staff = Router::new()
        .route("/payroll/summary", get(summary))
        .route_layer(from_fn_with_state(Guarded::new(verifier.clone(), RoleGuard::all_of([PAYROLL_ADMIN])), enforce));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/employees/{employee_number}/payslips", get(payslips))
        .merge(staff)
        .with_state(verifier)
}

/// Seed 000: "employees can only see their own payslips".
async fn payslips(claims: Claims, Path(employee_number): Path<String>) -> Result<Json<Value>, Rejection> {
    claims.require_any_role(&[OWN_PAYROLL, PAYROLL_ADMIN])?;
    if !claims.has_role(PAYROLL_ADMIN) {
        claims.require_own("employee_number", &employee_number)?;
    }
    let months = ["2026-09", "2026-10"];
    let slips: Vec<Value> = months.iter().map(|m| json!({"month": m, "currency": "EUR", "net": 2143.5})).collect();
    Ok(Json(json!({"employee_number": employee_number, "payslips": slips})))
}

async fn summary(claims: Claims) -> Json<Value> {
    Json(json!({"requested_by": claims.sub, "employees": 2, "total_net": 4287.0}))
}
