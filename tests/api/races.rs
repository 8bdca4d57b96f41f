//! The right code arriving many times at once: one login, and every other copy is told
//! the truth about the conversation (it is authenticated), never "identify again".
use std::collections::BTreeMap;

use futures::future::join_all;

use crate::helpers::*;

#[tokio::test]
async fn parallel_right_codes_log_in_once_and_the_others_hear_already_authenticated() {
    let app = spawn_app().await;
    app.add_ana().await;
    for round in 0..3 {
        let conversation = format!("race-{round}");
        let code = app.identify_and_receive(&conversation, "4721").await;
        let answers = join_all((0..24).map(|_| async {
            let (status, body) = error_of(app.verify(&conversation, &code).await).await;
            format!("{status} {}", body["error"].as_str().unwrap_or("ok"))
        }))
        .await;
        let mut counted = BTreeMap::new();
        for answer in answers {
            *counted.entry(answer).or_insert(0) += 1;
        }
        assert_eq!(counted.get("200 ok"), Some(&1), "round {round}: {counted:?}");
        assert_eq!(counted.get("409 already_authenticated"), Some(&23), "round {round}: {counted:?}");
        assert_eq!(app.state_of(&conversation).await["state"], "authenticated");
    }
}
