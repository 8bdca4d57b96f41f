//! Conversation mode: a bot that keeps no token sends its Basic credentials and the
//! conversation it speaks for; doorman finds that conversation's session.
use super::*;

const CONVERSATION: &str = "whatsapp/%2B34600000001";

fn as_bot(app: &TestApp, bot: (&str, &str), conversation: Option<&str>, path: &str) -> reqwest::RequestBuilder {
    let request = app.http.get(app.proxy_url(path)).basic_auth(bot.0, Some(bot.1));
    match conversation {
        Some(c) => request.header("x-doorman-conversation", c),
        None => request,
    }
}

#[tokio::test]
async fn the_bot_reaches_the_api_for_its_logged_in_conversation() {
    let upstream = Upstream::start().await;
    let (app, _) = proxied(&upstream).await;
    let path = "/employees/4721/payslips/2026-10";
    let seen = seen(as_bot(&app, BOT, Some(CONVERSATION), path).send().await.unwrap()).await;
    assert!(header(&seen, "authorization").unwrap().starts_with("Bearer ey"));
    assert!(seen["headers"].get("x-doorman-conversation").is_none(), "consumed, not forwarded");
    // Her own records only, in this mode too.
    let (status, body) =
        error_of(as_bot(&app, BOT, Some(CONVERSATION), "/employees/4722/payslips/2026-10").send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (403, "forbidden_resource"));
    // Ending the conversation's session ends the bot's access.
    assert_eq!(app.delete("+34600000001").await.status(), 204);
    let (status, body) = error_of(as_bot(&app, BOT, Some(CONVERSATION), path).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (401, "not_authenticated"));
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn wrong_credentials_other_bots_and_missing_conversations_are_refused() {
    let upstream = Upstream::start().await;
    let (app, _) = proxied(&upstream).await;
    let path = "/employees/4721/payslips/2026-10";
    let cases = [
        (as_bot(&app, (BOT.0, "wrong-secret"), Some(CONVERSATION), path), 401, "invalid_client"),
        // Another bot cannot speak for hr-bot's conversation: it has none of its own.
        (as_bot(&app, OTHER_BOT, Some(CONVERSATION), path), 401, "not_authenticated"),
        (as_bot(&app, BOT, Some("whatsapp/%2B34999999999"), path), 401, "not_authenticated"),
        (as_bot(&app, BOT, None, path), 400, "invalid_request"),
        (as_bot(&app, BOT, Some("no-slash"), path), 400, "invalid_request"),
        (as_bot(&app, BOT, Some("WhatsApp!/x"), path), 400, "invalid_request"),
        // Printable, as in a path: no bidi override (U+202E), no byte-order mark (U+FEFF).
        (as_bot(&app, BOT, Some("whatsapp/%E2%80%AE%2B34600000001"), path), 400, "invalid_request"),
        (as_bot(&app, BOT, Some("whatsapp/%EF%BB%BF%2B34600000001"), path), 400, "invalid_request"),
    ];
    for (i, (request, status, code)) in cases.into_iter().enumerate() {
        let (got, body) = error_of(request.send().await.unwrap()).await;
        assert_eq!((got, body["error"].as_str().unwrap()), (status, code), "case {i}: {body}");
    }
    assert_eq!(upstream.hits(), 0);
    // Unreadable conversation headers are audited like every other refusal.
    let denied = app.proxy_events("proxy.denied").await;
    let unreadable = denied.iter().find(|e| e["reason"] == "invalid_request").expect("audited");
    assert_eq!(unreadable["count"], 5, "{denied:?}");
}
