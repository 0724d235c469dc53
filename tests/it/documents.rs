//! Documents over GraphQL: ingestion, uploads, metrics, lines and stanzas, direction,
//! versions with entities carried through edits, and permissions.

use crate::common;

use common::{Db, TestApp, create_document, entity_type_ids, error_code, upload};
use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

const DOC: &str = "query($id: ID!) { document(id: $id) { id title content contentHash wordCount characterCount lineCount language direction processingStatus totalEntities verifiedEntities unverifiedEntities verificationRate currentVersion lines { number stanza start end text } versions { versionNumber changeSummary diffSummary unifiedDiff } } }";
const ADD: &str = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const CONTENT: &str = "mutation($id: ID!, $c: String!, $v: Int, $s: String) { updateDocumentContent(id: $id, content: $c, expectedVersion: $v, changeSummary: $s) { currentVersion content totalEntities entities(first: 100) { edges { node { text start end lineNumber } } } versions { versionNumber diffSummary unifiedDiff } } }";
const ENTITY: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id text start end } }";

const MARSIYA: &str =
    "پنڈلیاں سوجی ہیں اور طوق سے چھلتا ہے گلا\r\nسخت ایذا میں ہے، فرزند شہ کرب و بلا\r\n\r\nحسینؑ ابن علیؑ کربلا میں\n";

async fn pasted_text_is_normalised_and_measured(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    let id = create_document(&app, &token, &project, "Stanza", MARSIYA).await;
    let doc = &app.ok(Some(&token), DOC, json!({"id": id})).await["document"];
    let content = MARSIYA.replace("\r\n", "\n");
    assert_eq!(doc["content"], content.as_str(), "CRLF becomes LF");
    assert_eq!(doc["characterCount"], content.chars().count());
    assert_eq!(doc["wordCount"], content.unicode_words().count());
    assert_eq!(doc["lineCount"], 4);
    assert_eq!(doc["language"], "ur");
    assert_eq!(doc["direction"], "RTL");
    assert_eq!(doc["processingStatus"], "PENDING");
    assert_eq!(doc["currentVersion"], 1);
    assert_eq!(doc["contentHash"].as_str().unwrap().len(), 64);
    let lines = doc["lines"].as_array().unwrap();
    let summary: Vec<(u64, u64)> =
        lines.iter().map(|l| (l["number"].as_u64().unwrap(), l["stanza"].as_u64().unwrap())).collect();
    assert_eq!(summary[..2], [(1, 1), (2, 1)]);
    assert_eq!(lines.last().unwrap()["stanza"], 2);
    assert_eq!(lines.last().unwrap()["text"], "حسینؑ ابن علیؑ کربلا میں");
    for l in lines {
        let (s, e) = (l["start"].as_u64().unwrap() as usize, l["end"].as_u64().unwrap() as usize);
        let slice: String = content.chars().skip(s).take(e - s).collect();
        assert_eq!(slice, l["text"].as_str().unwrap());
    }
    // The same content again in the project is a conflict that names the first document.
    let again = app
        .gql(
            Some(&token),
            "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }",
            json!({"i": {"projectId": project, "title": "Copy", "content": content}}),
        )
        .await;
    assert_eq!(error_code(&again), "CONFLICT");
    assert!(again["errors"][0]["message"].as_str().unwrap().contains("Stanza"), "{again}");
    assert_eq!(app.count("SELECT id FROM documents").await, 1);
    // ...but another project may hold it.
    let other = app.create_project(&token, "Other", json!({})).await;
    create_document(&app, &token, &other, "Stanza", MARSIYA).await;
}

async fn uploads_accept_utf8_and_utf16_and_refuse_bad_bytes(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.max_document_bytes = 4096).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Uploads", json!({})).await;
    let text = "کربلا\r\nفرات\n";
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    let r = upload(&app, &token, &project, "bom.txt", bom).await;
    let d = &r["data"]["uploadDocument"];
    assert_eq!(d["content"], "کربلا\nفرات\n", "{r}");
    assert_eq!(d["title"], "bom.txt");
    assert_eq!(d["fileName"], "bom.txt");
    assert_eq!(d["characterCount"], 11);
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "حسین\n".encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let r = upload(&app, &token, &project, "utf16.txt", utf16).await;
    assert_eq!(r["data"]["uploadDocument"]["content"], "حسین\n", "{r}");
    assert_eq!(r["data"]["uploadDocument"]["encoding"], "utf-16le");
    let before = app.count("SELECT id FROM documents").await;
    let mut bad = "عباس".as_bytes().to_vec();
    bad.extend_from_slice(&[0xD8]); // a truncated two-byte sequence
    let r = upload(&app, &token, &project, "bad.txt", bad).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert_eq!(r["errors"][0]["extensions"]["field"], "file");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("byte 8"), "{r}");
    let r = upload(&app, &token, &project, "big.txt", "ا".repeat(3000).into_bytes()).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("limit"), "{r}");
    assert_eq!(app.count("SELECT id FROM documents").await, before, "nothing stored for refused uploads");
}

async fn only_uploaders_add_documents(db: Db) {
    let app = TestApp::spawn(db).await;
    app.register("root").await;
    let (owner, _) = app.register("owner").await;
    let (researcher, researcher_id) = app.register("researcher").await;
    let (viewer, viewer_id) = app.register("viewer").await;
    let (stranger, _) = app.register("stranger").await;
    let project = app.create_project(&owner, "P", json!({})).await;
    for (id, role) in [(researcher_id, "RESEARCHER"), (viewer_id, "VIEWER")] {
        app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": id, "role": role}})).await;
    }
    let create = "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }";
    let input = |who: &str| json!({"i": {"projectId": project, "title": who, "content": format!("متن {who}")}});
    assert!(app.gql(Some(&researcher), create, input("researcher")).await.get("errors").is_none());
    assert_eq!(error_code(&app.gql(Some(&viewer), create, input("viewer")).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(Some(&stranger), create, input("stranger")).await), "NOT_FOUND");
    assert_eq!(error_code(&app.gql(None, create, input("anon")).await), "UNAUTHENTICATED");
    let doc = create_document(&app, &owner, &project, "Owned", "کربلا").await;
    assert!(app.gql(Some(&viewer), DOC, json!({"id": doc})).await.get("errors").is_none(), "viewers read");
    assert_eq!(error_code(&app.gql(Some(&stranger), DOC, json!({"id": doc})).await), "NOT_FOUND");
    let del = "mutation($id: ID!) { deleteDocument(id: $id) }";
    assert_eq!(error_code(&app.gql(Some(&viewer), del, json!({"id": doc})).await), "FORBIDDEN");
    app.ok(Some(&researcher), del, json!({"id": doc})).await;
    let counts = app
        .ok(Some(&owner), "query($id: ID) { project(id: $id) { documentCount entityCount } }", json!({"id": project}))
        .await;
    assert_eq!(counts["project"]["documentCount"], 1);
}

async fn edits_are_versioned_and_carry_entities(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let project = app.create_project(&token, "Edits", json!({})).await;
    let original = "حسین ابن علی کربلا میں\nعباس فرات پر\n";
    let doc = create_document(&app, &token, &project, "Edit me", original).await;
    let span = |text: &str, needle: &str| {
        let byte = text.find(needle).unwrap();
        let start = text[..byte].chars().count();
        (start, start + needle.chars().count())
    };
    for (needle, ty) in [("حسین", "PERSON"), ("کربلا", "LOCATION"), ("عباس", "PERSON"), ("فرات", "LOCATION")]
    {
        let (s, e) = span(original, needle);
        app.ok(
            Some(&token),
            ENTITY,
            json!({"i": {"documentId": doc, "entityTypeId": types[ty], "start": s, "end": e}}),
        )
        .await;
    }
    // Insert a word before everything, and change "فرات" to "فراط": three entities move, one drops.
    let edited = "مولا حسین ابن علی کربلا میں\nعباس فراط پر\n";
    let d = &app.ok(Some(&token), CONTENT, json!({"id": doc, "c": edited, "v": 1, "s": "typo"})).await["updateDocumentContent"];
    assert_eq!(d["currentVersion"], 2);
    assert_eq!(d["totalEntities"], 3);
    let texts: Vec<&str> =
        d["entities"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["حسین", "کربلا", "عباس"]);
    for e in d["entities"]["edges"].as_array().unwrap() {
        let n = &e["node"];
        let (s, end) = (n["start"].as_u64().unwrap() as usize, n["end"].as_u64().unwrap() as usize);
        assert_eq!(edited.chars().skip(s).take(end - s).collect::<String>(), n["text"].as_str().unwrap());
    }
    let v = &d["versions"][0];
    assert_eq!(v["versionNumber"], 2);
    assert_eq!(v["diffSummary"]["entitiesDropped"], 1);
    assert_eq!(v["diffSummary"]["entitiesMoved"], 3);
    assert!(v["unifiedDiff"].as_str().unwrap().contains("+مولا حسین ابن علی کربلا میں"), "{v}");
    // A stale version is refused and nothing changes.
    let stale = app.gql(Some(&token), CONTENT, json!({"id": doc, "c": "نیا متن", "v": 1})).await;
    assert_eq!(error_code(&stale), "CONFLICT");
    let now = &app.ok(Some(&token), DOC, json!({"id": doc})).await["document"];
    assert_eq!(now["content"], edited);
    assert_eq!(now["versions"].as_array().unwrap().len(), 2);
    assert_eq!(app.count("SELECT id FROM document_versions").await, 2);
}

/// Entities of one type on a repeated letter all shift onto each other's old spans: each is
/// carried; and an edit writes only the entities whose place changed.
async fn edits_move_entities_onto_each_others_spans_and_touch_only_moved_ones(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let project = app.create_project(&token, "Shifts", json!({})).await;
    let far = format!("حسین ابن علی\n{}\n", "کربلا ".repeat(20));
    let original = format!("{far}ب ب ب ب\n");
    let doc = create_document(&app, &token, &project, "Shift", &original).await;
    let base = far.chars().count();
    let mut ids = vec![];
    for (s, e) in [(0, 4), (base, base + 1), (base + 2, base + 3), (base + 4, base + 5), (base + 6, base + 7)] {
        let r = app
            .ok(
                Some(&token),
                ENTITY,
                json!({"i": {"documentId": doc, "entityTypeId": types["PERSON"], "start": s, "end": e}}),
            )
            .await;
        ids.push(r["createEntity"]["id"].as_str().unwrap().to_owned());
    }
    let stamp = "query($id: ID!) { document(id: $id) { entities(first: 10) { edges { node { id text start end updatedAt contextBefore } } } } }";
    let before = app.ok(Some(&token), stamp, json!({"id": doc})).await;
    // "ا " before the four ب: each ب moves two places, onto the old span of the next.
    let edited = format!("{far}ا ب ب ب ب\n");
    let d = &app.ok(Some(&token), CONTENT, json!({"id": doc, "c": edited, "v": 1})).await["updateDocumentContent"];
    assert_eq!(d["totalEntities"], 5);
    assert_eq!(d["versions"][0]["diffSummary"]["entitiesMoved"], 4);
    let after = app.ok(Some(&token), stamp, json!({"id": doc})).await;
    let nodes = |v: &Value| v["document"]["entities"]["edges"].as_array().unwrap().clone();
    let starts: Vec<u64> = nodes(&after).iter().map(|e| e["node"]["start"].as_u64().unwrap()).collect();
    let b = base as u64;
    assert_eq!(starts, [0, b + 2, b + 4, b + 6, b + 8]);
    for e in nodes(&after) {
        let n = &e["node"];
        let (s, end) = (n["start"].as_u64().unwrap() as usize, n["end"].as_u64().unwrap() as usize);
        assert_eq!(edited.chars().skip(s).take(end - s).collect::<String>(), n["text"].as_str().unwrap());
    }
    // "حسین", far before the edit, was not written: same row, same updatedAt.
    assert_eq!(nodes(&before)[0]["node"], nodes(&after)[0]["node"]);
    assert_ne!(nodes(&before)[1]["node"]["updatedAt"], nodes(&after)[1]["node"]["updatedAt"]);
}

/// Edits race with edits and with entity changes: one edit of a version wins, and whatever
/// commits in between, every entity's text is the content at its span afterwards and the
/// counts are exact.
async fn edits_race_with_edits_and_entity_changes(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.surface.mutations_per_minute = 0).await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let project = app.create_project(&token, "Races", json!({})).await;
    let line = "حسین ابن علی کربلا میں عباس فرات پر";
    let original = format!("{}\n", vec![line; 30].join("\n"));
    let doc = create_document(&app, &token, &project, "Race", &original).await;
    // Several edits of version 1 at once: exactly one wins.
    let edits: Vec<_> = (0..5)
        .map(|i| {
            let content = original.replacen("کربلا", &format!("کربلا{}", "ا".repeat(i + 1)), 1);
            let (http, url, token, doc) = (app.http.clone(), app.url("/graphql"), token.clone(), doc.clone());
            tokio::spawn(async move {
                let vars = json!({"id": doc, "c": content, "v": 1});
                http.post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"query": CONTENT, "variables": vars}))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for e in edits {
        let r = e.await.unwrap();
        if r.get("errors").is_none() {
            won += 1;
        } else {
            assert_eq!(error_code(&r), "CONFLICT", "{r}");
        }
    }
    assert_eq!(won, 1, "one edit of version 1 wins");
    // Now writers mark words while an editor keeps inserting text at the top.
    let words: Vec<(usize, usize)> = {
        let current =
            app.ok(Some(&token), DOC, json!({"id": doc})).await["document"]["content"].as_str().unwrap().to_owned();
        current
            .match_indices("عباس")
            .map(|(b, w)| {
                let s = current[..b].chars().count();
                (s, s + w.chars().count())
            })
            .collect()
    };
    let writers: Vec<_> = words
        .chunks(10)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let (http, url, token, doc, ty) =
                (app.http.clone(), app.url("/graphql"), token.clone(), doc.clone(), types["PERSON"].clone());
            tokio::spawn(async move {
                for (s, e) in chunk {
                    let vars = json!({"i": {"documentId": doc, "entityTypeId": ty, "start": s, "end": e}});
                    let r: Value = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"query": ENTITY, "variables": vars}))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    // Marked on a text that changed meanwhile: refused, never misplaced.
                    assert!(r.get("errors").is_none() || error_code(&r) == "CONFLICT", "{r}");
                }
            })
        })
        .collect();
    for i in 0..5 {
        let current = &app.ok(Some(&token), DOC, json!({"id": doc})).await["document"];
        let content = format!("{}\n{}", "یا".repeat(i + 1), current["content"].as_str().unwrap());
        let vars = json!({"id": doc, "c": content, "v": current["currentVersion"]});
        let r = app.gql(Some(&token), CONTENT, vars).await;
        assert!(r.get("errors").is_none() || error_code(&r) == "CONFLICT", "{r}");
    }
    for w in writers {
        w.await.unwrap();
    }
    let all = "query($id: ID!) { document(id: $id) { content totalEntities entities(first: 10000) { edges { node { text start end lineNumber } } } } }";
    let d = &app.ok(Some(&token), all, json!({"id": doc})).await["document"];
    let content = d["content"].as_str().unwrap();
    let edges = d["entities"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        let n = &e["node"];
        let (s, end) = (n["start"].as_u64().unwrap() as usize, n["end"].as_u64().unwrap() as usize);
        assert_eq!(content.chars().skip(s).take(end - s).collect::<String>(), n["text"].as_str().unwrap(), "{n}");
        let line = content.chars().take(s).filter(|c| *c == '\n').count() + 1;
        assert_eq!(n["lineNumber"], line, "{n}");
    }
    assert_eq!(d["totalEntities"], edges.len());
    assert_eq!(app.count("SELECT id FROM entities").await as usize, edges.len());
}

async fn the_marsiya_corpus_uploads_with_exact_metrics(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Corpus", json!({})).await;
    let mut files: Vec<_> =
        std::fs::read_dir(common::marsiya_dir().join("corpus")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 241);
    let (mut stored, mut refused, mut duplicates) = (0, vec![], 0);
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let r = upload(&app, &token, &project, name, bytes.clone()).await;
        match std::str::from_utf8(&bytes) {
            Ok(text) => {
                if r.get("errors").is_some() && error_code(&r) == "CONFLICT" {
                    duplicates += 1;
                    continue;
                }
                let d = &r["data"]["uploadDocument"];
                let text = text.strip_prefix('\u{FEFF}').unwrap_or(text).replace("\r\n", "\n").replace('\r', "\n");
                assert_eq!(d["characterCount"], text.chars().count(), "{name}");
                assert_eq!(d["wordCount"], text.unicode_words().count(), "{name}");
                assert_eq!(d["lineCount"], text.lines().count(), "{name}");
                stored += 1;
            }
            Err(e) => {
                assert_eq!(error_code(&r), "BAD_USER_INPUT", "{name}: {r}");
                let msg = r["errors"][0]["message"].as_str().unwrap();
                assert!(msg.contains(&format!("byte {}", e.valid_up_to())), "{name}: {msg}");
                refused.push(name.to_owned());
            }
        }
    }
    assert_eq!(refused.len(), 1, "exactly one file has a truncated UTF-8 byte: {refused:?}");
    assert_eq!(stored + duplicates, 240);
    let total =
        app.ok(Some(&token), "query($id: ID) { project(id: $id) { documentCount } }", json!({"id": project})).await;
    assert_eq!(total["project"]["documentCount"], stored);
    let _: Value = total;
}

/// A one-word edit and an added line: the entities after each move as a run, one UPDATE per
/// run (not one row each), and every entity ends where a fresh document with the new text
/// places it (offsets in both counts, line, stanza, word position, contexts).
async fn an_edit_moves_runs_of_entities_in_one_statement_each(db: Db) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = TestApp::spawn_recording(db, log.clone()).await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let line = |i: usize| format!("سطر {i} حسین ابن علی عباس\n");
    let original: String = (0..60).map(line).collect();
    let edited: String = (0..60)
        .map(|i| match i {
            8 => format!("سطر {i} مولا حسین ابن علی عباس\n"),
            34 => format!("{}نئی سطر 😀\n", line(i)),
            _ => line(i),
        })
        .collect();
    // Where each entity's word is: the n-th "حسین" and the n-th "عباس" of a text.
    let spans = |text: &str| -> Vec<(usize, usize)> {
        let mut out = vec![];
        for word in ["حسین", "عباس"] {
            let mut from = 0;
            while let Some(at) = text[from..].find(word) {
                let byte = from + at;
                let start = text[..byte].chars().count();
                out.push((start, start + word.chars().count()));
                from = byte + word.len();
            }
        }
        out
    };
    let fields = "text start end utf16Start utf16End lineNumber stanzaNumber wordPosition contextBefore contextAfter";
    let read = format!(
        "query($id: ID!) {{ document(id: $id) {{ entities(first: 500) {{ edges {{ node {{ {fields} }} }} }} }} }}"
    );
    let place_all = |doc: String, text: String| {
        let (app, token, types) = (&app, &token, &types);
        async move {
            for (s, e) in spans(&text) {
                let vars = json!({"i": {"documentId": doc, "entityTypeId": types["PERSON"], "start": s, "end": e}});
                app.ok(Some(token), ENTITY, vars).await;
            }
        }
    };
    let project = app.create_project(&token, "Runs", json!({})).await;
    let doc = create_document(&app, &token, &project, "Runs", &original).await;
    place_all(doc.clone(), original.clone()).await;
    log.lock().unwrap().clear();
    let d = &app.ok(Some(&token), CONTENT, json!({"id": doc, "c": edited, "v": 1})).await["updateDocumentContent"];
    assert_eq!(d["totalEntities"], 120);
    assert_eq!(d["versions"][0]["diffSummary"]["entitiesDropped"], 0);
    let shifts = log.lock().unwrap().iter().filter(|sql| sql.contains(r#""start_offset" = "start_offset" +"#)).count();
    let updates: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|sql| sql.contains("UPDATE"))
        .map(|s| s.chars().take(300).collect())
        .collect();
    assert_eq!(shifts, 2, "one UPDATE for the entities after the word, one for those after the new line: {updates:#?}");
    let moved = &app.ok(Some(&token), &read, json!({"id": doc})).await["document"]["entities"]["edges"];
    // The same entities placed on the new text from scratch, in a document of their own.
    let fresh_project = app.create_project(&token, "Fresh", json!({})).await;
    let fresh = create_document(&app, &token, &fresh_project, "Fresh", &edited).await;
    place_all(fresh.clone(), edited.clone()).await;
    let placed = &app.ok(Some(&token), &read, json!({"id": fresh})).await["document"]["entities"]["edges"];
    assert_eq!(moved.as_array().unwrap().len(), 120);
    assert_eq!(moved, placed);
}

/// A document's search passages as stored, in offset order: each row's id, and what a fresh
/// index of the same text must hold (line, offsets, text, words, counts, hash).
async fn passage_rows(app: &TestApp, doc: &str) -> Vec<(i64, String)> {
    use sea_orm::ConnectionTrait;
    let db = app.database().await;
    let backend = db.get_database_backend();
    let param = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
    let sql = format!(
        "SELECT id, line_number, start_offset, end_offset, text, words, word_count, repeats, content_hash \
         FROM search_passages WHERE document_id = {param} ORDER BY start_offset"
    );
    let uuid = uuid::Uuid::parse_str(doc).unwrap();
    let rows = db.query_all_raw(sea_orm::Statement::from_sql_and_values(backend, sql, [uuid.into()])).await.unwrap();
    db.close().await.unwrap();
    rows.iter()
        .map(|r| {
            let int = |c: &str| r.try_get::<i32>("", c).unwrap();
            let text = |c: &str| r.try_get::<String>("", c).unwrap();
            let fields = format!(
                "{} {}..{} {:?} {:?} {} {:?} {}",
                int("line_number"),
                int("start_offset"),
                int("end_offset"),
                text("text"),
                text("words"),
                int("word_count"),
                text("repeats"),
                text("content_hash")
            );
            (r.try_get::<i64>("", "id").unwrap(), fields)
        })
        .collect()
}

/// A content edit moves the search index line by line: the passages of unchanged lines keep
/// their rows (those after the change moved to their new lines and offsets), only the changed
/// lines' passages are written anew, and the index then holds exactly what a fresh index of
/// the new text holds; search finds the new words where they now stand.
async fn an_edit_reindexes_only_the_changed_lines(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let t = Some(token.as_str());
    let line = |i: usize| format!("سطر {i} حسین ابن علی عباس\n");
    let original: String = (0..40).map(line).chain(["\n".to_owned(), "آخری سطر کربلا\n".to_owned()]).collect();
    let project = app.create_project(&token, "Index", json!({})).await;
    let doc = create_document(&app, &token, &project, "Index", &original).await;
    let before = passage_rows(&app, &doc).await;
    assert_eq!(before.len(), 41);
    // One word more on line 11 (index 10): the lines after it move by five code points.
    let edited = original.replacen("سطر 10 حسین", "سطر 10 مولا حسین", 1);
    app.ok(t, CONTENT, json!({"id": doc, "c": edited, "v": 1})).await;
    // Then a line added before the first: every passage moves a line down.
    let edited = format!("نیا مصرع فرات\n{edited}");
    app.ok(t, CONTENT, json!({"id": doc, "c": edited, "v": 2})).await;
    let after = passage_rows(&app, &doc).await;
    let fresh_project = app.create_project(&token, "Fresh", json!({})).await;
    let fresh = create_document(&app, &token, &fresh_project, "Fresh", &edited).await;
    let expected: Vec<String> = passage_rows(&app, &fresh).await.into_iter().map(|(_, f)| f).collect();
    assert_eq!(after.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(), expected);
    // Rows kept: every line's but the edited one's (line 11) and the new first line's.
    let old_ids: Vec<i64> = before.iter().map(|(id, _)| *id).collect();
    let kept: Vec<bool> = after.iter().map(|(id, _)| old_ids.contains(id)).collect();
    let new_rows: Vec<usize> = kept.iter().enumerate().filter(|(_, k)| !**k).map(|(i, _)| i).collect();
    assert_eq!(new_rows, [0, 11], "only the new line's and the edited line's passages are new rows");
    // The project's counts follow, and search finds the words where they now are.
    let same_counts = "SELECT a.project_id FROM search_stats a JOIN search_stats b ON a.passages = b.passages \
                       AND a.words = b.words AND a.project_id <> b.project_id";
    assert_eq!(app.count(same_counts).await, 2, "both projects count the same passages and words");
    let search = "query($i: SearchInput!) { search(input: $i) { totalCount edges { node { lineNumber text highlights { start end } } } } }";
    let found = |q: &'static str| {
        let (app, project) = (&app, project.clone());
        async move { app.ok(t, search, json!({"i": {"projectId": project, "query": q}})).await["search"].clone() }
    };
    let r = found("مولا").await;
    assert_eq!(r["totalCount"], 1);
    assert_eq!(r["edges"][0]["node"]["lineNumber"], 12);
    let r = found("کربلا").await;
    assert_eq!(r["edges"][0]["node"]["lineNumber"], 43);
    let at = edited[..edited.find("کربلا").unwrap()].chars().count();
    assert_eq!(r["edges"][0]["node"]["highlights"], json!([{"start": at, "end": at + 5}]));
    // The postings of the words are those of the passages (the changed lines' went with them).
    crate::search::postings_are_the_passages(&app).await;
    if db == Db::Sqlite {
        app.execute("INSERT INTO search_passages_fts (search_passages_fts) VALUES ('integrity-check')").await;
    }
}

on_both_databases!(
    an_edit_reindexes_only_the_changed_lines,
    edits_move_entities_onto_each_others_spans_and_touch_only_moved_ones,
    an_edit_moves_runs_of_entities_in_one_statement_each,
    edits_race_with_edits_and_entity_changes,
    pasted_text_is_normalised_and_measured,
    uploads_accept_utf8_and_utf16_and_refuse_bad_bytes,
    only_uploaders_add_documents,
    edits_are_versioned_and_carry_entities,
    the_marsiya_corpus_uploads_with_exact_metrics,
);
