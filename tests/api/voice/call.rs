//! A phone call as Twilio makes it: form posts signed with the Twilio auth token over the
//! URL as Twilio would call it (doorman's `public_url`), and TwiML read back with quick-xml.
use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use reqwest::Response;

use crate::helpers::TestApp;

pub const TWILIO_TOKEN: &str = "twilio-auth-token-0123456789abcdef";
pub const IVR_BOT: (&str, &str) = ("ivr-bot", "ivr-bot-secret-0123456789");
pub const NEXT_URL: &str = "https://ivr.example.com/after-login";
pub const PUBLIC_URL: &str = "http://doorman.test";
pub const WEBHOOK: &str = "/v1/voice/twilio";
/// Not Ana's phone: codes must never go to the caller's number.
pub const CALLER: &str = "+15550001111";

pub struct Call<'a> {
    pub app: &'a TestApp,
    pub sid: String,
    /// Path and query of where the last TwiML sends the call next.
    pub next: String,
}

impl<'a> Call<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let sid = format!("CA{}", doorman::crypto::random_token(16).to_lowercase());
        Self { app, sid, next: WEBHOOK.into() }
    }

    /// The parameters Twilio sends on every request of the call, plus `extra`.
    pub fn params(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let base = [
            ("AccountSid", "AC00000000000000000000000000000000"),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", self.sid.as_str()),
            ("CallStatus", "in-progress"),
            ("Direction", "inbound"),
            ("From", CALLER),
            ("Caller", CALLER),
            ("To", "+15557654321"),
        ];
        base.iter().chain(extra).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Posts `params` to `path` (path and query), signed as Twilio signs them.
    pub async fn post_signed(&self, path: &str, params: &[(String, String)]) -> Response {
        let signature = sign(TWILIO_TOKEN, path, params);
        self.post_with(path, params, Some(&signature)).await
    }

    pub async fn post_with(&self, path: &str, params: &[(String, String)], signature: Option<&str>) -> Response {
        let request = self.app.http.post(format!("{}{path}", self.app.url)).form(params);
        let request = match signature {
            Some(signature) => request.header("X-Twilio-Signature", signature),
            None => request,
        };
        request.send().await.expect("request sent")
    }

    /// A signed request where the call stands now; the TwiML it gets back, and where the
    /// call goes next.
    pub async fn twiml(&mut self, extra: &[(&str, &str)]) -> Node {
        let path = self.next.clone();
        let root = read_twiml(self.post_signed(&path, &self.params(extra)).await).await;
        if let Some(gather) = root.child("Gather") {
            self.next = relative(&gather.attributes["action"]);
        }
        root
    }

    pub async fn press(&mut self, digits: &str) -> Node {
        self.twiml(&[("Digits", digits)]).await
    }

    /// Nobody typed: Twilio follows the Redirect after the Gather.
    pub async fn stay_silent(&mut self, asked: &Node) -> Node {
        self.next = relative(&asked.child("Redirect").expect("a Redirect after the Gather").text);
        self.twiml(&[]).await
    }

    /// Twilio's status callback for this call.
    pub async fn status(&self, path: &str, status: &str) -> Response {
        let mut params = self.params(&[]);
        params.retain(|(k, _)| k != "CallStatus");
        params.push(("CallStatus".into(), status.into()));
        params.push(("CallDuration".into(), "42".into()));
        self.post_signed(path, &params).await
    }

    /// `POST /v1/conversations/voice/{CallSid}/{action}` (or GET the state) as `bot`.
    pub async fn conversation(&self, bot: (&str, &str), action: &str) -> Response {
        let url = self.app.conversation_url("voice", &self.sid, action);
        let request = if action.is_empty() { self.app.http.get(url) } else { self.app.http.post(url) };
        request.basic_auth(bot.0, Some(bot.1)).send().await.expect("request sent")
    }

    /// The code typed into the conversation API instead of the keypad.
    pub async fn verify(&self, code: &str) -> Response {
        let url = self.app.conversation_url("voice", &self.sid, "verify");
        let request = self.app.http.post(url).basic_auth(IVR_BOT.0, Some(IVR_BOT.1));
        request.json(&serde_json::json!({ "code": code })).send().await.expect("request sent")
    }

    pub async fn state(&self) -> serde_json::Value {
        self.conversation(IVR_BOT, "").await.json().await.expect("JSON state")
    }
}

/// Twilio's signature of a request to doorman's public URL + `path`.
pub fn sign(token: &str, path: &str, params: &[(String, String)]) -> String {
    doorman::voice::signature::compute(token.as_bytes(), &format!("{PUBLIC_URL}{path}"), params)
}

fn relative(url: &str) -> String {
    url.strip_prefix(PUBLIC_URL).unwrap_or_else(|| panic!("{url} is not under public_url {PUBLIC_URL}")).to_string()
}

pub async fn read_twiml(response: Response) -> Node {
    let status = response.status();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (content_type, cache) = (header("content-type"), header("cache-control"));
    let body = response.text().await.expect("body");
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type.as_deref(), Some("text/xml"), "{body}");
    assert_eq!(cache.as_deref(), Some("no-store"));
    let root = parse(&body);
    assert_eq!(root.name, "Response", "{body}");
    root
}

/// An element of a TwiML document.
#[derive(Debug, Default)]
pub struct Node {
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }

    /// Everything the caller hears, Gather prompts included.
    pub fn says(&self) -> String {
        let own = (self.name == "Say").then_some(self.text.clone());
        own.into_iter()
            .chain(self.children.iter().map(Node::says))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A question: a dtmf Gather posting to the webhook, with a Say inside, then the
    /// Redirect taken on silence. Returns the Gather.
    pub fn asks(&self) -> &Node {
        assert_eq!(self.names(), ["Gather", "Redirect"], "{self:#?}");
        let gather = &self.children[0];
        assert_eq!(gather.attributes["input"], "dtmf");
        assert_eq!(gather.attributes["method"], "POST");
        assert_eq!(gather.attributes["finishOnKey"], "#");
        assert_eq!(gather.attributes["action"], format!("{PUBLIC_URL}{WEBHOOK}"));
        assert!(!gather.children.is_empty() && gather.children.iter().all(|s| s.name == "Say"), "{gather:#?}");
        let redirect = &self.children[1];
        assert_eq!(redirect.attributes["method"], "POST");
        assert_eq!(redirect.text, format!("{PUBLIC_URL}{WEBHOOK}?silence=1"));
        gather
    }

    /// The last words, then a hang-up.
    pub fn hangs_up(&self) -> bool {
        let names = self.names();
        names.last() == Some(&"Hangup") && names.len() > 1 && names[..names.len() - 1].iter().all(|n| *n == "Say")
    }
}

fn parse(xml: &str) -> Node {
    let mut reader = Reader::from_str(xml);
    // The bottom of the stack collects the root element.
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Decl(_) => {}
            Event::Start(e) => stack.push(node(&e)),
            Event::Empty(e) => stack.last_mut().unwrap().children.push(node(&e)),
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.decode().unwrap()),
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap();
                let resolved = quick_xml::escape::resolve_xml_entity(&name).expect("a predefined entity");
                stack.last_mut().unwrap().text.push_str(resolved);
            }
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().expect("balanced").children.push(done);
            }
            Event::Eof => break,
            other => panic!("unexpected {other:?} in {xml}"),
        }
    }
    let mut document = stack.pop().unwrap();
    assert!(stack.is_empty() && document.children.len() == 1, "one root element: {xml}");
    document.children.remove(0)
}

fn node(e: &BytesStart) -> Node {
    let attributes = e
        .attributes()
        .map(|a| {
            let a = a.unwrap();
            let value = a.normalized_value(XmlVersion::Explicit1_0).unwrap().into_owned();
            (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), value)
        })
        .collect();
    Node { name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(), attributes, ..Node::default() }
}
