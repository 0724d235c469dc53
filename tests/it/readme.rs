//! Every GraphQL example of `README.md` runs as written, in order, against a fresh server: a
//! reader who follows the README meets no error. And the export samples of its "Import and
//! export" section are what the export writes (the outputs `exchange` checks exactly).
//!
//! How the examples are run (follow this when you add one):
//! - Each fenced block opened by ```` ```graphql ```` is one request, sent in README order by
//!   one reader: a `subscription` over `/graphql/ws` (`graphql-transport-ws`) until the server
//!   completes it (at most 60 s), anything else as `POST /graphql`. An answer with `errors` (or
//!   a WebSocket `error` message) fails the test, naming the example's line in the README.
//! - **Placeholders**: `<name>` in a block, usually inside a string (`"<project id>"`), stands
//!   for a value an earlier answer gave; the test puts the value there, as the reader pastes it.
//!   A placeholder's name is two or more words of letters, digits and `_` separated by single
//!   spaces (`<project id>`, `<PERSON id>`), so a tag in a string (`<PERSON>…</PERSON>`) stays
//!   text. A placeholder no earlier example captured fails the test.
//! - **Captures** say where a value comes from, in an HTML comment (invisible on the rendered
//!   page) after the block whose answer holds it:
//!   `<!-- readme-test: <project id> = createProject.id -->`. The path starts at the answer's
//!   `data` and is read segment by segment, separated by `.`: a field name; `[N]`, the Nth
//!   element of a list; `[key=VALUE]`, the first element of a list whose field `key` is VALUE
//!   (`<PERSON id> = entityTypes[name=PERSON].id`). Strings are put in as they are, other values
//!   as JSON. Several captures go in one comment, separated by `;`.
//! - **The token** the reader pastes into GraphiQL's Headers tab is the capture `token`
//!   (`<!-- readme-test: token = register.token -->`): from the next example on, requests carry
//!   `Authorization: Bearer <token>` (and the WebSocket `connection_init` the same). Before it,
//!   requests are anonymous; a later `token` capture switches to that user.
//! - A step the prose asks the reader to take (a collaborator registering, say) is written as an
//!   example of its own, so that nothing runs that the README does not show.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Db, TestApp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// One ```graphql block of the README and the captures that follow it.
#[derive(Debug)]
struct Example {
    /// The README line of the opening fence (1-based).
    line: usize,
    query: String,
    captures: Vec<(String, String)>,
}

/// The examples of a Markdown text, in order.
fn examples(markdown: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "```graphql" {
            let mut query = String::new();
            for (_, body) in lines.by_ref() {
                if body.trim() == "```" {
                    break;
                }
                query.push_str(body);
                query.push('\n');
            }
            examples.push(Example { line: i + 1, query, captures: Vec::new() });
        } else if let Some(comment) = trimmed.strip_prefix("<!-- readme-test:").and_then(|c| c.strip_suffix("-->")) {
            let example =
                examples.last_mut().unwrap_or_else(|| panic!("README line {}: a capture before any example", i + 1));
            for capture in comment.split(';').map(str::trim).filter(|c| !c.is_empty()) {
                let (name, path) = capture
                    .split_once('=')
                    .unwrap_or_else(|| panic!("README line {}: a capture is `<name> = path`, not {capture:?}", i + 1));
                example.captures.push((name.trim().to_owned(), path.trim().to_owned()));
            }
        }
    }
    examples
}

/// The value at `path` in `data` (see the module docs for the syntax).
fn at_path<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    let mut value = data;
    for segment in path.split('.') {
        let (field, mut rest) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !field.is_empty() {
            value = value.get(field)?;
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let (selector, after) = inner.split_once(']')?;
            value = match selector.split_once('=') {
                Some((key, wanted)) => {
                    value.as_array()?.iter().find(|item| item.get(key).is_some_and(|v| v.as_str() == Some(wanted)))?
                }
                None => value.get(selector.parse::<usize>().ok()?)?,
            };
            rest = after;
        }
    }
    Some(value)
}

/// Whether `<inner>` is a placeholder: two or more words of letters, digits and `_`, separated
/// by single spaces (`<project id>`). A tag such as `<PERSON>` or `</PERSON>` is text.
fn is_placeholder(inner: &str) -> bool {
    let words: Vec<&str> = inner.split(' ').collect();
    words.len() >= 2 && words.iter().all(|w| !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

/// `query` with every placeholder replaced by its captured value.
fn filled(example: &Example, values: &HashMap<String, String>) -> String {
    let mut query = String::with_capacity(example.query.len());
    let mut rest = example.query.as_str();
    while let Some(start) = rest.find('<') {
        query.push_str(&rest[..start]);
        rest = &rest[start..];
        match rest.find('>').filter(|&end| is_placeholder(&rest[1..end])) {
            Some(end) => {
                let name = &rest[..=end];
                let value = values.get(name).unwrap_or_else(|| {
                    panic!(
                        "README line {}: no earlier example captures {name} (add `<!-- readme-test: {name} = path -->`)",
                        example.line
                    )
                });
                query.push_str(value);
                rest = &rest[end + 1..];
            }
            None => {
                query.push('<');
                rest = &rest[1..];
            }
        }
    }
    query.push_str(rest);
    query
}

/// Runs a subscription until the server completes it; returns its `next` payloads.
async fn subscribe(app: &TestApp, token: Option<&str>, query: &str, line: usize) -> Vec<Value> {
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket connects");
    let payload = token.map_or(json!({}), |t| json!({"Authorization": format!("Bearer {t}")}));
    let send = |message: Value| Message::text(message.to_string());
    socket.send(send(json!({"type": "connection_init", "payload": payload}))).await.unwrap();
    socket.send(send(json!({"type": "subscribe", "id": "readme", "payload": {"query": query}}))).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut payloads = Vec::new();
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| {
                panic!("README line {line}: the subscription did not complete within 60 s: {payloads:?}")
            })
            .unwrap_or_else(|| panic!("README line {line}: the socket closed before the subscription completed"))
            .unwrap();
        let Message::Text(text) = message else { continue };
        let message: Value = serde_json::from_str(&text).unwrap();
        match message["type"].as_str() {
            Some("connection_ack") => {}
            Some("ping") => socket.send(send(json!({"type": "pong"}))).await.unwrap(),
            Some("next") => {
                assert!(message["payload"].get("errors").is_none(), "README line {line}: {message}");
                payloads.push(message["payload"].clone());
            }
            Some("complete") => return payloads,
            _ => panic!("README line {line}: {message}"),
        }
    }
}

async fn every_readme_example_runs_in_order(db: Db) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let examples = examples(&readme);
    assert!(examples.len() >= 10, "the README's examples were not found: {examples:?}");
    let app = TestApp::spawn(db).await;
    let mut values: HashMap<String, String> = HashMap::new();
    let mut token: Option<String> = None;
    for example in &examples {
        let query = filled(example, &values);
        let is_subscription = query.trim_start().starts_with("subscription");
        let data = if is_subscription {
            let payloads = subscribe(&app, token.as_deref(), &query, example.line).await;
            assert!(!payloads.is_empty(), "README line {}: the subscription sent nothing", example.line);
            payloads.last().unwrap()["data"].clone()
        } else {
            let answer = app.gql(token.as_deref(), &query, json!({})).await;
            assert!(answer.get("errors").is_none(), "README line {}: {query}\n{answer}", example.line);
            answer["data"].clone()
        };
        for (name, path) in &example.captures {
            let value = at_path(&data, path)
                .unwrap_or_else(|| panic!("README line {}: no {path} in the answer {data}", example.line));
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            if name == "token" {
                token = Some(value);
            } else {
                values.insert(name.clone(), value);
            }
        }
    }
}

#[test]
fn examples_and_captures_are_read_as_documented() {
    let markdown = "text\n```graphql\n{ a }\n```\n<!-- readme-test: <x id> = a.id; token = a.t -->\n```sh\nno\n```\n  ```graphql\nmutation { b(id: \"<x id>\", data: \"<P>x</P> a<b\") }\n  ```\n";
    let found = examples(markdown);
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].line, found[0].query.as_str()), (2, "{ a }\n"));
    assert_eq!(found[0].captures, [("<x id>".to_owned(), "a.id".to_owned()), ("token".to_owned(), "a.t".to_owned())]);
    assert_eq!(found[1].line, 9);
    let values = HashMap::from([("<x id>".to_owned(), "42".to_owned())]);
    assert_eq!(filled(&found[1], &values), "mutation { b(id: \"42\", data: \"<P>x</P> a<b\") }\n");
    let data = json!({"types": [{"name": "A", "id": 1}, {"name": "PERSON", "id": "p"}], "list": [[0, 5]]});
    assert_eq!(at_path(&data, "types[name=PERSON].id"), Some(&json!("p")));
    assert_eq!(at_path(&data, "types[0].name"), Some(&json!("A")));
    assert_eq!(at_path(&data, "list[0][1]"), Some(&json!(5)));
    assert_eq!(at_path(&data, "types[name=NONE].id"), None);
}

/// The first fenced block after the README's bullet `- **{format}**:` in the section `## Import
/// and export`, its two-space indent taken off, with the document id the README shortens
/// (`9ca78af0…`) written in full.
fn export_sample(readme: &str, format: &str) -> String {
    let section = readme.split("\n## Import and export\n").nth(1).expect("the README's Import and export section");
    let section = section.split("\n## ").next().unwrap();
    let bullet = format!("\n- **{format}**:");
    let after = section.split(&bullet).nth(1).unwrap_or_else(|| panic!("no {bullet:?} in Import and export"));
    let mut lines = after.lines().skip_while(|l| l.trim() != "```");
    assert!(lines.next().is_some(), "no sample after {bullet:?}");
    let mut sample = String::new();
    for line in lines.take_while(|l| l.trim() != "```") {
        sample.push_str(line.strip_prefix("  ").unwrap_or(line));
        sample.push('\n');
    }
    sample.replace("9ca78af0…", crate::exchange::HASH)
}

#[test]
fn the_export_samples_are_what_the_export_writes() {
    use crate::exchange::{CONLL, CONLL_COMMENTED, INLINE, JSONL};
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (format, written) in
        [("JSONL", JSONL), ("CONLL", CONLL), ("CONLL_COMMENTED", CONLL_COMMENTED), ("INLINE_TAGS", INLINE)]
    {
        assert_eq!(export_sample(&readme, format), written, "the README's {format} sample");
    }
}

on_both_databases!(every_readme_example_runs_in_order);
