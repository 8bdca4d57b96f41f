//! Spanish, English commands in a Spanish conversation, and the operator's own texts.
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_spanish_conversation_is_held_in_spanish() {
    let app = spawn_app_with(|c| {
        c.flows[0].identifier_label = [("es".to_string(), "número de empleado".to_string())].into();
    })
    .await;
    app.add_ana().await;
    let said = message(&app, "c", json!({"text": "Quiero ver mi nómina", "locale": "es-ES"})).await;
    assert_eq!(said.0["locale"], "es");
    assert!(said.text().contains("número de empleado"), "{}", said.text());
    let said = say(&app, "c", "Mi número es 4721.").await;
    assert_eq!(said.key(), "login.otp.sms.sent.message");
    assert!(said.text().contains("***78") && said.text().contains("5 minutos"), "{}", said.text());
    let delivered = app.sink.wait_for(1).await;
    assert_eq!(delivered["locale"], "es", "the code message follows the conversation");
    assert!(delivered["message"].as_str().unwrap().contains("Tu código"));
    let code = delivered["code"].as_str().unwrap().to_string();
    let said = say(&app, "c", &wrong_code(&code)).await;
    assert!(said.text().contains("2 intentos"), "{}", said.text());
    let said = say(&app, "c", &wrong_code(&code)).await;
    assert!(said.text().contains("1 intento") && !said.text().contains("intentos"), "singular: {}", said.text());
    let said = say(&app, "c", "¡Cancelar!").await;
    assert_eq!(said.outcome(), "cancelled");
    message(&app, "d", json!({"text": "hola", "locale": "es"})).await;
    assert_eq!(say(&app, "d", "Cancel.").await.outcome(), "cancelled", "English commands work in Spanish too");
}

#[tokio::test]
async fn an_operator_override_replaces_a_text_and_the_rest_fall_back() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("en.toml"), "\"login.otp.success\" = \"Welcome back, you are in.\"\n").unwrap();
    std::fs::write(dir.path().join("pt.toml"), "\"login.otp.cancelled\" = \"Login cancelado.\"\n").unwrap();
    let texts_dir = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| c.dialog.texts_dir = Some(texts_dir)).await;
    app.add_ana().await;
    say(&app, "c", "4721").await;
    let code = code_number(&app, 1).await;
    assert_eq!(say(&app, "c", &code).await.text(), "Welcome back, you are in.");
    let said = message(&app, "p", json!({"text": "oi", "locale": "pt-BR"})).await;
    assert_eq!(said.0["locale"], "pt");
    assert_eq!(said.text(), "To verify your identity, what is your employee number?", "a missing key is English");
    assert_eq!(say(&app, "p", "cancel").await.text(), "Login cancelado.");
}

#[test]
fn an_unknown_key_or_placeholder_in_an_override_is_a_startup_error_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = |dir: &std::path::Path| {
        let mut config = doorman::config::Config::default();
        config.dialog.texts_dir = Some(dir.to_path_buf());
        config.validated().map(drop).unwrap_err().to_string()
    };
    std::fs::write(dir.path().join("es.toml"), "\"login.otp.sucess\" = \"Hola\"\n").unwrap();
    let error = config(dir.path());
    assert!(error.contains("es.toml") && error.contains("login.otp.sucess"), "{error}");
    std::fs::write(dir.path().join("es.toml"), "\"login.otp.success\" = \"Tu código {code}\"\n").unwrap();
    let error = config(dir.path());
    assert!(error.contains("es.toml") && error.contains("login.otp.success") && error.contains("{code}"), "{error}");
}
