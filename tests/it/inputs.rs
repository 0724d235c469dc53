//! Bounded inputs, the same on both databases: a walk of the schema sends every input one
//! step over its documented maximum, and U+0000 in each, and expects `BAD_USER_INPUT` naming
//! it; NUL is refused in names, titles, content, bios, uploads and imports (PostgreSQL cannot
//! store it); and the smaller cases: UTF-32 uploads, CoNLL offsets that are not numbers,
//! negative versions and line numbers, a string for an enum, usernames in any case, empty or
//! unreadable `Authorization` headers, file names with paths and bidirectional controls, and
//! processing configurations naming entity types that do not exist.

use crate::common;

use common::{Db, PASSWORD, TestApp, entity_type_ids, error_code};
use nishan_api::graphql::input_limits::{self, InputPosition, Limit, Shapes};
use serde_json::{Value, json};

/// The largest document of the walk's server (so that inputs bounded by it are small).
const DOCUMENT_BYTES: usize = 1_000;

/// A GraphQL string literal of `text` (JSON's escapes are GraphQL's).
fn literal(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// The argument literal that puts `leaf` at `position`.
fn nested(position: &InputPosition, leaf: String) -> String {
    position.path.iter().rev().fold(leaf, |inner, field| format!("{{{field}: {inner}}}"))
}

/// A document sending `leaf` at `position` (nothing else: inputs are checked before the
/// document is validated, so missing arguments do not matter).
fn document(position: &InputPosition, leaf: String) -> String {
    let op = position.root.to_lowercase();
    format!("{op} {{ {}({}: {}) }}", position.field, position.argument, nested(position, leaf))
}

/// Values one step over `position`'s limit.
fn over_the_limit(position: &InputPosition) -> Vec<String> {
    let limit = input_limits::limit_of(&position.key, &position.scalar);
    if position.list {
        let (items, chars) = match limit {
            Limit::List { items, chars } => (items, Some(chars)),
            Limit::Items(items) => (items, None),
            _ => (input_limits::DEFAULT_ITEMS, None),
        };
        let mut values = vec![format!("[{}]", vec!["null"; items + 1].join(", "))];
        if let Some(chars) = chars.filter(|_| matches!(position.scalar.as_str(), "String" | "ID")) {
            values.push(format!("[{}]", literal(&"x".repeat(chars + 1))));
        }
        return values;
    }
    match limit {
        Limit::Chars(n) => vec![literal(&"x".repeat(n + 1))],
        Limit::DocumentBytes => vec![literal(&"x".repeat(DOCUMENT_BYTES + 1))],
        Limit::ImportBytes => vec![literal(&"x".repeat(4 * DOCUMENT_BYTES + 1))],
        Limit::JsonBytes(n) => vec![format!("{{k: {}}}", literal(&"v".repeat(n + 1)))],
        Limit::List { chars, .. } => vec![literal(&"x".repeat(chars + 1))],
        Limit::Items(_) => Vec::new(),
    }
}

async fn every_input_has_a_maximum_and_refuses_nul(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.max_document_bytes = DOCUMENT_BYTES).await;
    let (token, _) = app.register("walker").await;
    let positions = Shapes::of_schema().input_positions();
    assert!(positions.len() > 80, "{} inputs found", positions.len());
    let mut checked = 0;
    for position in &positions {
        let mut sends = over_the_limit(position);
        if matches!(position.scalar.as_str(), "String" | "ID") && !position.list {
            sends.push(literal("a\u{0}b"));
        }
        if position.scalar == "JSON" {
            sends.push(format!("{{k: {}}}", literal("a\u{0}b")));
        }
        for leaf in sends {
            let query = document(position, leaf);
            for caller in [None, Some(token.as_str())] {
                let resp = app.gql(caller, &query, json!({})).await;
                let shown: String = query.chars().take(160).collect();
                assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{} ({shown}): {resp}", position.key);
                assert_eq!(resp["errors"][0]["extensions"]["field"], position.name(), "{}: {resp}", position.key);
                checked += 1;
            }
        }
    }
    eprintln!("{db:?}: {} inputs, {checked} refusals", positions.len());
    // Every one of the inputs the issue found unbounded is among them.
    for key in [
        "Mutation.updateDocumentContent.changeSummary",
        "UpdateDocumentInput.metadata",
        "UpdateMeInput.preferences",
        "CreateProcessingConfigInput.systemPrompt",
        "CreateProcessingConfigInput.postProcessing",
        "Mutation.deleteEntity.reason",
        "Mutation.annotateAllOccurrences.text",
        "LoginInput.usernameOrEmail",
    ] {
        assert!(positions.iter().any(|p| p.key == key), "{key}");
    }
    // Variables are checked like literals.
    let q = "mutation($i: LoginInput!) { login(input: $i) { token } }";
    let huge = "x".repeat(500_000);
    let resp = app.gql(None, q, json!({"i": {"usernameOrEmail": huge, "password": "p"}})).await;
    assert_eq!(resp["errors"][0]["extensions"]["field"], "usernameOrEmail", "{resp}");
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'auth.login_failed'").await, 0);
}

async fn nul_is_refused_on_every_database(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Nul", json!({})).await;
    let register = "mutation($i: RegisterInput!) { register(input: $i) { token } }";
    let cases: Vec<(Option<&str>, &str, Value, &str)> = vec![
        (
            None,
            register,
            json!({"i": {"username": "a\u{0}b", "email": "x@example.org", "password": PASSWORD}}),
            "username",
        ),
        (
            None,
            "mutation($i: LoginInput!) { login(input: $i) { token } }",
            json!({"i": {"usernameOrEmail": "anis\u{0}", "password": PASSWORD}}),
            "usernameOrEmail",
        ),
        (
            Some(&token),
            "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
            json!({"i": {"name": "a\u{0}"}}),
            "name",
        ),
        (
            Some(&token),
            "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }",
            json!({"i": {"projectId": project, "title": "t\u{0}", "content": "کربلا"}}),
            "title",
        ),
        (
            Some(&token),
            "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }",
            json!({"i": {"projectId": project, "title": "t", "content": "کربلا\u{0}"}}),
            "content",
        ),
        (
            Some(&token),
            "mutation($i: UpdateMeInput!) { updateMe(input: $i) { id } }",
            json!({"i": {"bio": "b\u{0}"}}),
            "bio",
        ),
    ];
    for (caller, query, vars, field) in cases {
        let resp = app.gql(caller, query, vars).await;
        assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{field}: {resp}");
        assert_eq!(resp["errors"][0]["extensions"]["field"], field, "{resp}");
    }
    // In an uploaded file, and in an import's data.
    let resp = common::upload(&app, &token, &project, "nul.txt", b"karbala\0".to_vec()).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    assert!(resp["errors"][0]["message"].as_str().unwrap().contains("U+0000 (NUL) at byte 7"), "{resp}");
    let import =
        "mutation($p: ID!, $d: String!) { importDocuments(projectId: $p, format: JSONL, data: $d) { created } }";
    let resp = app.gql(Some(&token), import, json!({"p": project, "d": "{\"text\":\"a\\u0000b\"}\n"})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    assert!(resp["errors"][0]["message"].as_str().unwrap().contains("U+0000"), "{resp}");
    assert_eq!(app.count("SELECT id FROM documents").await, 0);
    assert_eq!(app.count("SELECT id FROM users").await, 1);
}

async fn the_smaller_cases(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let (_, member) = app.register("dabir").await;
    let project = app.create_project(&token, "Small", json!({})).await;
    // A UTF-32 file is refused by name, not read as UTF-16.
    let mut utf32 = vec![0xFF, 0xFE, 0x00, 0x00];
    for c in "کربلا".chars() {
        utf32.extend_from_slice(&(c as u32).to_le_bytes());
    }
    let resp = common::upload(&app, &token, &project, "utf32.txt", utf32).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT");
    assert!(resp["errors"][0]["message"].as_str().unwrap().contains("UTF-32"), "{resp}");
    // A file name keeps its base name, without bidirectional controls.
    let resp = common::upload(&app, &token, &project, "../../../etc/passwd", "کربلا".as_bytes().to_vec()).await;
    assert_eq!(resp["data"]["uploadDocument"]["title"], "passwd", "{resp}");
    assert_eq!(resp["data"]["uploadDocument"]["fileName"], "passwd");
    let resp = common::upload(&app, &token, &project, "marsiya\u{202E}txt.exe", "فرات".as_bytes().to_vec()).await;
    assert_eq!(resp["data"]["uploadDocument"]["title"], "marsiyatxt.exe", "{resp}");
    let doc = common::create_document(&app, &token, &project, "Two words", "حسین کربلا").await;
    // CoNLL offsets that are not numbers name their line.
    let import =
        "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: CONLL, data: $data) { created } }";
    let data = "حسین\t0\t4\tB-PERSON\nکربلا\ta\tb\tB-LOCATION\n";
    let resp = app.gql(Some(&token), import, json!({"d": doc, "data": data})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    let message = resp["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("line 2") && message.contains("\"a\""), "{message}");
    // Negative numbers where versions and line numbers are expected.
    let content =
        "mutation($id: ID!, $v: Int) { updateDocumentContent(id: $id, content: \"کربلا\", expectedVersion: $v) { id } }";
    let resp = app.gql(Some(&token), content, json!({"id": doc, "v": -1})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    assert_eq!(resp["errors"][0]["extensions"]["field"], "expectedVersion");
    let lines = "query($id: ID!, $n: Int) { document(id: $id) { entities(first: 5, filter: {lineNumber: $n}) { totalCount } } }";
    let resp = app.gql(Some(&token), lines, json!({"id": doc, "n": -1})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    assert_eq!(resp["errors"][0]["extensions"]["field"], "lineNumber");
    // A quoted string is not an enum value.
    let add = format!(
        "mutation {{ addProjectMember(input: {{projectId: \"{project}\", userId: \"{member}\", role: \"OWNER\"}}) {{ role }} }}"
    );
    let resp = app.gql(Some(&token), &add, json!({})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    assert_eq!(resp["errors"][0]["extensions"]["field"], "role");
    assert_eq!(app.count("SELECT id FROM project_memberships").await, 1, "nobody was added");
    // A processing configuration may only name entity types that exist.
    let types = entity_type_ids(&app).await;
    let config = "mutation($t: [ID!]) { createProcessingConfig(input: {name: \"c\", entityTypeIds: $t}) { id } }";
    let unknown = uuid::Uuid::new_v4().to_string();
    let resp = app.gql(Some(&token), config, json!({"t": [types["PERSON"], unknown]})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    assert_eq!(resp["errors"][0]["extensions"]["field"], "entityTypeIds");
    assert!(app.gql(Some(&token), config, json!({"t": [types["PERSON"]]})).await.get("errors").is_none());
}

async fn authorization_that_names_no_token_is_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let send = |value: reqwest::header::HeaderValue| {
        let app = &app;
        async move {
            let resp = app
                .http
                .post(app.url("/graphql"))
                .header(reqwest::header::AUTHORIZATION, value)
                .json(&json!({"query": "{ me { id } }"}))
                .send()
                .await
                .unwrap();
            resp.json::<Value>().await.unwrap()
        }
    };
    for value in [
        reqwest::header::HeaderValue::from_static("Bearer "),
        reqwest::header::HeaderValue::from_static("Bearer"),
        reqwest::header::HeaderValue::from_bytes("Bearer nsn_\u{0639}".as_bytes()).unwrap(),
    ] {
        let resp = send(value.clone()).await;
        assert_eq!(error_code(&resp), "UNAUTHENTICATED", "{value:?}: {resp}");
    }
    // No header at all is an anonymous caller.
    let anonymous = app.gql(None, "{ me { id } }", json!({})).await;
    assert!(anonymous["data"]["me"].is_null() && anonymous.get("errors").is_none(), "{anonymous}");
}

on_both_databases!(
    every_input_has_a_maximum_and_refuses_nul,
    nul_is_refused_on_every_database,
    the_smaller_cases,
    authorization_that_names_no_token_is_refused,
);

/// The README's *Security* section lists every input limit the server applies, and the
/// defaults for the rest.
#[test]
fn the_readme_lists_every_input_limit() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let number = |n: usize| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    for (key, limit) in input_limits::LIMITS {
        let (owner, field) = key.rsplit_once('.').unwrap();
        let shown = match limit {
            Limit::Chars(n) => number(*n),
            Limit::DocumentBytes => "the largest document".to_owned(),
            Limit::ImportBytes => "4 × the largest document".to_owned(),
            Limit::List { items, chars } => format!("{} × {}", number(*items), number(*chars)),
            Limit::Items(n) => format!("{} items", number(*n)),
            Limit::JsonBytes(n) => format!("{} KiB", n / 1024),
        };
        let line = readme
            .lines()
            .find(|l| l.starts_with(&format!("- `{owner}`: ")))
            .unwrap_or_else(|| panic!("no README line for {owner}"));
        let entry = format!("`{field}` {shown}");
        assert!(
            line.split(", `").any(|part| part.trim_start_matches(&format!("- `{owner}`: ")).trim_start_matches('`')
                == entry.trim_start_matches('`')),
            "{key}: the README says {line:?}, the server {entry:?}"
        );
    }
    let defaults = format!(
        "A\nstring may hold at most {} characters, an `ID` {}, a list {} items and a `JSON` value\n{} KiB",
        number(input_limits::DEFAULT_CHARS),
        input_limits::DEFAULT_ID_CHARS,
        number(input_limits::DEFAULT_ITEMS),
        input_limits::DEFAULT_JSON_BYTES / 1024
    );
    assert!(readme.contains(&defaults), "the README states the defaults: {defaults}");
}
