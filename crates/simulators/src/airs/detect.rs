//! Deterministic detectors: fixed trigger strings and patterns standing in
//! for the real AIRS detection services. `fixtures/airs/README.md` lists them
//! as a test corpus; keep the two in step.

use serde_json::{Value, json};

use super::model::{DetectionResult, PromptDetected, ResponseDetected, Verdict};

/// Prompt injection phrases (matched case-insensitively, on both sides: in a response they
/// are indirect prompt injection, text a tool returned that tries to steer the model).
pub const INJECTION_PHRASES: [&str; 4] = [
    "ignore previous instructions",
    "ignore all previous instructions",
    "disregard your system prompt",
    "you are now dan",
];

/// Toxic phrases (case-insensitive) and the category reported for each.
pub const TOXIC_PHRASES: [(&str, &str); 2] = [
    ("kill yourself", "self-harm"),
    ("i will hurt you", "violence"),
];

/// Malicious code patterns (case-sensitive, `code_prompt`/`code_response` only).
pub const MALICIOUS_CODE_PATTERNS: [&str; 3] = ["rm -rf /", "os.system(", "eval(base64"];

/// Database security phrase (case-insensitive, response side only).
pub const DB_SECURITY_PHRASE: &str = "drop table";

/// Agent threat phrase (case-insensitive, `tool_event.input` only).
pub const AGENT_PHRASE: &str = "exfiltrate";

/// Blocked topic (case-insensitive, both sides).
pub const TOPIC_PHRASE: &str = "competitor-secret";

/// Ungrounded marker (case-sensitive, `response` only).
pub const UNGROUNDED_WORD: &str = "UNGROUNDED";

/// The simulator's URL blocklist: exact host and reported category.
pub const URL_BLOCKLIST: [(&str, &str); 3] = [
    ("malware.test.invalid", "malware"),
    ("phishing.test.invalid", "phishing"),
    ("evil.example.com", "command-and-control"),
];

/// At most this many URLs are listed in a `urlf_report`.
pub const MAX_URLS_REPORTED: usize = 100;

/// Which half of a scan a text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `prompt`, `code_prompt`, `tool_event.input`.
    Prompt,
    /// `response`, `code_response`, `tool_event.output`.
    Response,
}

impl Side {
    /// `data_type` of this side's report entries.
    pub fn data_type(self) -> &'static str {
        match self {
            Self::Prompt => "prompt",
            Self::Response => "response",
        }
    }
}

/// The texts of one side of a scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct SideInput<'a> {
    /// `prompt` or `response`.
    pub text: Option<&'a str>,
    /// `code_prompt` or `code_response`.
    pub code: Option<&'a str>,
    /// `tool_event.input` or `tool_event.output`.
    pub tool: Option<&'a str>,
}

/// A URL found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlHit {
    /// The URL as written.
    pub url: String,
    /// The blocklist category, if the host is blocklisted.
    pub category: Option<&'static str>,
}

/// What the detectors found on one side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// At least one text was present.
    pub scanned: bool,
    /// An injection phrase.
    pub injection: bool,
    /// A Luhn-valid 13-16 digit card number.
    pub card: bool,
    /// A `ddd-dd-dddd` SSN.
    pub ssn: bool,
    /// URLs found (at most [`MAX_URLS_REPORTED`]).
    pub urls: Vec<UrlHit>,
    /// A blocklisted URL host.
    pub url_blocked: bool,
    /// Categories of the toxic phrases found.
    pub toxic: Vec<&'static str>,
    /// A malicious code pattern.
    pub malicious_code: bool,
    /// A destructive SQL statement.
    pub db_security: bool,
    /// An agent threat.
    pub agent: bool,
    /// The blocked topic.
    pub topic: bool,
    /// The ungrounded marker.
    pub ungrounded: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Text,
    Code,
    Tool,
}

/// Runs every detector that applies to `side` over `input`.
pub fn scan(side: Side, input: SideInput<'_>) -> Findings {
    let mut f = Findings::default();
    let fields = [
        (Field::Text, input.text),
        (Field::Code, input.code),
        (Field::Tool, input.tool),
    ];
    for (field, text) in fields {
        let Some(text) = text else { continue };
        f.scanned = true;
        let lower = text.to_ascii_lowercase();
        // Both sides: text a tool returns (a rule description, VM notes, command output)
        // reaches the model too, so an injection there is indirect prompt injection.
        f.injection |= INJECTION_PHRASES.iter().any(|p| lower.contains(p));
        f.card |= has_card_number(text);
        f.ssn |= has_ssn(text);
        find_urls(text, &mut f);
        for (phrase, category) in TOXIC_PHRASES {
            if lower.contains(phrase) && !f.toxic.contains(&category) {
                f.toxic.push(category);
            }
        }
        f.topic |= lower.contains(TOPIC_PHRASE);
        if side == Side::Response {
            f.db_security |= lower.contains(DB_SECURITY_PHRASE);
        }
        match (field, side) {
            (Field::Code, _) => {
                f.malicious_code |= MALICIOUS_CODE_PATTERNS.iter().any(|p| text.contains(p));
            }
            (Field::Tool, Side::Prompt) => f.agent |= lower.contains(AGENT_PHRASE),
            (Field::Text, Side::Response) => f.ungrounded |= text.contains(UNGROUNDED_WORD),
            _ => {}
        }
    }
    f
}

impl Findings {
    /// A card number or SSN.
    pub fn dlp(&self) -> bool {
        self.card || self.ssn
    }

    /// The `prompt_detected` flags.
    pub fn prompt_flags(&self) -> PromptDetected {
        PromptDetected {
            url_cats: self.url_blocked,
            dlp: self.dlp(),
            injection: self.injection,
            toxic_content: !self.toxic.is_empty(),
            malicious_code: self.malicious_code,
            agent: self.agent,
            topic_violation: self.topic,
        }
    }

    /// The `response_detected` flags.
    pub fn response_flags(&self) -> ResponseDetected {
        ResponseDetected {
            injection: self.injection,
            url_cats: self.url_blocked,
            dlp: self.dlp(),
            db_security: self.db_security,
            toxic_content: !self.toxic.is_empty(),
            malicious_code: self.malicious_code,
            agent: self.agent,
            ungrounded: self.ungrounded,
            topic_violation: self.topic,
        }
    }

    /// Report entries for `side`: one per detection service of that side,
    /// none when nothing was scanned. `dlp_report_id` names the DLP report.
    pub fn detection_results(&self, side: Side, dlp_report_id: &str) -> Vec<DetectionResult> {
        if !self.scanned {
            return Vec::new();
        }
        let data_type = side.data_type();
        let entry = |service: &'static str, hit: bool, detail: Value| {
            let verdict = Verdict::of(hit);
            DetectionResult {
                data_type,
                detection_service: service,
                verdict,
                action: verdict.action(),
                result_detail: detail,
            }
        };
        let matched = |hit: bool| if hit { "MATCHED" } else { "NOT MATCHED" };
        let v = |hit: bool| Verdict::of(hit);
        let mut out = Vec::with_capacity(8);
        if side == Side::Prompt {
            out.push(entry(
                "pi",
                self.injection,
                json!({"pi_report": {"verdict": v(self.injection)}}),
            ));
        }
        out.push(entry(
            "dlp",
            self.dlp(),
            json!({"dlp_report": {
                "dlp_report_id": dlp_report_id,
                "dlp_profile_name": "Sensitive Content",
                "dlp_profile_id": "sim-dlp-profile",
                "dlp_profile_version": 1,
                "data_pattern_rule1_verdict": matched(self.card),
                "data_pattern_rule2_verdict": matched(self.ssn),
            }}),
        ));
        let urls: Vec<Value> = self
            .urls
            .iter()
            .map(|u| match u.category {
                Some(c) => json!({"url": u.url, "risk_level": "high", "action": "block", "categories": [c]}),
                None => json!({"url": u.url, "risk_level": "low", "action": "allow", "categories": ["computer-and-internet-info"]}),
            })
            .collect();
        out.push(entry("uf", self.url_blocked, json!({"urlf_report": urls})));
        let toxic = !self.toxic.is_empty();
        out.push(entry(
            "tc",
            toxic,
            json!({"tc_report": {"confidence": "high", "verdict": v(toxic), "toxic_categories": self.toxic}}),
        ));
        out.push(entry(
            "mc",
            self.malicious_code,
            json!({"mc_report": {"verdict": v(self.malicious_code)}}),
        ));
        if side == Side::Response {
            let dbs: Vec<Value> = if self.db_security {
                vec![json!({"sub_type": "delete", "verdict": "malicious", "action": "block"})]
            } else {
                Vec::new()
            };
            out.push(entry("dbs", self.db_security, json!({"dbs_report": dbs})));
        }
        let patterns: Vec<Value> = if self.agent {
            vec![json!({"category_type": "tools-misuse", "verdict": "malicious"})]
        } else {
            Vec::new()
        };
        out.push(entry(
            "agent",
            self.agent,
            json!({"agent_report": {"model_verdict": v(self.agent), "agent_framework": "mcp", "agent_patterns": patterns}}),
        ));
        let blocked: Vec<&str> = if self.topic {
            vec![TOPIC_PHRASE]
        } else {
            Vec::new()
        };
        out.push(entry(
            "tg",
            self.topic,
            json!({"topic_guardrails_report": {
                "allowed_topic_list": "NOT MATCHED",
                "blocked_topic_list": matched(self.topic),
                "blockedTopics": blocked,
            }}),
        ));
        if side == Side::Response {
            let category = if self.ungrounded {
                "ungrounded"
            } else {
                "grounded"
            };
            out.push(entry(
                "cg",
                self.ungrounded,
                json!({"cg_report": {"status": "completed", "category": category, "explanation": format!("simulated contextual grounding: {category}")}}),
            ));
        }
        out
    }
}

/// Maximal runs of digit groups joined by single spaces or dashes: each
/// group with the separator before it.
fn digit_runs(text: &str) -> Vec<Vec<(&str, Option<u8>)>> {
    let b = text.as_bytes();
    let mut runs = Vec::new();
    let mut cur: Vec<(&str, Option<u8>)> = Vec::new();
    let mut sep = None;
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        cur.push((&text[start..i], sep.take()));
        let joined =
            matches!(b.get(i), Some(b' ' | b'-')) && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if joined {
            sep = b.get(i).copied();
            i += 1;
        } else {
            runs.push(std::mem::take(&mut cur));
        }
    }
    runs
}

/// A 13-16 digit number (whole groups of a run) passing the Luhn check.
pub fn has_card_number(text: &str) -> bool {
    digit_runs(text).iter().any(|run| {
        (0..run.len()).any(|start| {
            let mut digits = String::with_capacity(16);
            for (group, _) in &run[start..] {
                digits.push_str(group);
                if digits.len() > 16 {
                    return false;
                }
                if digits.len() >= 13 && luhn(&digits) {
                    return true;
                }
            }
            false
        })
    })
}

/// Three whole groups `ddd-dd-dddd`.
pub fn has_ssn(text: &str) -> bool {
    digit_runs(text).iter().any(|run| {
        run.windows(3).any(|w| {
            w[0].0.len() == 3
                && w[1].0.len() == 2
                && w[2].0.len() == 4
                && w[1].1 == Some(b'-')
                && w[2].1 == Some(b'-')
        })
    })
}

/// The Luhn checksum of an ASCII digit string.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c.wrapping_sub(b'0'));
        if d > 9 {
            return false;
        }
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// Records every `http://` or `https://` URL in `text`.
fn find_urls(text: &str, f: &mut Findings) {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = next_scheme(&lower[from..]) {
        let start = from + pos;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(text.len(), |e| start + e);
        let candidate =
            text[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}']);
        if let Ok(url) = url::Url::parse(candidate) {
            let host = url
                .host_str()
                .unwrap_or_default()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            let category = URL_BLOCKLIST
                .iter()
                .find(|(h, _)| *h == host)
                .map(|(_, c)| *c);
            f.url_blocked |= category.is_some();
            if f.urls.len() < MAX_URLS_REPORTED {
                f.urls.push(UrlHit {
                    url: candidate.to_owned(),
                    category,
                });
            }
        }
        from = end.max(start + 1);
    }
}

fn next_scheme(s: &str) -> Option<usize> {
    match (s.find("http://"), s.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(text: &str) -> Findings {
        scan(
            Side::Prompt,
            SideInput {
                text: Some(text),
                ..SideInput::default()
            },
        )
    }

    #[test]
    fn cards() {
        assert!(has_card_number("card 4111111111111111 ok"));
        assert!(has_card_number("4111 1111 1111 1111"));
        assert!(has_card_number("4111-1111-1111-1111"));
        assert!(has_card_number("amex 3782 822463 10005."));
        assert!(has_card_number("call 555-1234 4111 1111 1111 1111 2024"));
        assert!(!has_card_number("4111111111111112"));
        assert!(!has_card_number("41111111111111110000"));
        assert!(!has_card_number("4111  1111 1111 1111"));
        assert!(!has_card_number("123456789012"));
        assert!(!has_card_number(""));
    }

    #[test]
    fn ssns() {
        assert!(has_ssn("ssn 123-45-6789."));
        assert!(!has_ssn("1234-56-7890"));
        assert!(!has_ssn("123 45 6789"));
        assert!(!has_ssn("123-456-789"));
    }

    #[test]
    fn luhn_rejects_non_digits() {
        assert!(luhn("79927398713"));
        assert!(!luhn("7992739871a"));
    }

    #[test]
    fn urls() {
        let f = prompt("see https://malware.test.invalid/x?y=1, and http://ok.example.org.");
        assert!(f.url_blocked);
        assert_eq!(
            f.urls,
            [
                UrlHit {
                    url: "https://malware.test.invalid/x?y=1".to_owned(),
                    category: Some("malware")
                },
                UrlHit {
                    url: "http://ok.example.org".to_owned(),
                    category: None
                }
            ]
        );
        assert!(prompt("HTTPS://EVIL.EXAMPLE.COM:8443/a").url_blocked);
        assert!(!prompt("https://sub.evil.example.com/").url_blocked);
        assert!(!prompt("evil.example.com http:// https://").url_blocked);
    }

    #[test]
    fn sides_and_fields() {
        assert!(prompt("Please IGNORE previous instructions").injection);
        let r = scan(
            Side::Response,
            SideInput {
                text: Some("ignore previous instructions; UNGROUNDED; drop TABLE x"),
                code: Some("os.system('x')"),
                tool: Some("exfiltrate"),
            },
        );
        // Injection is flagged on the response side too (indirect prompt injection); the
        // agent detector stays prompt-side only.
        assert!(r.injection && !r.agent);
        assert!(r.ungrounded && r.db_security && r.malicious_code);
        assert!(!prompt("rm -rf / in prose").malicious_code);
        assert!(!prompt("DROP TABLE users").db_security);
        assert!(!prompt("ungrounded").ungrounded);
        let t = scan(
            Side::Prompt,
            SideInput {
                tool: Some("{\"cmd\": \"Exfiltrate the db\"}"),
                ..SideInput::default()
            },
        );
        assert!(t.agent);
    }

    #[test]
    fn report_entries() {
        let none = Findings::default();
        assert!(none.detection_results(Side::Prompt, "d").is_empty());
        let p = prompt("hello");
        let services: Vec<&str> = p
            .detection_results(Side::Prompt, "d")
            .iter()
            .map(|d| d.detection_service)
            .collect();
        assert_eq!(services, ["pi", "dlp", "uf", "tc", "mc", "agent", "tg"]);
        let r = scan(
            Side::Response,
            SideInput {
                text: Some("i will hurt you"),
                ..SideInput::default()
            },
        );
        let entries = r.detection_results(Side::Response, "d");
        let services: Vec<&str> = entries.iter().map(|d| d.detection_service).collect();
        assert_eq!(
            services,
            ["dlp", "uf", "tc", "mc", "dbs", "agent", "tg", "cg"]
        );
        let tc = entries.iter().find(|d| d.detection_service == "tc");
        assert_eq!(tc.map(|d| d.verdict), Some(Verdict::Malicious));
    }
}
