use futures::future::join_all;

use crate::helpers::*;

#[tokio::test]
async fn a_pending_challenge_survives_a_restart() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    let app = app.restart().await;
    assert_eq!(app.state_of("c1").await["state"], "pending");
    assert_eq!(app.verify("c1", &code).await.status(), 200);
}

#[tokio::test]
async fn two_processes_on_one_database_authenticate_a_code_once() {
    let first = spawn_app().await;
    first.add_ana().await;
    let second = first.replica().await;
    let code = first.identify_and_receive("c1", "4721").await;
    let attempts = (0..16).map(|i| if i % 2 == 0 { first.verify("c1", &code) } else { second.verify("c1", &code) });
    let statuses: Vec<u16> = join_all(attempts).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(second.state_of("c1").await["state"], "authenticated");
}
