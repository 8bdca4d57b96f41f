//! TwiML answers for the keypad dialog, written with an XML writer so every text and
//! attribute is escaped by it, never by hand.
use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

/// One `<Say>`: what to say, in which BCP-47 language, with which voice (Twilio's default when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speech {
    pub text: String,
    pub language: String,
    pub voice: Option<String>,
}

/// A `<Gather input="dtmf">` whose digits Twilio posts to `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gather {
    pub num_digits: Option<u32>,
    /// Usually `"#"`.
    pub finish_on_key: String,
    pub timeout_secs: u32,
    /// Absolute URL: Twilio signs it as written, and the next request is checked against it.
    pub action: String,
    pub prompt: Vec<Speech>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceResponse {
    /// Gather with the prompt inside; after the Gather (nothing typed before the timeout) the call
    /// goes to `on_silence`: a <Redirect method="POST"> to that URL (the lead's handler counts silences).
    Ask { gather: Gather, on_silence: String },
    /// <Say>… then <Redirect method="POST">url</Redirect>
    SayAndRedirect { speech: Vec<Speech>, url: String },
    /// <Say>… then <Hangup/>
    SayAndHangUp { speech: Vec<Speech> },
    /// An empty <Response/> (status callbacks)
    Empty,
}

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// The TwiML document for `response`, XML declaration included.
pub fn render(response: &VoiceResponse) -> String {
    let mut writer = Writer::new(Vec::new());
    match write_document(&mut writer, response) {
        // Text and attributes come in as `&str` and the writer copies them, so this is UTF-8.
        Ok(()) => String::from_utf8_lossy(&writer.into_inner()).into_owned(),
        // Writing into a Vec cannot fail; were it ever to, ending the call is the safe answer.
        Err(_) => format!("{DECLARATION}<Response><Hangup/></Response>"),
    }
}

fn write_document(w: &mut Writer<Vec<u8>>, response: &VoiceResponse) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let root = w.create_element("Response");
    match response {
        VoiceResponse::Empty => root.write_empty().map(drop),
        VoiceResponse::Ask { gather, on_silence } => root
            .write_inner_content(|w| {
                write_gather(w, gather)?;
                write_redirect(w, on_silence)
            })
            .map(drop),
        VoiceResponse::SayAndRedirect { speech, url } => root
            .write_inner_content(|w| {
                write_speech(w, speech)?;
                write_redirect(w, url)
            })
            .map(drop),
        VoiceResponse::SayAndHangUp { speech } => root
            .write_inner_content(|w| {
                write_speech(w, speech)?;
                w.create_element("Hangup").write_empty().map(drop)
            })
            .map(drop),
    }
}

fn write_gather(w: &mut Writer<Vec<u8>>, gather: &Gather) -> io::Result<()> {
    let num_digits = gather.num_digits.map(|n| n.to_string());
    let timeout = gather.timeout_secs.to_string();
    let mut element = w
        .create_element("Gather")
        .with_attribute(("input", "dtmf"))
        .with_attribute(("finishOnKey", &*gather.finish_on_key));
    if let Some(n) = &num_digits {
        element = element.with_attribute(("numDigits", n.as_str()));
    }
    element
        .with_attribute(("timeout", timeout.as_str()))
        .with_attribute(("action", gather.action.as_str()))
        .with_attribute(("method", "POST"))
        // Silence falls through to the Redirect after the Gather instead of posting nothing to `action`.
        .with_attribute(("actionOnEmptyResult", "false"))
        .write_inner_content(|w| write_speech(w, &gather.prompt))
        .map(drop)
}

fn write_speech(w: &mut Writer<Vec<u8>>, speech: &[Speech]) -> io::Result<()> {
    for say in speech {
        let mut element = w.create_element("Say").with_attribute(("language", say.language.as_str()));
        if let Some(voice) = &say.voice {
            element = element.with_attribute(("voice", voice.as_str()));
        }
        element.write_text_content(BytesText::new(&say.text))?;
    }
    Ok(())
}

fn write_redirect(w: &mut Writer<Vec<u8>>, url: &str) -> io::Result<()> {
    w.create_element("Redirect").with_attribute(("method", "POST")).write_text_content(BytesText::new(url)).map(drop)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quick_xml::escape::unescape;
    use quick_xml::events::BytesStart;
    use quick_xml::{Reader, XmlVersion};

    use super::*;

    /// An element read back from the rendered XML with quick-xml's reader.
    #[derive(Debug, Default)]
    struct Node {
        name: String,
        attributes: BTreeMap<String, String>,
        text: String,
        children: Vec<Node>,
    }

    fn parse(xml: &str) -> Node {
        let rest = xml.strip_prefix(DECLARATION).unwrap_or_else(|| panic!("no UTF-8 declaration: {xml}"));
        let mut reader = Reader::from_str(rest);
        // The stack's bottom collects the document's root element.
        let mut stack = vec![Node::default()];
        let mut raw_text = vec![String::new()];
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) => {
                    stack.push(node(&e));
                    raw_text.push(String::new());
                }
                Event::Empty(e) => stack.last_mut().unwrap().children.push(node(&e)),
                Event::Text(t) => raw_text.last_mut().unwrap().push_str(&t.decode().unwrap()),
                Event::GeneralRef(r) => raw_text.last_mut().unwrap().push_str(&format!("&{};", r.decode().unwrap())),
                Event::End(_) => {
                    let mut node = stack.pop().unwrap();
                    node.text = unescape(&raw_text.pop().unwrap()).unwrap().into_owned();
                    stack.last_mut().unwrap().children.push(node);
                }
                Event::Eof => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        let mut document = stack.pop().unwrap();
        assert!(stack.is_empty(), "unclosed elements");
        assert_eq!(document.children.len(), 1, "one root element");
        document.children.remove(0)
    }

    fn node(e: &BytesStart) -> Node {
        let attributes = e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.normalized_value(XmlVersion::Explicit1_0).unwrap().into_owned(),
                )
            })
            .collect();
        Node { name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(), attributes, ..Node::default() }
    }

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn say(text: &str) -> Speech {
        Speech { text: text.into(), language: "en-US".into(), voice: Some("Polly.Joanna".into()) }
    }

    const NASTY: &str = r#"Tom & "Jerry" <script>'s</script> ]]>"#;

    #[test]
    fn ask_gathers_with_the_prompt_inside_then_redirects_on_silence() {
        let gather = Gather {
            num_digits: Some(6),
            finish_on_key: "#".into(),
            timeout_secs: 5,
            action: "https://d.example/v1/voice/twilio?step=code&x=\"1\"".into(),
            prompt: vec![say("Type your code."), Speech { voice: None, ..say(NASTY) }],
        };
        let xml = render(&VoiceResponse::Ask {
            gather,
            on_silence: "https://d.example/v1/voice/twilio?silence=1&a=<b>".into(),
        });
        let root = parse(&xml);
        assert_eq!(root.name, "Response");
        let [gather, redirect] = &root.children[..] else { panic!("{xml}") };
        assert_eq!(gather.name, "Gather");
        assert_eq!(
            gather.attributes,
            attrs(&[
                ("input", "dtmf"),
                ("finishOnKey", "#"),
                ("numDigits", "6"),
                ("timeout", "5"),
                ("action", "https://d.example/v1/voice/twilio?step=code&x=\"1\""),
                ("method", "POST"),
                ("actionOnEmptyResult", "false"),
            ])
        );
        let [first, second] = &gather.children[..] else { panic!("{xml}") };
        assert_eq!((first.name.as_str(), first.text.as_str()), ("Say", "Type your code."));
        assert_eq!(first.attributes, attrs(&[("language", "en-US"), ("voice", "Polly.Joanna")]));
        assert_eq!(second.text, NASTY);
        assert_eq!(second.attributes, attrs(&[("language", "en-US")]));
        assert_eq!(redirect.name, "Redirect");
        assert_eq!(redirect.attributes, attrs(&[("method", "POST")]));
        assert_eq!(redirect.text, "https://d.example/v1/voice/twilio?silence=1&a=<b>");
        assert!(!xml.contains("<script>") && !xml.contains("&a=") && xml.contains("&amp;"), "{xml}");
    }

    #[test]
    fn gather_without_a_digit_count_omits_it() {
        let gather = Gather {
            num_digits: None,
            finish_on_key: "#".into(),
            timeout_secs: 7,
            action: "https://d.example/a".into(),
            prompt: vec![],
        };
        let root = parse(&render(&VoiceResponse::Ask { gather, on_silence: "https://d.example/s".into() }));
        assert!(!root.children[0].attributes.contains_key("numDigits"));
        assert_eq!(root.children[0].attributes["timeout"], "7");
    }

    #[test]
    fn say_and_redirect() {
        let xml = render(&VoiceResponse::SayAndRedirect {
            speech: vec![say("Welcome, Ana & co.")],
            url: "https://ivr.example.com/after-login?a=1&b=2".into(),
        });
        let root = parse(&xml);
        let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Say", "Redirect"]);
        assert_eq!(root.children[0].text, "Welcome, Ana & co.");
        assert_eq!(root.children[1].text, "https://ivr.example.com/after-login?a=1&b=2");
        assert_eq!(root.children[1].attributes, attrs(&[("method", "POST")]));
    }

    #[test]
    fn say_and_hang_up() {
        let xml = render(&VoiceResponse::SayAndHangUp { speech: vec![say("Too many attempts."), say(NASTY)] });
        let root = parse(&xml);
        let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Say", "Say", "Hangup"]);
        assert_eq!(root.children[1].text, NASTY);
        assert!(root.children[2].children.is_empty() && root.children[2].text.is_empty());
    }

    #[test]
    fn empty_response() {
        let xml = render(&VoiceResponse::Empty);
        assert_eq!(xml, format!("{DECLARATION}<Response/>"));
        let root = parse(&xml);
        assert!(root.name == "Response" && root.children.is_empty());
    }
}
