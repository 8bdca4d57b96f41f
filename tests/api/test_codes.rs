//! `[delivery.test_codes]`: QA destinations get no message, and their fixed code verifies.
use crate::helpers::spawn_app_with;

#[tokio::test]
async fn a_test_destination_gets_nothing_and_its_fixed_code_verifies() {
    let app = spawn_app_with(|c| {
        c.delivery.test_codes.insert("+34 665 762 878".into(), "123456".into());
    })
    .await;
    app.add_ana().await;

    assert_eq!(app.identify("c1", "4721").await.status(), 200);
    assert_eq!(app.verify("c1", "654321").await.status(), 422, "only the fixed code verifies");
    assert_eq!(app.verify("c1", "123456").await.status(), 200);
    assert_eq!(app.sink.count(), 0, "nothing is sent to a QA number");
    let audit = app.audit_text().await;
    assert!(audit.lines().any(|l| l.starts_with("code.sent") && l.contains("\"test_code\":true")), "{audit}");
}
