use std::collections::BTreeSet;
use std::path::Path;

use super::*;

/// A texts dir holding `files` (name, content), loaded.
fn load(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Texts, TextsError>) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write a texts file");
    }
    let texts = Texts::load(Some(dir.path()));
    (dir, texts)
}

fn error(files: &[(&str, &str)]) -> (String, String) {
    let (dir, texts) = load(files);
    let Err(e) = texts else { panic!("{files:?} loaded") };
    (dir.path().display().to_string(), e.to_string())
}

fn builtin(locale: &str) -> &'static Entries {
    &BUILTIN[locale]
}

fn placeholders_of(texts: &[&str]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for text in texts {
        let mut rest = *text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else { break };
            found.insert(rest[open + 1..open + close].to_string());
            rest = &rest[open + close..];
        }
    }
    found
}

#[test]
fn every_builtin_language_has_every_key_and_the_same_variants() {
    let all: BTreeSet<&str> = Texts::keys().collect();
    let english: BTreeSet<&String> = builtin("en").keys().collect();
    for (locale, _, _) in BUILTIN_FILES {
        let entries = builtin(locale);
        let missing: Vec<_> = all.iter().filter(|key| !entries.contains_key(**key)).collect();
        assert!(missing.is_empty(), "{locale} lacks {missing:?}");
        assert_eq!(entries.keys().collect::<BTreeSet<_>>(), english, "{locale}: keys and variants differ from en");
    }
    for base in [
        "identifier.prompt",
        "phone.number",
        "identifier.invalid",
        "sms.sent.message",
        "code.prompt",
        "code.invalid",
        "confirm.phone.number",
    ] {
        assert!(english.contains(&format!("login.otp.{base}.voice")), "no voice variant of {base}");
    }
}

#[test]
fn builtin_files_pass_the_override_checks_and_each_language_uses_the_same_placeholders() {
    for (_, file, text) in BUILTIN_FILES {
        template::parse(file, text).unwrap_or_else(|e| panic!("{e}"));
    }
    for (key, template) in builtin("en") {
        let english = placeholders_of(&template.texts());
        let spanish = placeholders_of(&builtin("es")[key].texts());
        assert_eq!(english, spanish, "{key}");
        if !key.ends_with(".command") {
            let offered: BTreeSet<String> =
                Texts::offers(key).unwrap_or_default().iter().map(|s| s.to_string()).collect();
            assert!(english.is_subset(&offered), "{key} uses {english:?}, offers {offered:?}");
        }
    }
}

#[test]
fn english_wording_follows_the_seed_conversation() {
    let texts = Texts::builtin();
    let sent = texts.render("en", "login.otp.sms.sent.message", None, &[("destination", "***78"), ("minutes", "5")]);
    assert_eq!(
        sent,
        "I found your record. We sent a verification code to the number ***78 registered in your profile. \
         Please enter the code (expires in 5 minutes)."
    );
    let prompt = texts.render("en", "login.otp.identifier.prompt", None, &[("identifier_label", "employee number")]);
    assert_eq!(prompt, "To verify your identity, what is your employee number?");
    assert_eq!(texts.render("en", "login.otp.success", None, &[]), "Identity verified. You are now signed in.");
}

#[test]
fn plural_forms_follow_the_count_in_english_and_spanish() {
    let texts = Texts::builtin();
    let invalid = |language, n| texts.render(language, "login.otp.code.invalid", None, &[("attempts_remaining", n)]);
    assert_eq!(invalid("en", "1"), "Incorrect code. You have 1 attempt remaining.");
    assert_eq!(invalid("en", "2"), "Incorrect code. You have 2 attempts remaining.");
    assert_eq!(invalid("en", "0"), "Incorrect code. You have 0 attempts remaining.");
    assert_eq!(invalid("es", "1"), "Código incorrecto. Te queda 1 intento.");
    assert_eq!(invalid("es", "2"), "Código incorrecto. Te quedan 2 intentos.");
    let soon = |language, n| texts.render(language, "login.otp.resend.too.soon", None, &[("seconds", n)]);
    assert!(soon("en", "1").contains("1 second before"), "{}", soon("en", "1"));
    assert!(soon("es", "30").contains("30 segundos"), "{}", soon("es", "30"));
    // The count picks the form even when other placeholders come first.
    let unknown = texts.render(
        "en",
        "login.otp.identifier.unknown",
        None,
        &[("identifier_label", "employee number"), ("attempts_remaining", "1")],
    );
    assert!(unknown.ends_with("You have 1 attempt remaining."), "{unknown}");
    // No count given: the `other` form, placeholder left visible.
    assert!(texts.render("en", "login.otp.locked", None, &[]).contains("{minutes} minutes"));
}

#[test]
fn voice_variants_are_preferred_when_asked_for_and_the_base_key_otherwise() {
    let texts = Texts::builtin();
    let args = [("digits", "6")];
    let voice = texts.render("es", "login.otp.code.prompt", Some("voice"), &args);
    assert!(voice.contains("almohadilla"), "{voice}");
    assert_eq!(
        texts.render("es", "login.otp.code.prompt", None, &args),
        "Por favor, introduce el código de 6 cifras que te hemos enviado."
    );
    // No voice variant of this key: the base text.
    assert_eq!(
        texts.render("en", "login.otp.success", Some("voice"), &[]),
        "Identity verified. You are now signed in."
    );
}

#[test]
fn values_are_substituted_once() {
    let texts = Texts::builtin();
    let text = texts.render("en", "otp.message", None, &[("code", "{minutes}"), ("minutes", "5")]);
    assert!(text.starts_with("Your verification code is {minutes}. It expires in 5 minutes."), "{text}");
}

#[test]
fn a_language_without_texts_and_a_key_an_override_lacks_fall_back_to_english() {
    let (_dir, texts) = load(&[("pt.toml", "\"login.otp.success\" = \"Identidade verificada.\"\n")]);
    let texts = texts.expect("pt.toml loads");
    assert_eq!(texts.render("pt", "login.otp.success", None, &[]), "Identidade verificada.");
    assert_eq!(texts.render("pt-BR", "login.otp.success", None, &[]), "Identidade verificada.");
    assert_eq!(
        texts.render("pt", "login.otp.cancelled", None, &[]),
        "Login cancelled. Message me again whenever you want to sign in."
    );
    assert_eq!(texts.render("de", "login.otp.success", None, &[]), "Identity verified. You are now signed in.");
    assert_eq!(texts.render("not a tag", "voice.goodbye", None, &[]), "Goodbye.");
}

#[test]
fn a_regional_override_falls_back_to_its_language_before_english() {
    let (_dir, texts) = load(&[("es-MX.toml", "\"login.otp.success\" = \"¡Listo! Ya iniciaste sesión.\"\n")]);
    let texts = texts.expect("es-MX.toml loads");
    assert_eq!(texts.render("es_mx", "login.otp.success", None, &[]), "¡Listo! Ya iniciaste sesión.");
    assert_eq!(
        texts.render("es-MX", "login.otp.code.invalid", None, &[("attempts_remaining", "1")]),
        "Código incorrecto. Te queda 1 intento."
    );
    assert_eq!(texts.render("es-ES", "login.otp.success", None, &[]), "Identidad verificada. Ya has iniciado sesión.");
}

#[test]
fn an_override_replaces_its_keys_and_keeps_the_rest() {
    let (_dir, texts) = load(&[
        (
            "en.toml",
            "\"login.otp.success\" = \"Welcome back!\"\n\"login.otp.code.invalid\" = \"Wrong code, {attempts_remaining} left.\"\n",
        ),
        ("README.md", "not a resource file"),
    ]);
    let texts = texts.expect("en.toml loads");
    assert_eq!(texts.render("en", "login.otp.success", None, &[]), "Welcome back!");
    // A plain string serves every count.
    assert_eq!(
        texts.render("en", "login.otp.code.invalid", None, &[("attempts_remaining", "1")]),
        "Wrong code, 1 left."
    );
    assert_eq!(texts.render("en", "voice.goodbye", None, &[]), "Goodbye.");
    // The built-in variant stays: a call still hears keypad instructions.
    let voice = texts.render("en", "login.otp.code.invalid", Some("voice"), &[("attempts_remaining", "2")]);
    assert!(voice.contains("pound key"), "{voice}");
    // Other texts are untouched by another instance's overrides.
    assert_eq!(
        Texts::builtin().render("en", "login.otp.success", None, &[]),
        "Identity verified. You are now signed in."
    );
}

#[test]
fn dotted_keys_sections_and_plural_tables_are_read_as_written() {
    let file = "[login.otp]\nsuccess = \"Signed in.\"\ncode.invalid = { one = \"Last try!\", other = \"{attempts_remaining} tries left.\" }\n\
                code.prompt.voice = \"Type the {digits} digits.\"\n";
    let (_dir, texts) = load(&[("en.toml", file)]);
    let texts = texts.expect("nested form loads");
    assert_eq!(texts.render("en", "login.otp.success", None, &[]), "Signed in.");
    assert_eq!(texts.render("en", "login.otp.code.invalid", None, &[("attempts_remaining", "1")]), "Last try!");
    assert_eq!(texts.render("en", "login.otp.code.invalid", None, &[("attempts_remaining", "3")]), "3 tries left.");
    assert_eq!(texts.render("en", "login.otp.code.prompt", Some("voice"), &[("digits", "6")]), "Type the 6 digits.");
}

#[test]
fn an_unknown_key_is_an_error_naming_the_file_and_the_key() {
    let (dir, message) = error(&[("pt.toml", "\"login.otp.foo\" = \"x\"\n")]);
    assert_eq!(message, format!("{}: unknown key `login.otp.foo`", Path::new(&dir).join("pt.toml").display()));
    let (_, message) = error(&[("en.toml", "\"login.otp.cancel.command.voice\" = \"x\"\n")]);
    assert!(message.ends_with("en.toml: unknown key `login.otp.cancel.command.voice`"), "{message}");
    let (_, message) = error(&[("en.toml", "[login.otp.success]\nextra = \"x\"\n")]);
    assert!(message.ends_with("en.toml: unknown key `login.otp.success.extra`"), "{message}");
}

#[test]
fn a_placeholder_the_key_does_not_offer_is_an_error_naming_the_file_and_the_key() {
    let (dir, message) = error(&[("en.toml", "\"login.otp.success\" = \"Your code was {code}.\"\n")]);
    let file = Path::new(&dir).join("en.toml");
    assert_eq!(
        message,
        format!("{}: `login.otp.success` uses {{code}}, which it does not offer (offers: none)", file.display())
    );
    let plural = "\"login.otp.code.invalid\" = { one = \"ok\", other = \"{attempts} left\" }\n";
    let (_, message) = error(&[("es.toml", plural)]);
    assert!(
        message.ends_with(
            "es.toml: `login.otp.code.invalid` uses {attempts}, which it does not offer (offers: {attempts_remaining})"
        ),
        "{message}"
    );
    let (_, message) = error(&[("es.toml", "\"login.otp.resent.voice\" = \"{code}\"\n")]);
    assert!(
        message.contains(
            "`login.otp.resent.voice` uses {code}, which it does not offer (offers: {destination}, {minutes})"
        ),
        "{message}"
    );
}

#[test]
fn malformed_files_are_errors_naming_the_file() {
    let cases: &[(&str, &str, &str)] = &[
        ("en.toml", "\"login.otp.success\" = ", "en.toml: not valid TOML"),
        ("my texts.toml", "", "my texts.toml: the file name is not a locale"),
        ("en.toml", "\"login.otp.success\" = 3\n", "`login.otp.success` must be a string"),
        ("en.toml", "\"login.otp.success\" = { one = \"a\", other = \"b\" }\n", "`login.otp.success` takes a string"),
        ("en.toml", "\"login.otp.code.invalid\" = { one = \"a\" }\n", "`login.otp.code.invalid` needs an `other` form"),
        ("en.toml", "\"login.otp.code.invalid\" = { one = 1, other = \"b\" }\n", "`one` must be a string"),
        ("en.toml", "\"login.otp.cancel.command\" = \"|  |\"\n", "`login.otp.cancel.command` has no command words"),
    ];
    for (name, text, expected) in cases {
        let (_, message) = error(&[(name, text)]);
        assert!(message.contains(expected), "{name} {text:?}: {message}");
    }
    let (_, message) = error(&[("es-MX.toml", ""), ("es-mx.toml", "")]);
    assert!(message.contains("a second file for locale `es-MX`"), "{message}");
    let missing = Texts::load(Some(Path::new("/nonexistent/texts"))).err().map(|e| e.to_string());
    assert!(missing.is_some_and(|m| m.starts_with("/nonexistent/texts: cannot read it")));
}

#[test]
fn language_is_the_first_candidate_with_texts() {
    let (_dir, texts) = load(&[("pt.toml", ""), ("es-MX.toml", "")]);
    let texts = texts.expect("loads");
    let cases: &[(&[Option<&str>], &str, &str)] = &[
        (&[Some("es-ES"), Some("en")], "en", "es"),
        (&[None, Some("fr"), Some("ES_mx")], "en", "es-MX"),
        (&[Some("es-AR")], "en", "es"),
        (&[Some("pt-BR")], "en", "pt"),
        (&[Some("de"), None], "es", "es"),
        (&[Some("de")], "de-AT", "en"),
        (&[Some("???"), Some("EN-gb")], "es", "en"),
        (&[], "es-ES", "es"),
    ];
    for (candidates, default, expected) in cases {
        assert_eq!(texts.language(candidates.iter().copied(), default), *expected, "{candidates:?} / {default}");
    }
    assert_eq!(Texts::builtin().language([Some("pt-BR")], "en"), "en");
}

#[test]
fn commands_match_the_whole_message_in_the_conversation_language_or_english() {
    let texts = Texts::builtin();
    let cancel = "login.otp.cancel.command";
    let new_code = "login.otp.newCode.command";
    let cases: &[(&str, &str, &str, bool)] = &[
        ("es", cancel, "cancelar", true),
        ("es", cancel, "¡Cancelar!", true),
        ("es", cancel, "  CANCELAR.  ", true),
        ("es", cancel, "cancel", true),
        ("es", cancel, "Stop!", true),
        ("en", cancel, "cancelar", false),
        ("en", cancel, "cancel my order", false),
        ("es", cancel, "cancelar mi pedido", false),
        ("en", cancel, "", false),
        ("en", cancel, "!!!", false),
        ("en", new_code, "NEW CODE.", true),
        ("en", new_code, "new   code", true),
        ("en", new_code, "newcode", false),
        ("es", new_code, "nuevo codigo", true),
        ("es", new_code, "Nuevo Código", true),
        ("es", new_code, "¿Otro código?", true),
        ("es", new_code, "resend", true),
        ("es", "login.otp.yes.command", "Sí", true),
        ("es", "login.otp.yes.command", "si", true),
        ("es", "login.otp.yes.command", "yes", true),
        ("es", "login.otp.no.command", "No.", true),
        ("es", "login.otp.yes.command", "no", false),
        ("pt", cancel, "cancel", true),
        ("en", "login.otp.success", "Identity verified. You are now signed in.", false),
    ];
    for (language, key, text, expected) in cases {
        assert_eq!(texts.is_command(language, key, text), *expected, "{language} {key} {text:?}");
    }
}

#[test]
fn an_override_replaces_the_command_words_of_its_language_only() {
    let (_dir, texts) = load(&[("es.toml", "\"login.otp.cancel.command\" = \"anular\"\n")]);
    let texts = texts.expect("loads");
    assert!(texts.is_command("es", "login.otp.cancel.command", "Anular"));
    assert!(!texts.is_command("es", "login.otp.cancel.command", "cancelar"));
    assert!(texts.is_command("es", "login.otp.cancel.command", "cancel"));
}

#[test]
fn texts_can_be_shared_between_requests() {
    fn shared<T: Clone + Send + Sync + 'static>() {}
    shared::<Texts>();
}
