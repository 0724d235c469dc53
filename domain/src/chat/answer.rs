//! Answers with cited lines: what a chat model is shown and asked for, how its answer is read,
//! how every citation is checked against the text, and the built-in model's extractive answer.
//!
//! The wire format. The model is shown the retrieved passages, numbered from 1 (`[n] «title»,
//! line l: text`), and asked for one JSON object:
//!
//! ```json
//! {"answer": "<the answer, in the question's language>",
//!  "citations": [{"passage": 1, "quote": "<words copied from passage 1>"}]}
//! ```
//!
//! `answer` is a non-blank string; `citations` a list (missing means none). The answer is
//! searched for that object as extraction searches for its JSON (a Markdown fence or prose
//! around it is skipped); an answer without one is an [`AnswerError`], worth one repair
//! request ([`repair_request`]). The model is never trusted: a citation whose `passage` is no
//! number shown, whose `quote` is not a non-blank string, or whose quote is not in the cited
//! passage's document, is dropped and counted. A quote is looked for as extraction places an
//! entity (`text::align`: whole words, exactly or under the Urdu-aware folding) in the whole
//! document, the place inside the cited passage first; the citation's offsets, line and quote
//! are then the text's, never the model's. Citations of one place are kept once.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{ChatRole, Citation};
use crate::ids::DocumentId;
use crate::llm::CompletionRequest;
use crate::text::DocumentText;
use crate::text::align::Aligner;

/// A retrieved passage, as the model is shown it.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub document_id: DocumentId,
    pub title: String,
    pub line_number: u32,
    /// Code points of the passage in its document.
    pub start: u32,
    pub end: u32,
    pub text: String,
}

/// A citation as the model wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCitation {
    /// The passage's number, 1-based, as shown.
    pub passage: i64,
    pub quote: String,
}

/// A model's answer, read but not yet checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RawAnswer {
    pub answer: String,
    pub citations: Vec<RawCitation>,
    /// Citation items that were not `{passage: number, quote: string}`.
    pub malformed_citations: u32,
}

/// An answer with nothing usable in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer is empty")]
    Empty,
    #[error("the answer holds no JSON value ({0})")]
    NotJson(String),
    #[error("the JSON is not of the expected shape: {0}")]
    WrongShape(String),
}

/// The answer's form, as told to the model.
pub const EXPECTED_FORM: &str = r#"{"answer": "<your answer>", "citations": [{"passage": <the passage's number>, "quote": "<words copied exactly from that passage>"}]}"#;

/// What every chat model is told.
pub const SYSTEM_PROMPT: &str = "You answer questions about a corpus of texts (Urdu Marsiya poetry and \
     related writing) for researchers. Answer only from the numbered passages you are given, in the \
     language of the question. Support every statement with citations: the number of the passage and a \
     quote copied exactly, word for word, from that passage. If the passages do not answer the question, \
     say so and cite nothing. Reply with only one JSON object of the form ";

/// Most characters of a failed answer quoted back in a repair request.
const QUOTED_ANSWER_CHARS: usize = 2000;
/// Most earlier messages of the session sent with a question (the latest ones).
pub const MAX_HISTORY_MESSAGES: usize = 12;
/// Most characters of one earlier message sent with a question.
const MAX_HISTORY_CHARS: usize = 2000;

/// The request for an answer: the rules and form, the conversation so far, the passages, the
/// question.
pub fn answer_request(
    history: &[(ChatRole, String)],
    sources: &[Source],
    question: &str,
    max_tokens: u32,
    temperature: f32,
) -> CompletionRequest {
    let mut user = String::new();
    let earlier = &history[history.len().saturating_sub(MAX_HISTORY_MESSAGES)..];
    if !earlier.is_empty() {
        user.push_str("The conversation so far:\n");
        for (role, content) in earlier {
            let who = match role {
                ChatRole::User => "User",
                ChatRole::Assistant => "Assistant",
            };
            let cut: String = content.chars().take(MAX_HISTORY_CHARS).collect();
            user.push_str(&format!("{who}: {cut}\n"));
        }
        user.push('\n');
    }
    if sources.is_empty() {
        user.push_str("Passages: none of the texts holds a word of the question.\n\n");
    } else {
        user.push_str("Passages:\n");
        for (i, s) in sources.iter().enumerate() {
            user.push_str(&format!("[{}] «{}», line {}: {}\n", i + 1, s.title, s.line_number, s.text.trim()));
        }
        user.push('\n');
    }
    user.push_str(&format!("Question: {question}"));
    CompletionRequest {
        system: format!("{SYSTEM_PROMPT}{EXPECTED_FORM}"),
        user,
        max_tokens,
        temperature,
        json_schema: Some(answer_schema()),
    }
}

/// The JSON Schema of the answer, for providers that constrain output to one (strict mode:
/// every property required, no others).
pub fn answer_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "answer": {"type": "string"},
            "citations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "passage": {"type": "integer", "description": "The number of the passage quoted."},
                        "quote": {"type": "string", "description": "Words copied exactly from that passage."},
                    },
                    "required": ["passage", "quote"],
                    "additionalProperties": false,
                },
            },
        },
        "required": ["answer", "citations"],
        "additionalProperties": false,
    })
}

/// Reads a model's answer (see the module docs).
pub fn parse_answer(raw: &str) -> Result<RawAnswer, AnswerError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(AnswerError::Empty);
    }
    let whole = serde_json::from_str::<Value>(text);
    let candidates = match &whole {
        Ok(v) => vec![v.clone()],
        Err(_) => embedded_values(text),
    };
    let mut first_shape_error = None;
    for value in &candidates {
        match read_answer(value) {
            Ok(answer) => return Ok(answer),
            Err(why) => {
                first_shape_error.get_or_insert(why);
            }
        }
    }
    match (first_shape_error, whole) {
        (Some(why), _) => Err(AnswerError::WrongShape(why)),
        (None, Err(e)) => Err(AnswerError::NotJson(e.to_string())),
        (None, Ok(_)) => Err(AnswerError::WrongShape("no object".into())),
    }
}

/// Every JSON object starting at a `{` of the text, left to right.
fn embedded_values(text: &str) -> Vec<Value> {
    let mut values = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find('{').map(|i| from + i) {
        let mut stream = serde_json::Deserializer::from_str(&text[at..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                values.push(value);
                from = at + stream.byte_offset();
            }
            _ => from = at + 1,
        }
    }
    values
}

fn read_answer(value: &Value) -> Result<RawAnswer, String> {
    let Value::Object(o) = value else { return Err("not an object".into()) };
    let answer = match o.get("answer") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::String(_)) => return Err("\"answer\" is blank".into()),
        Some(_) => return Err("\"answer\" is not a string".into()),
        None => {
            let keys: Vec<&str> = o.keys().map(String::as_str).take(5).collect();
            return Err(format!("an object without \"answer\" (keys: {})", keys.join(", ")));
        }
    };
    let items = match o.get("citations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err("\"citations\" is not a list".into()),
    };
    let mut citations = Vec::new();
    let mut malformed = 0;
    for item in items {
        let passage = item.get("passage").and_then(|p| p.as_i64().or_else(|| p.as_str()?.trim().parse().ok()));
        let quote = item.get("quote").and_then(Value::as_str).map(str::trim).filter(|q| !q.is_empty());
        match (passage, quote) {
            (Some(passage), Some(quote)) => citations.push(RawCitation { passage, quote: quote.to_owned() }),
            _ => malformed += 1,
        }
    }
    Ok(RawAnswer { answer, citations, malformed_citations: malformed })
}

/// The repair request after an unusable answer: the original request with the failed
/// answer and what was wrong with it appended.
pub fn repair_request(original: &CompletionRequest, previous: &str, error: &AnswerError) -> CompletionRequest {
    let mut quoted: String = previous.chars().take(QUOTED_ANSWER_CHARS).collect();
    if quoted.len() < previous.len() {
        quoted.push_str(" …");
    }
    CompletionRequest {
        user: format!(
            "{}\n\nYour previous answer:\n{quoted}\n\nYour previous answer was not valid JSON of the form \
             {EXPECTED_FORM} ({error}). Answer again with only the JSON: no explanation, no Markdown code fence.",
            original.user
        ),
        ..original.clone()
    }
}

/// The citations that hold, in the order given, and how many were dropped.
pub fn verify_citations(
    raw: &[RawCitation],
    malformed: u32,
    sources: &[Source],
    texts: &HashMap<DocumentId, Arc<DocumentText>>,
) -> (Vec<Citation>, u32) {
    let mut kept: Vec<Citation> = Vec::new();
    let mut dropped = malformed;
    let mut aligners: HashMap<DocumentId, Aligner<'_>> = HashMap::new();
    for c in raw {
        let Some(source) = usize::try_from(c.passage).ok().and_then(|n| n.checked_sub(1)).and_then(|i| sources.get(i))
        else {
            dropped += 1;
            continue;
        };
        let Some(text) = texts.get(&source.document_id) else {
            dropped += 1;
            continue;
        };
        let aligner = aligners.entry(source.document_id).or_insert_with(|| Aligner::new(text.text()));
        let found = aligner.find(&c.quote);
        let place = found
            .iter()
            .find(|m| m.start < source.end && source.start < m.end)
            .or_else(|| found.first())
            .map(|m| (m.start, m.end));
        let Some((start, end)) = place else {
            dropped += 1;
            continue;
        };
        let Some(quote) = text.slice(start, end) else {
            dropped += 1;
            continue;
        };
        if kept.iter().any(|k| k.document_id == source.document_id && k.start == start && k.end == end) {
            continue;
        }
        let (line_number, _) = text.line_index().locate(start);
        kept.push(Citation { document_id: source.document_id, line_number, start, end, quote: quote.to_owned() });
    }
    (kept, dropped)
}

/// What a streamed answer tells its followers as the model writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// More of the answer's text.
    Text(String),
    /// The text so far is void: the call is made again (a retry, or the repair request).
    Restart,
}

/// Reads the `answer` string of the wire format out of a model's text as it arrives, so that
/// followers see the answer's words and not its JSON: the text up to `"answer": "` is skipped,
/// the string's escapes are decoded (an escape cut between two pieces waits for the next), and
/// the rest after its closing quote is ignored. Text that never holds the object gives
/// nothing (the finished answer is read by [`parse_answer`] all the same).
#[derive(Debug, Default)]
pub struct AnswerStream {
    raw: String,
    /// Byte offset of `raw` where reading goes on.
    at: usize,
    phase: Phase,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    #[default]
    Seeking,
    InAnswer,
    Done,
}

impl AnswerStream {
    /// Takes the next piece of the model's text; returns the answer text it completes.
    pub fn push(&mut self, piece: &str) -> String {
        self.raw.push_str(piece);
        let mut out = String::new();
        loop {
            match self.phase {
                Phase::Done => return out,
                Phase::Seeking => {
                    let Some(k) = self.raw[self.at..].find("\"answer\"") else { return out };
                    let after = self.at + k + "\"answer\"".len();
                    let rest = self.raw[after..].trim_start();
                    let Some(colon) = rest.strip_prefix(':') else {
                        if rest.is_empty() {
                            return out;
                        }
                        self.at = after;
                        continue;
                    };
                    let value = colon.trim_start();
                    match value.chars().next() {
                        None => return out,
                        Some('"') => {
                            self.at = self.raw.len() - value.len() + 1;
                            self.phase = Phase::InAnswer;
                        }
                        Some(_) => self.at = after,
                    }
                }
                Phase::InAnswer => {
                    let text = &self.raw[self.at..];
                    let mut i = 0;
                    while i < text.len() {
                        let c = text[i..].chars().next().expect("on a char boundary");
                        match c {
                            '"' => {
                                self.at += i + 1;
                                self.phase = Phase::Done;
                                return out;
                            }
                            '\\' => match unescape(&text[i + 1..]) {
                                Some((decoded, used)) => {
                                    out.push(decoded);
                                    i += 1 + used;
                                }
                                None => {
                                    self.at += i;
                                    return out;
                                }
                            },
                            c => {
                                out.push(c);
                                i += c.len_utf8();
                            }
                        }
                    }
                    self.at += i;
                    return out;
                }
            }
        }
    }
}

/// The character of a JSON escape whose backslash came just before `rest`, and the bytes of
/// `rest` it takes; None when `rest` is too short yet.
fn unescape(rest: &str) -> Option<(char, usize)> {
    let e = rest.chars().next()?;
    let simple = match e {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'u' => {
            let unit = |s: &str| s.get(..4).and_then(|h| u16::from_str_radix(h, 16).ok());
            let first = unit(rest.get(1..)?)?;
            if (0xD800..0xDC00).contains(&first) {
                // A high surrogate: its pair follows as `\uXXXX`.
                let second = rest.get(5..11)?;
                let low = second.strip_prefix("\\u").and_then(unit);
                return match low.and_then(|l| char::decode_utf16([first, l]).next()?.ok()) {
                    Some(c) => Some((c, 11)),
                    None => Some(('\u{fffd}', 5)),
                };
            }
            return Some((char::from_u32(u32::from(first)).unwrap_or('\u{fffd}'), 5));
        }
        other => other,
    };
    Some((simple, e.len_utf8()))
}

/// Passages the built-in model answers with.
pub const BUILTIN_PASSAGES: usize = 3;

/// The built-in model's answer: the best passages, each quoted whole and cited. Offline and
/// deterministic; its citations go through [`verify_citations`] like any model's.
pub fn builtin_answer(sources: &[Source]) -> RawAnswer {
    let best = &sources[..sources.len().min(BUILTIN_PASSAGES)];
    if best.is_empty() {
        return RawAnswer {
            answer: "No line of the project's texts holds a word of the question.".into(),
            citations: Vec::new(),
            malformed_citations: 0,
        };
    }
    let mut answer = String::from("The lines that best match the question:");
    for (i, s) in best.iter().enumerate() {
        answer.push_str(&format!("\n[{}] {} («{}», line {})", i + 1, s.text.trim(), s.title, s.line_number));
    }
    let citations = best
        .iter()
        .enumerate()
        .map(|(i, s)| RawCitation { passage: i as i64 + 1, quote: s.text.trim().to_owned() })
        .collect();
    RawAnswer { answer, citations, malformed_citations: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT: &str = "جلد اول\nآفت میں گرفتار ہیں ناموس محمدؐ\nحسینؑ چلے کربلا کی طرف\n";

    fn fixture() -> (Vec<Source>, HashMap<DocumentId, Arc<DocumentText>>) {
        let doc = DocumentId::new();
        let text = Arc::new(DocumentText::new(CONTENT));
        let source = |line: u32| {
            let start = text.line_index().line_start(line).unwrap();
            let line_text = CONTENT.lines().nth(line as usize - 1).unwrap().to_owned();
            Source {
                document_id: doc,
                title: "مرثیہ".into(),
                line_number: line,
                start,
                end: start + line_text.chars().count() as u32,
                text: line_text,
            }
        };
        let sources = vec![source(3), source(2)];
        (sources, HashMap::from([(doc, text)]))
    }

    fn raw(passage: i64, quote: &str) -> RawCitation {
        RawCitation { passage, quote: quote.into() }
    }

    #[test]
    fn reads_the_answer_object_fenced_or_in_prose() {
        for text in [
            r#"{"answer": "حسین", "citations": [{"passage": 1, "quote": "حسین"}]}"#,
            "```json\n{\"answer\": \"حسین\", \"citations\": [{\"passage\": \"1\", \"quote\": \" حسین \"}]}\n```",
            "Sure: {\"answer\": \"حسین\", \"citations\": [{\"passage\": 1, \"quote\": \"حسین\"}]} hope it helps {}",
        ] {
            let a = parse_answer(text).unwrap();
            assert_eq!(a.answer, "حسین", "{text}");
            assert_eq!(a.citations, [raw(1, "حسین")], "{text}");
        }
        let a = parse_answer(r#"{"answer": "نہیں معلوم"}"#).unwrap();
        assert!(a.citations.is_empty());
        let a = parse_answer(
            r#"{"answer": "x", "citations": [{"passage": 1}, {"quote": "q"}, 3, {"passage": 2, "quote": ""}]}"#,
        )
        .unwrap();
        assert_eq!((a.citations.len(), a.malformed_citations), (0, 4));
    }

    #[test]
    fn refuses_answers_without_the_object() {
        assert_eq!(parse_answer("  "), Err(AnswerError::Empty));
        assert!(matches!(parse_answer("Husain went to Karbala."), Err(AnswerError::NotJson(_))));
        assert!(matches!(parse_answer(r#"{"answer": "x", "cit"#), Err(AnswerError::NotJson(_))));
        assert_eq!(
            parse_answer(r#"{"text": "x"}"#),
            Err(AnswerError::WrongShape("an object without \"answer\" (keys: text)".into()))
        );
        assert_eq!(parse_answer(r#"{"answer": 3}"#), Err(AnswerError::WrongShape("\"answer\" is not a string".into())));
        assert_eq!(
            parse_answer(r#"{"answer": "x", "citations": "1"}"#),
            Err(AnswerError::WrongShape("\"citations\" is not a list".into()))
        );
    }

    #[test]
    fn citations_are_placed_in_the_text_and_false_ones_dropped() {
        let (sources, texts) = fixture();
        let doc = sources[0].document_id;
        let citations = [
            // Arabic yeh and no honorific: found under the folding, the text's spelling kept.
            raw(1, "حسين چلے"),
            // A quote of passage 2, exact.
            raw(2, "ناموس محمدؐ"),
            // Not in the text.
            raw(1, "عباس علمدار"),
            // No such passage.
            raw(3, "حسینؑ"),
            raw(0, "حسینؑ"),
            // The same place again: kept once, not counted as dropped.
            raw(1, "حسینؑ چلے"),
        ];
        let (kept, dropped) = verify_citations(&citations, 1, &sources, &texts);
        assert_eq!(dropped, 4, "three false citations and one malformed item");
        assert_eq!(kept.len(), 2);
        let slice =
            |c: &Citation| CONTENT.chars().skip(c.start as usize).take((c.end - c.start) as usize).collect::<String>();
        assert_eq!(kept[0].quote, "حسینؑ چلے");
        assert_eq!((kept[0].document_id, kept[0].line_number), (doc, 3));
        assert_eq!(kept[1].quote, "ناموس محمدؐ");
        assert_eq!(kept[1].line_number, 2);
        for c in &kept {
            assert_eq!(slice(c), c.quote);
        }
    }

    #[test]
    fn a_quote_found_elsewhere_in_the_document_is_placed_there() {
        let (sources, texts) = fixture();
        // Cited as passage 2 (line 2), the words stand on line 3.
        let (kept, dropped) = verify_citations(&[raw(2, "کربلا کی طرف")], 0, &sources, &texts);
        assert_eq!(dropped, 0);
        assert_eq!(kept[0].line_number, 3);
    }

    #[test]
    fn the_answer_is_read_out_of_the_stream_piece_by_piece() {
        let whole = r#"```json
{"answer": "حسینؑ \"شاہ\"\nکربلا \u0627\ud83d\ude00!", "citations": [{"passage": 1, "quote": "x"}]}"#;
        let expected = "حسینؑ \"شاہ\"\nکربلا ا😀!";
        // Every way of cutting the text into two pieces, and one character at a time.
        let bounds: Vec<usize> = whole.char_indices().map(|(i, _)| i).collect();
        for &cut in &bounds {
            let mut s = AnswerStream::default();
            let got = s.push(&whole[..cut]) + &s.push(&whole[cut..]);
            assert_eq!(got, expected, "cut at {cut}");
        }
        let mut s = AnswerStream::default();
        let got: String = whole.chars().map(|c| s.push(&c.to_string())).collect();
        assert_eq!(got, expected);
        // Prose without the object gives nothing; a key named otherwise is skipped.
        assert_eq!(AnswerStream::default().push("The answer is Husain."), "");
        assert_eq!(AnswerStream::default().push(r#"{"answer_note": "x", "answer": "y"}"#), "y");
    }

    #[test]
    fn the_builtin_answer_cites_its_best_passages() {
        let (sources, texts) = fixture();
        let a = builtin_answer(&sources);
        assert!(a.answer.contains("[1] حسینؑ چلے کربلا کی طرف («مرثیہ», line 3)"), "{}", a.answer);
        let (kept, dropped) = verify_citations(&a.citations, 0, &sources, &texts);
        assert_eq!(dropped, 0);
        assert_eq!(kept.iter().map(|c| c.line_number).collect::<Vec<_>>(), [3, 2]);
        assert_eq!(kept[0].quote, sources[0].text);
        let none = builtin_answer(&[]);
        assert!(none.citations.is_empty());
    }

    #[test]
    fn the_request_shows_history_passages_and_question() {
        let (sources, _) = fixture();
        let history = vec![(ChatRole::User, "پہلا سوال".to_owned()), (ChatRole::Assistant, "پہلا جواب".to_owned())];
        let r = answer_request(&history, &sources, "دوسرا سوال", 500, 0.0);
        assert!(r.system.ends_with(EXPECTED_FORM));
        assert!(r.user.starts_with(
            "The conversation so far:\nUser: پہلا سوال\nAssistant: پہلا جواب\n\nPassages:\n[1] «مرثیہ», line 3: حسینؑ"
        ));
        assert!(r.user.ends_with("Question: دوسرا سوال"));
        assert_eq!(r.json_schema, Some(answer_schema()));
        let repair = repair_request(&r, "oops", &AnswerError::NotJson("x".into()));
        assert!(repair.user.contains("Your previous answer:\noops"));
        assert!(repair.user.ends_with("no Markdown code fence."));
    }
}
