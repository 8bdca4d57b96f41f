//! Twilio's request validation (`X-Twilio-Signature`), as its helper libraries do it:
//! base64(HMAC-SHA1(auth token, URL + every POST parameter's name and value, sorted by name
//! and then by value)). Only form POSTs are covered; Twilio's JSON variant (`bodySHA256`)
//! is not used by voice webhooks.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The signature Twilio sends for a request to `url` carrying `params`.
pub fn compute(auth_token: &[u8], url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // Tuples order by name, then value: exactly Twilio's rule for repeated names. Byte order
    // of UTF-8 is code-point order, which is how the Python library sorts.
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time comparison (subtle); tries the URL as given and with/without the default port like Twilio's own validator.
///
/// Twilio's back end does not always sign the port the same way, so its validators accept
/// the URL without any port and with its port (the scheme's default when none is written).
pub fn is_valid(auth_token: &[u8], url: &str, params: &[(String, String)], presented: &str) -> bool {
    if presented.is_empty() {
        return false;
    }
    let presented = presented.as_bytes();
    let [without, with] = port_variants(url);
    // Both are always computed and compared so the time taken says nothing about which matched.
    let matches = compute(auth_token, &without, params).as_bytes().ct_eq(presented)
        | compute(auth_token, &with, params).as_bytes().ct_eq(presented);
    matches.into()
}

/// `url` without its port, and `url` with its port (443 for https, else 80, when none is
/// written). One of the two is `url` itself. A URL without `scheme://` is returned twice.
fn port_variants(url: &str) -> [String; 2] {
    let Some(scheme_end) = url.find("://") else {
        return [url.to_string(), url.to_string()];
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..].find(['/', '?', '#']).map_or(url.len(), |i| authority_start + i);
    let host_start =
        url[authority_start..authority_end].rfind('@').map_or(authority_start, |i| authority_start + i + 1);
    let host = &url[host_start..authority_end];
    // An IPv6 literal's colons sit inside its brackets; a port can only follow them.
    let after_brackets = host.rfind(']').map_or(0, |i| i + 1);
    let port_colon = host[after_brackets..].rfind(':').map(|i| host_start + after_brackets + i);
    let written_port = port_colon.filter(|&colon| {
        let port = &url[colon + 1..authority_end];
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
    });
    let (head, tail) = url.split_at(authority_end);
    match written_port {
        Some(colon) => [format!("{}{tail}", &url[..colon]), url.to_string()],
        None => {
            let default = if url[..scheme_end].eq_ignore_ascii_case("https") { 443 } else { 80 };
            [url.to_string(), format!("{head}:{default}{tail}")]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] = b"12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params(from: &str) -> Vec<(String, String)> {
        [("CallSid", "CA1234567890ABCDE"), ("Caller", from), ("Digits", "1234"), ("From", from), ("To", "+18005551212")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The worked example of Twilio's "Webhooks security" guide.
    #[test]
    fn twilios_published_example() {
        assert_eq!(compute(TOKEN, URL, &params("+12349013030")), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(is_valid(TOKEN, URL, &params("+12349013030"), "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
    }

    /// Vectors from twilio-python's tests/unit/test_request_validator.py.
    #[test]
    fn twilio_python_vectors_with_and_without_port() {
        let p = params("+14158675309");
        assert_eq!(compute(TOKEN, URL, &p), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        // Signed without the port, called with one: the port is dropped.
        assert!(is_valid(
            TOKEN,
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        // Signed with port 1234 over http, called with it: kept as written.
        assert!(is_valid(TOKEN, "http://mycompany.com:1234/myapp.php?foo=1&bar=2", &p, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="));
        // Signed with the default port, called without: 443 / 80 are added.
        assert!(is_valid(TOKEN, URL, &p, "kvajT1Ptam85bY51eRf/AJRuM3w="));
        assert!(is_valid(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", &p, "0ZXoZLH/DfblKGATFgpif+LLRf4="));
        // A default port is only the scheme's own: https signed with :80 does not pass.
        let with_80 = compute(TOKEN, "https://mycompany.com:80/myapp.php?foo=1&bar=2", &p);
        assert!(!is_valid(TOKEN, URL, &p, &with_80));
    }

    #[test]
    fn parameter_order_does_not_matter_but_repeated_names_sort_by_value() {
        let mut p = params("+12349013030");
        p.reverse();
        assert_eq!(compute(TOKEN, URL, &p), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        let repeated = |a: &str, b: &str| vec![("A".to_string(), a.to_string()), ("A".to_string(), b.to_string())];
        assert_eq!(compute(TOKEN, URL, &repeated("2", "1")), compute(TOKEN, URL, &repeated("1", "2")));
        assert_eq!(compute(TOKEN, &format!("{URL}A1A2"), &[]), compute(TOKEN, URL, &repeated("2", "1")));
    }

    #[test]
    fn anything_changed_fails() {
        let good = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        let mut changed = params("+12349013030");
        changed[2].1 = "1235".into();
        assert!(!is_valid(TOKEN, URL, &changed, good));
        let mut extra = params("+12349013030");
        extra.push(("SpeechResult".into(), String::new()));
        assert!(!is_valid(TOKEN, URL, &extra, good));
        assert!(!is_valid(TOKEN, "https://mycompany.com/myapp.php?foo=1&bar=3", &params("+12349013030"), good));
        assert!(!is_valid(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", &params("+12349013030"), good));
        assert!(!is_valid(b"12346", URL, &params("+12349013030"), good));
        assert!(!is_valid(TOKEN, URL, &params("+12349013030"), "0/KCTR6DLpKmkAf8muzZqo1nDgQ"));
    }

    #[test]
    fn missing_signature_fails() {
        assert!(!is_valid(TOKEN, URL, &params("+12349013030"), ""));
        assert!(!is_valid(TOKEN, "", &[], ""));
    }

    #[test]
    fn port_variants_respect_userinfo_and_ipv6() {
        assert_eq!(
            port_variants("https://u:p@host:8443/x?y=1:2"),
            ["https://u:p@host/x?y=1:2".to_string(), "https://u:p@host:8443/x?y=1:2".to_string()]
        );
        assert_eq!(port_variants("http://[::1]/v"), ["http://[::1]/v".to_string(), "http://[::1]:80/v".to_string()]);
        assert_eq!(port_variants("HTTPS://h"), ["HTTPS://h".to_string(), "HTTPS://h:443".to_string()]);
        assert_eq!(port_variants("http://[::1]:9/v")[0], "http://[::1]/v");
    }
}
