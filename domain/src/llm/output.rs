//! Parsing and validating a model's answer into entity suggestions. Models wrap JSON in prose
//! or Markdown fences, invent types, and add offsets of their own: the answer is searched for
//! one JSON value of the expected shape, every item is checked on its own (a bad item is
//! dropped and reported, the rest kept), and offsets are ignored because the server places
//! each text itself (`crate::text::align`). An answer with no usable JSON at all is an
//! [`OutputError`], which is worth one repair attempt ([`repair_request`]); an answer cut off
//! at the token limit still gives its complete items ([`salvage_suggestions`]).

use serde_json::{Value, json};

use super::CompletionRequest;

/// One entity the model proposes: a text to look for in the chunk, and its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The entity's text as the model wrote it, trimmed.
    pub text: String,
    /// The type, spelled as in `allowed_types` (the model's spelling may differ in case).
    pub entity_type: String,
    /// In `[0, 1]`, when the model gave one.
    pub confidence: Option<f64>,
}

/// A usable answer: the valid suggestions, and why the other items were dropped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// Valid suggestions in the order given, one per (text, type): a repeated item keeps its
    /// first place and the highest confidence given.
    pub suggestions: Vec<Suggestion>,
    /// One reason per dropped item, e.g. `item 3: unknown type "WEAPON"`.
    pub dropped: Vec<String>,
}

/// An answer with nothing usable in it. Every variant is worth one more request with
/// [`repair_request`]: models usually get the format right when told what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("the answer is empty")]
    Empty,
    /// No JSON value could be read anywhere in the answer.
    #[error("the answer holds no JSON value ({0})")]
    NotJson(String),
    /// JSON, but neither `{"entities": [...]}` nor an array of entity objects.
    #[error("the JSON is not of the expected shape: {0}")]
    WrongShape(String),
}

/// The answer's form, as told to the model.
pub const EXPECTED_FORM: &str = r#"{"entities": [{"text": "<the entity exactly as written in the text>", "type": "<one of the types>", "confidence": <0 to 1>}]}"#;

/// The keys under which an item's type is read: `type` as asked, and the names models use
/// instead when they drift.
const TYPE_KEYS: [&str; 3] = ["type", "entity_type", "label"];

/// How much of a failed answer is quoted back to the model in a repair request.
const QUOTED_ANSWER_CHARS: usize = 2000;

/// Reads a model's answer: `{"entities": [...]}`, a bare array of entity objects, either of
/// them inside a Markdown code fence or surrounded by prose. Each item needs a non-empty
/// `text` string and a `type` that is one of `allowed_types` (compared case-insensitively);
/// `confidence`, when present and not null, must be a number in `[0, 1]`. Items that fail are
/// dropped and reported in [`Parsed::dropped`]; other fields (offsets included) are ignored.
pub fn parse_suggestions(raw: &str, allowed_types: &[&str]) -> Result<Parsed, OutputError> {
    Ok(validate(&find_entity_items(raw)?, allowed_types))
}

/// The complete items of an answer cut off at the token limit (`Completion::truncated`):
/// from `{"entities": [{...}, {...}, {"te` the first two, validated as [`parse_suggestions`]
/// does. The items are read from the array after `"entities"`, else from the first `[`, up
/// to the first one that is incomplete. None when not one item is complete. A whole answer
/// gives all its items, so this may be called on any answer `parse_suggestions` refused.
pub fn salvage_suggestions(raw: &str, allowed_types: &[&str]) -> Option<Parsed> {
    let array =
        raw.find("\"entities\"").and_then(|at| raw[at..].find('[').map(|i| at + i)).or_else(|| raw.find('['))?;
    let mut items = Vec::new();
    let mut rest = &raw[array + 1..];
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if !rest.starts_with('{') {
            break;
        }
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        match stream.next() {
            Some(Ok(item)) => {
                items.push(item);
                rest = &rest[stream.byte_offset()..];
            }
            _ => break,
        }
    }
    (!items.is_empty()).then(|| validate(&items, allowed_types))
}

/// Validates every item: the valid ones become suggestions, the others reasons.
fn validate(items: &[Value], allowed_types: &[&str]) -> Parsed {
    let mut parsed = Parsed::default();
    for (i, item) in items.iter().enumerate() {
        match suggestion(item, allowed_types) {
            Ok(s) => add(&mut parsed.suggestions, s),
            Err(reason) => parsed.dropped.push(format!("item {}: {reason}", i + 1)),
        }
    }
    parsed
}

/// Adds a suggestion unless the same (text, type) is there; then keeps the higher confidence.
fn add(suggestions: &mut Vec<Suggestion>, s: Suggestion) {
    match suggestions.iter_mut().find(|t| t.text == s.text && t.entity_type == s.entity_type) {
        Some(same) => {
            same.confidence = match (same.confidence, s.confidence) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        }
        None => suggestions.push(s),
    }
}

/// The entity items of the first JSON value in the answer that has the expected shape.
fn find_entity_items(raw: &str) -> Result<Vec<Value>, OutputError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(OutputError::Empty);
    }
    // The whole answer first: the common case, and the one whose parse error is worth quoting.
    let whole = serde_json::from_str::<Value>(text);
    let candidates = match &whole {
        Ok(value) => vec![value.clone()],
        // Fenced or surrounded by prose: every JSON value embedded in the text, in order.
        Err(_) => embedded_values(text),
    };
    let mut first_found = None;
    for value in candidates {
        if let Some(items) = entity_items(&value) {
            return Ok(items);
        }
        first_found.get_or_insert(value);
    }
    match (first_found, whole) {
        (Some(value), _) => Err(OutputError::WrongShape(describe(&value))),
        (None, Err(e)) => Err(OutputError::NotJson(e.to_string())),
        (None, Ok(_)) => unreachable!("a whole-answer value is always a candidate"),
    }
}

/// Every JSON object or array that starts at a `{` or `[` of the text, left to right, each
/// read as far as it goes; text after a value, and brackets inside one, are skipped. This
/// finds the JSON of a Markdown fence (```` ```json ````) without parsing the fence itself.
fn embedded_values(text: &str) -> Vec<Value> {
    let mut values = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(['{', '[']).map(|i| from + i) {
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

/// The items of `{"entities": [...]}`, or of an array that holds at least one object (so that
/// a stray `[1]` in prose is not taken for the answer); an empty array is an answer too.
fn entity_items(value: &Value) -> Option<Vec<Value>> {
    match value {
        Value::Object(o) => o.get("entities").and_then(Value::as_array).cloned(),
        Value::Array(a) if a.is_empty() || a.iter().any(Value::is_object) => Some(a.clone()),
        _ => None,
    }
}

/// A short description of a value of the wrong shape, to tell the model what it sent.
fn describe(value: &Value) -> String {
    match value {
        Value::Object(o) if o.contains_key("entities") => "\"entities\" is not an array".into(),
        Value::Object(o) => {
            let keys: Vec<&str> = o.keys().map(String::as_str).take(5).collect();
            format!("an object without \"entities\" (keys: {})", keys.join(", "))
        }
        Value::Array(_) => "an array that holds no objects".into(),
        Value::String(_) => "a string".into(),
        Value::Number(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Null => "null".into(),
    }
}

/// Validates one item; the error is the reason it is dropped.
fn suggestion(item: &Value, allowed_types: &[&str]) -> Result<Suggestion, String> {
    let Value::Object(o) = item else {
        return Err("not an object".into());
    };
    let text = match o.get("text") {
        None | Some(Value::Null) => return Err("no text".into()),
        Some(Value::String(s)) if s.trim().is_empty() => return Err("empty text".into()),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => return Err("text is not a string".into()),
    };
    let entity_type = match TYPE_KEYS.iter().find_map(|k| o.get(*k).filter(|v| !v.is_null())) {
        None => return Err("no type".into()),
        Some(Value::String(t)) => allowed_types
            .iter()
            .find(|a| a.eq_ignore_ascii_case(t.trim()))
            .map(|a| (*a).to_owned())
            .ok_or_else(|| format!("unknown type {t:?}"))?,
        Some(_) => return Err("type is not a string".into()),
    };
    let confidence = match o.get("confidence") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(c) if (0.0..=1.0).contains(&c) => Some(c),
            _ => return Err(format!("confidence {n} is outside [0, 1]")),
        },
        Some(_) => return Err("confidence is not a number".into()),
    };
    Ok(Suggestion { text, entity_type, confidence })
}

/// What the model is told after an unusable answer: what was wrong, and the form expected.
pub fn repair_prompt(error: &OutputError) -> String {
    format!(
        "Your previous answer was not valid JSON of the form {EXPECTED_FORM} ({error}). \
         Answer again with only the JSON: no explanation, no Markdown code fence."
    )
}

/// The one repair attempt after an unusable answer: the original request, with the failed
/// answer (its first 2000 characters) and [`repair_prompt`] appended to the user prompt. One
/// user turn rather than a conversation, so that every provider takes it as it is.
pub fn repair_request(original: &CompletionRequest, previous_answer: &str, error: &OutputError) -> CompletionRequest {
    let mut quoted: String = previous_answer.chars().take(QUOTED_ANSWER_CHARS).collect();
    if quoted.len() < previous_answer.len() {
        quoted.push_str(" …");
    }
    CompletionRequest {
        user: format!("{}\n\nYour previous answer:\n{quoted}\n\n{}", original.user, repair_prompt(error)),
        ..original.clone()
    }
}

/// The JSON Schema of the expected answer, for providers that constrain their output to one
/// (OpenAI `json_schema` strict mode, Ollama `format`, Gemini `responseSchema`). Strict mode
/// wants every property required and no others allowed, so `confidence` is required here even
/// though [`parse_suggestions`] accepts an item without it.
pub fn entities_json_schema(types: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": {
            "entities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "description": "The entity exactly as written in the text."},
                        "type": {"type": "string", "enum": types},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                    "required": ["text", "type", "confidence"],
                    "additionalProperties": false,
                },
            },
        },
        "required": ["entities"],
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: [&str; 4] = ["PERSON", "LOCATION", "ORGANIZATION", "DESIGNATION"];

    fn s(text: &str, entity_type: &str, confidence: Option<f64>) -> Suggestion {
        Suggestion { text: text.into(), entity_type: entity_type.into(), confidence }
    }

    fn ok(raw: &str) -> Parsed {
        parse_suggestions(raw, &TYPES).unwrap_or_else(|e| panic!("{raw:?} was refused: {e}"))
    }

    #[test]
    fn reads_the_entities_object() {
        let raw = r#"{"entities": [{"text": "زینب", "type": "PERSON", "confidence": 0.92},
                       {"text": "کرب و بلا", "type": "LOCATION", "confidence": 1}]}"#;
        let parsed = ok(raw);
        assert_eq!(parsed.suggestions, [s("زینب", "PERSON", Some(0.92)), s("کرب و بلا", "LOCATION", Some(1.0))]);
        assert!(parsed.dropped.is_empty());
    }

    #[test]
    fn reads_a_bare_array() {
        let parsed = ok(r#"[{"text": "مقتل", "type": "LOCATION", "confidence": 0.5}]"#);
        assert_eq!(parsed.suggestions, [s("مقتل", "LOCATION", Some(0.5))]);
    }

    #[test]
    fn reads_json_inside_a_code_fence() {
        for raw in [
            "```json\n{\"entities\": [{\"text\": \"حرم\", \"type\": \"ORGANIZATION\"}]}\n```",
            "```\n[{\"text\": \"حرم\", \"type\": \"ORGANIZATION\"}]\n```",
            "Here you are:\n```JSON\n{\"entities\": [{\"text\": \"حرم\", \"type\": \"ORGANIZATION\"}]}\n```\nHope this helps!",
        ] {
            assert_eq!(ok(raw).suggestions, [s("حرم", "ORGANIZATION", None)], "{raw:?}");
        }
    }

    #[test]
    fn reads_json_surrounded_by_prose() {
        let raw = "I found these [see below] entities: {\"entities\": [{\"text\": \"بیمار\", \"type\": \
                   \"DESIGNATION\", \"confidence\": 0.7}]} — note that [1] {} are not entities.";
        assert_eq!(ok(raw).suggestions, [s("بیمار", "DESIGNATION", Some(0.7))]);
    }

    #[test]
    fn an_empty_list_is_an_answer() {
        assert_eq!(ok(r#"{"entities": []}"#), Parsed::default());
        assert_eq!(ok("[]"), Parsed::default());
    }

    #[test]
    fn ignores_extra_fields_and_model_offsets() {
        let raw =
            r#"{"entities": [{"text": " زینب ", "type": "person", "start": 99, "end": 3, "note": "x"}], "model": "m"}"#;
        assert_eq!(ok(raw).suggestions, [s("زینب", "PERSON", None)]);
    }

    #[test]
    fn types_compare_case_insensitively_and_keep_the_allowed_spelling() {
        let raw = r#"[{"text": "زینب", "type": "Person"}, {"text": "مقتل", "entity_type": "location"},
                      {"text": "حرم", "label": "ORGANIZATION"}]"#;
        assert_eq!(
            ok(raw).suggestions,
            [s("زینب", "PERSON", None), s("مقتل", "LOCATION", None), s("حرم", "ORGANIZATION", None)]
        );
    }

    #[test]
    fn drops_and_counts_bad_items_but_keeps_the_rest() {
        let raw = r#"{"entities": [
            {"text": "زینب", "type": "PERSON", "confidence": 0.9},
            {"text": "تلوار", "type": "WEAPON"},
            {"text": "", "type": "PERSON"},
            {"text": "   ", "type": "PERSON"},
            {"type": "PERSON"},
            {"text": 7, "type": "PERSON"},
            {"text": "علی"},
            {"text": "علی", "type": 3},
            {"text": "علی", "type": "PERSON", "confidence": 1.5},
            {"text": "علی", "type": "PERSON", "confidence": -0.1},
            {"text": "علی", "type": "PERSON", "confidence": "high"},
            "علی",
            {"text": "اکبر", "type": "PERSON", "confidence": null}
        ]}"#;
        let parsed = ok(raw);
        assert_eq!(parsed.suggestions, [s("زینب", "PERSON", Some(0.9)), s("اکبر", "PERSON", None)]);
        assert_eq!(
            parsed.dropped,
            [
                "item 2: unknown type \"WEAPON\"",
                "item 3: empty text",
                "item 4: empty text",
                "item 5: no text",
                "item 6: text is not a string",
                "item 7: no type",
                "item 8: type is not a string",
                "item 9: confidence 1.5 is outside [0, 1]",
                "item 10: confidence -0.1 is outside [0, 1]",
                "item 11: confidence is not a number",
                "item 12: not an object",
            ]
        );
    }

    #[test]
    fn repeated_items_are_merged_with_the_highest_confidence() {
        let raw = r#"[{"text": "زینب", "type": "PERSON", "confidence": 0.4},
                      {"text": "زینب", "type": "PERSON", "confidence": 0.8},
                      {"text": "زینب", "type": "LOCATION"},
                      {"text": "زینب", "type": "PERSON"}]"#;
        assert_eq!(ok(raw).suggestions, [s("زینب", "PERSON", Some(0.8)), s("زینب", "LOCATION", None)]);
    }

    #[test]
    fn refuses_answers_without_json() {
        assert_eq!(parse_suggestions("", &TYPES), Err(OutputError::Empty));
        assert_eq!(parse_suggestions("  \n ", &TYPES), Err(OutputError::Empty));
        for raw in ["I could not find any entities.", "{\"entities\": [{\"text\": \"زینب\"", "```json\n{oops}\n```"]
        {
            assert!(matches!(parse_suggestions(raw, &TYPES), Err(OutputError::NotJson(_))), "{raw:?}");
        }
    }

    #[test]
    fn refuses_json_of_the_wrong_shape() {
        for (raw, why) in [
            (r#"{"people": ["زینب"]}"#, "an object without \"entities\" (keys: people)"),
            (r#"{"entities": "زینب"}"#, "\"entities\" is not an array"),
            (r#"{"entities": null}"#, "\"entities\" is not an array"),
            (r#"["زینب", "علی"]"#, "an array that holds no objects"),
            ("\"زینب\"", "a string"),
            ("42", "a number"),
            ("null", "null"),
            ("The answer: {\"result\": 1}", "an object without \"entities\" (keys: result)"),
        ] {
            assert_eq!(parse_suggestions(raw, &TYPES), Err(OutputError::WrongShape(why.into())), "{raw:?}");
        }
    }

    #[test]
    fn salvages_the_complete_items_of_a_cut_off_answer() {
        let cut = r#"```json
{"entities": [{"text": "زینب", "type": "PERSON", "confidence": 0.9},
  {"text": "تلوار", "type": "WEAPON"}, {"text": "کرب و بلا", "type": "LOCATION"}, {"text": "حس"#;
        assert!(parse_suggestions(cut, &TYPES).is_err());
        let parsed = salvage_suggestions(cut, &TYPES).unwrap();
        assert_eq!(parsed.suggestions, [s("زینب", "PERSON", Some(0.9)), s("کرب و بلا", "LOCATION", None)]);
        assert_eq!(parsed.dropped, ["item 2: unknown type \"WEAPON\""]);
        // A bare array, cut between items; a whole answer.
        let bare = r#"[{"text": "مقتل", "type": "LOCATION"},"#;
        assert_eq!(salvage_suggestions(bare, &TYPES).unwrap().suggestions, [s("مقتل", "LOCATION", None)]);
        let whole = r#"{"entities": [{"text": "حرم", "type": "ORGANIZATION"}]}"#;
        assert_eq!(salvage_suggestions(whole, &TYPES), parse_suggestions(whole, &TYPES).ok());
        // Nothing complete, or no array at all.
        for raw in [r#"{"entities": [{"text": "زی"#, r#"{"entities": ["#, "", "no JSON", r#"{"entities": []}"#] {
            assert_eq!(salvage_suggestions(raw, &TYPES), None, "{raw:?}");
        }
    }

    #[test]
    fn the_repair_request_quotes_the_answer_and_says_what_was_wrong() {
        let original = CompletionRequest {
            system: "Find entities.".into(),
            user: "Text: زینب".into(),
            max_tokens: 100,
            temperature: 0.0,
            json_schema: Some(entities_json_schema(&TYPES)),
        };
        let error = parse_suggestions("Sure! Zainab is a person.", &TYPES).unwrap_err();
        let repair = repair_request(&original, "Sure! Zainab is a person.", &error);
        assert_eq!(repair.system, original.system);
        assert_eq!(repair.json_schema, original.json_schema);
        assert!(repair.user.starts_with("Text: زینب\n\nYour previous answer:\nSure! Zainab is a person.\n\n"));
        assert!(repair.user.contains("Your previous answer was not valid JSON of the form {\"entities\""));
        assert!(repair.user.ends_with("Answer again with only the JSON: no explanation, no Markdown code fence."));
        // A long answer is cut, on a character boundary.
        let long = "ز".repeat(5000);
        let repair = repair_request(&original, &long, &error);
        assert!(repair.user.contains(&format!("{} …", "ز".repeat(2000))));
        assert!(!repair.user.contains(&"ز".repeat(2001)));
    }

    #[test]
    fn the_schema_lists_the_types_and_requires_every_field() {
        let schema = entities_json_schema(&["PERSON", "LOCATION"]);
        let item = &schema["properties"]["entities"]["items"];
        assert_eq!(item["properties"]["type"]["enum"], json!(["PERSON", "LOCATION"]));
        assert_eq!(item["required"], json!(["text", "type", "confidence"]));
        assert_eq!(item["additionalProperties"], json!(false));
        assert_eq!(schema["required"], json!(["entities"]));
        // An answer that follows the schema parses.
        let answer = json!({"entities": [{"text": "زینب", "type": "PERSON", "confidence": 0.9}]});
        assert_eq!(ok(&answer.to_string()).suggestions, [s("زینب", "PERSON", Some(0.9))]);
    }
}
