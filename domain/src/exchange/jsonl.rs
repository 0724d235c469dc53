//! JSONL: one JSON object per line and per document, in the shape doccano exports and spaCy's
//! converters read:
//!
//! ```text
//! {"id":"<sha-256 of text>","title":"…","text":"…","direction":"rtl","offsets":"unicode_code_points",
//!  "label":[[0,4,"DESIGNATION"],…],"verified":[false,…],"relations":[{"from":0,"to":2,"type":"SAME_AS"}]}
//! ```
//!
//! `label` holds `[start, end, "TYPE"]` in code points, in canonical order; `verified[i]` goes
//! with `label[i]`; a relation names its two ends by their index in `label`. Keys are written
//! in this order, without spaces, non-ASCII text as UTF-8.

use serde::Serialize;
use serde_json::Value;

use super::{
    ExportDocument, ImportIssue, OFFSETS, ParsedDocument, ParsedRelation, ParsedSpan, direction_name, parse_direction,
};

#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    title: &'a str,
    text: &'a str,
    direction: &'static str,
    offsets: &'static str,
    label: Vec<(u32, u32, &'a str)>,
    verified: Vec<bool>,
    relations: Vec<Relation>,
}

#[derive(Serialize)]
struct Relation {
    from: usize,
    to: usize,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// One line per document, each ending in `\n`.
pub fn write(docs: &[ExportDocument]) -> String {
    let mut out = String::new();
    for doc in docs {
        let line = Line {
            id: &doc.id,
            title: &doc.title,
            text: &doc.text,
            direction: direction_name(doc.direction),
            offsets: OFFSETS,
            label: doc.entities.iter().map(|e| (e.start, e.end, e.type_name.as_str())).collect(),
            verified: doc.entities.iter().map(|e| e.verified).collect(),
            relations: doc
                .relations
                .iter()
                .map(|r| Relation { from: r.source, to: r.target, kind: r.kind.as_str() })
                .collect(),
        };
        out.push_str(&serde_json::to_string(&line).expect("serialising strings and numbers cannot fail"));
        out.push('\n');
    }
    out
}

/// Reads every non-blank line as a document. `text` is required; `title`, `direction`,
/// `language`, `label`, `verified` and `relations` are optional; other keys (`id`) are
/// ignored. An `offsets` key other than `unicode_code_points` is refused, since the offsets
/// would be misread.
pub fn parse(data: &str) -> (Vec<ParsedDocument>, Vec<ImportIssue>) {
    let mut docs = Vec::new();
    let mut issues = Vec::new();
    for (i, raw) in data.lines().enumerate() {
        let line = i as u32 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) => {
                issues.push(ImportIssue::new(line, format!("not valid JSON ({e})")));
                continue;
            }
        };
        let Some(obj) = value.as_object() else {
            issues.push(ImportIssue::new(line, "expected a JSON object"));
            continue;
        };
        let mut issue = |message: String| issues.push(ImportIssue::new(line, message));
        let string = |key: &str, issue: &mut dyn FnMut(String)| match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                issue(format!("`{key}` must be a string"));
                None
            }
        };
        let Some(text) = string("text", &mut issue) else {
            if !obj.contains_key("text") {
                issue("`text` is missing".into());
            }
            continue;
        };
        let mut doc = ParsedDocument {
            line,
            title: string("title", &mut issue),
            text: Some(text),
            language: string("language", &mut issue),
            ..Default::default()
        };
        if let Some(d) = string("direction", &mut issue) {
            match parse_direction(&d) {
                Some(d) => doc.direction = Some(d),
                None => issue(format!("`direction` must be \"rtl\" or \"ltr\", not {d:?}")),
            }
        }
        if let Some(o) = string("offsets", &mut issue)
            && o != OFFSETS
        {
            issue(format!("`offsets` is {o:?}, but these offsets must be \"{OFFSETS}\""));
        }
        let labels = array(obj.get("label"), "label", &mut issue);
        for (k, item) in labels.iter().enumerate() {
            match label(item) {
                Some((start, end, ty)) => {
                    doc.spans.push(ParsedSpan::new(line, format!("label {}", k + 1), start, end, ty))
                }
                None => issue(format!("label {} must be [start, end, \"TYPE\"], not {item}", k + 1)),
            }
        }
        if let Some(v) = obj.get("verified").filter(|v| !v.is_null()) {
            match v.as_array().map(|a| a.iter().map(Value::as_bool).collect::<Option<Vec<bool>>>()) {
                Some(Some(flags)) if flags.len() == labels.len() && flags.len() == doc.spans.len() => {
                    for (span, flag) in doc.spans.iter_mut().zip(flags) {
                        span.verified = flag;
                    }
                }
                Some(Some(flags)) if flags.len() != labels.len() => issue(format!(
                    "`verified` has {} flags for {} labels; it needs one per label",
                    flags.len(),
                    labels.len()
                )),
                Some(Some(_)) => {} // a malformed label is reported already
                _ => issue("`verified` must be an array of true and false".into()),
            }
        }
        for (k, item) in array(obj.get("relations"), "relations", &mut issue).iter().enumerate() {
            match relation(item) {
                Some((from, to, _)) if from >= labels.len() || to >= labels.len() => {
                    issue(format!("relation {} refers to label {} of {}", k + 1, from.max(to) + 1, labels.len()))
                }
                Some((source, target, kind)) => doc.relations.push(ParsedRelation { line, source, target, kind }),
                None => issue(format!(
                    "relation {} must be {{\"from\": i, \"to\": j, \"type\": \"TYPE\"}}, not {item}",
                    k + 1
                )),
            }
        }
        docs.push(doc);
    }
    (docs, issues)
}

fn array<'v>(v: Option<&'v Value>, key: &str, issue: &mut dyn FnMut(String)) -> &'v [Value] {
    match v {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(_) => {
            issue(format!("`{key}` must be an array"));
            &[]
        }
    }
}

fn label(item: &Value) -> Option<(i64, i64, String)> {
    match item.as_array()?.as_slice() {
        [s, e, t] => Some((s.as_i64()?, e.as_i64()?, t.as_str()?.to_owned())),
        _ => None,
    }
}

/// `{"from": i, "to": j, "type": "T"}`, or `[i, j, "T"]`.
fn relation(item: &Value) -> Option<(usize, usize, String)> {
    let (from, to, kind) = match item {
        Value::Object(o) => (o.get("from")?, o.get("to")?, o.get("type")?),
        Value::Array(a) if a.len() == 3 => (&a[0], &a[1], &a[2]),
        _ => return None,
    };
    Some((usize::try_from(from.as_u64()?).ok()?, usize::try_from(to.as_u64()?).ok()?, kind.as_str()?.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Direction;
    use crate::exchange::tests::{TEXT, sample};

    #[test]
    fn exact_output() {
        let doc = sample();
        let expected = format!(
            concat!(
                "{{\"id\":\"{}\",\"title\":\"Stanza, one\",\"text\":\"امام حسینؑ ابن علیؑ, کربلا میں\\nعباسؑ، فرات پر\",",
                "\"direction\":\"rtl\",\"offsets\":\"unicode_code_points\",",
                "\"label\":[[0,19,\"PERSON\"],[0,4,\"DESIGNATION\"],[5,10,\"PERSON\"],[15,26,\"LOCATION\"],[21,26,\"LOCATION\"],[31,36,\"PERSON\"],[38,42,\"LOCATION\"]],",
                "\"verified\":[true,false,false,false,false,false,false],",
                "\"relations\":[{{\"from\":0,\"to\":2,\"type\":\"SAME_AS\"}},{{\"from\":5,\"to\":6,\"type\":\"LOCATED_IN\"}}]}}\n"
            ),
            doc.id
        );
        assert_eq!(write(&[doc]), expected);
    }

    #[test]
    fn reads_what_it_writes() {
        let doc = sample();
        let (parsed, issues) = parse(&write(&[doc.clone(), doc.clone()]));
        assert_eq!(issues, []);
        assert_eq!(parsed.len(), 2);
        let p = &parsed[1];
        assert_eq!((p.line, p.title.as_deref(), p.text.as_deref()), (2, Some("Stanza, one"), Some(TEXT)));
        assert_eq!(p.direction, Some(Direction::Rtl));
        let spans: Vec<(i64, i64, &str, bool)> =
            p.spans.iter().map(|s| (s.start, s.end, s.type_name.as_str(), s.verified)).collect();
        let expected: Vec<(i64, i64, &str, bool)> =
            doc.entities.iter().map(|e| (e.start.into(), e.end.into(), e.type_name.as_str(), e.verified)).collect();
        assert_eq!(spans, expected);
        assert_eq!(p.relations[1], ParsedRelation { line: 2, source: 5, target: 6, kind: "LOCATED_IN".into() });
    }

    #[test]
    fn doccano_lines_need_only_text_and_label() {
        let (parsed, issues) = parse("\n{\"text\": \"حسین, علی\", \"label\": [[0, 4, \"PERSON\"]], \"meta\": {}}\n");
        assert_eq!(issues, []);
        assert_eq!(parsed[0].line, 2);
        assert_eq!(parsed[0].spans[0].name, "label 1");
        assert!(!parsed[0].spans[0].verified);
    }

    #[test]
    fn malformed_lines_are_named() {
        let data = concat!(
            "{\"text\": \"a\", \"label\": [[0, 1]]}\n",
            "not json\n",
            "[1, 2]\n",
            "{\"label\": []}\n",
            "{\"text\": \"a\", \"offsets\": \"utf16_code_units\", \"direction\": \"up\"}\n",
            "{\"text\": \"ab\", \"label\": [[0, 1, \"PERSON\"]], \"verified\": [true, false], \"relations\": [{\"from\": 0, \"to\": 3, \"type\": \"SAME_AS\"}, 7]}\n",
        );
        let (parsed, issues) = parse(data);
        let shown: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(shown[0], "line 1: label 1 must be [start, end, \"TYPE\"], not [0,1]");
        assert!(shown[1].starts_with("line 2: not valid JSON (expected ident at line 1 column 2)"), "{}", shown[1]);
        assert_eq!(shown[2], "line 3: expected a JSON object");
        assert_eq!(shown[3], "line 4: `text` is missing");
        assert_eq!(shown[4], "line 5: `direction` must be \"rtl\" or \"ltr\", not \"up\"");
        assert_eq!(
            shown[5],
            "line 5: `offsets` is \"utf16_code_units\", but these offsets must be \"unicode_code_points\""
        );
        assert_eq!(shown[6], "line 6: `verified` has 2 flags for 1 labels; it needs one per label");
        assert_eq!(shown[7], "line 6: relation 1 refers to label 4 of 1");
        assert_eq!(shown[8], "line 6: relation 2 must be {\"from\": i, \"to\": j, \"type\": \"TYPE\"}, not 7");
        assert_eq!(shown.len(), 9);
        assert_eq!(parsed.len(), 3);
    }
}
