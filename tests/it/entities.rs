//! Entity types, entities, verification and relationships over GraphQL.

use crate::common;

use std::collections::HashMap;

use common::{Db, TestApp, create_document, entity_type_ids, error_code};
use serde_json::{Value, json};

const ENTITY: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id text start end utf16Start utf16End lineNumber stanzaNumber wordPosition contextBefore contextAfter source isVerified confidenceScore entityType { name } } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateEntityInput!) { updateEntity(id: $id, input: $i) { id source text start end attributes entityType { name } } }";
const VERIFY: &str = "mutation($id: ID!) { verifyEntity(id: $id, notes: \"checked\") { isVerified verifiedAt notes verifiedBy { username } } }";
const COUNTS: &str =
    "query($id: ID!) { document(id: $id) { totalEntities verifiedEntities unverifiedEntities verificationRate } }";
const ADD: &str = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";

/// Code-point span of the `nth` occurrence of `needle` in `text`.
fn span(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let byte = text.match_indices(needle).nth(nth).unwrap().0;
    let start = text[..byte].chars().count();
    (start, start + needle.chars().count())
}

struct Setup {
    app: TestApp,
    token: String,
    project: String,
    doc: String,
    types: HashMap<String, String>,
}

const TEXT: &str = "حُسینؑ ابن علیؑ کربلا میں، 😀 عباسؑ\nفرات پر علمدار، علیم نہیں علی\n\nکربلا کربلا";

async fn setup(db: Db) -> Setup {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let project = app.create_project(&token, "Entities", json!({})).await;
    let doc = create_document(&app, &token, &project, "Text", TEXT).await;
    Setup { app, token, project, doc, types }
}

async fn system_types_are_seeded_and_admins_manage_types(db: Db) {
    let s = setup(db).await;
    let all = s
        .app
        .ok(None, "{ entityTypes { name displayName color rgb { r g b } examples isSystem isActive } }", json!({}))
        .await;
    let names: Vec<&str> = all["entityTypes"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["PERSON", "LOCATION", "DATE", "TIME", "ORGANIZATION", "DESIGNATION", "NUMBER"]);
    let person = &all["entityTypes"][0];
    assert_eq!(person["color"], "#E6194B");
    assert_eq!(person["rgb"], json!({"r": 230, "g": 25, "b": 75}));
    assert!(person["examples"].as_array().unwrap().iter().any(|e| e == "حسین"));
    let create = "mutation($i: CreateEntityTypeInput!) { createEntityType(input: $i) { id name color isSystem } }";
    let poet = s
        .app
        .ok(Some(&s.token), create, json!({"i": {"name": "POET", "color": "#00aa00", "examples": ["انیس", "دبیر"]}}))
        .await;
    assert_eq!(poet["createEntityType"]["color"], "#00AA00");
    assert_eq!(poet["createEntityType"]["isSystem"], false);
    assert_eq!(error_code(&s.app.gql(Some(&s.token), create, json!({"i": {"name": "POET"}})).await), "CONFLICT");
    for (input, field) in [(json!({"name": "poet"}), "name"), (json!({"name": "WEAPON", "color": "red"}), "color")] {
        let r = s.app.gql(Some(&s.token), create, json!({"i": input})).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT");
        assert_eq!(r["errors"][0]["extensions"]["field"], field);
    }
    let (other, _) = s.app.register("other").await;
    assert_eq!(error_code(&s.app.gql(Some(&other), create, json!({"i": {"name": "WEAPON"}})).await), "FORBIDDEN");
    let rename =
        "mutation($id: ID!, $i: UpdateEntityTypeInput!) { updateEntityType(id: $id, input: $i) { name isActive } }";
    let r = s.app.gql(Some(&s.token), rename, json!({"id": s.types["PERSON"], "i": {"name": "HUMAN"}})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    // An inactive type cannot be used for new entities.
    let poet_id = poet["createEntityType"]["id"].as_str().unwrap();
    s.app.ok(Some(&s.token), rename, json!({"id": poet_id, "i": {"isActive": false}})).await;
    let (a, b) = span(TEXT, "علیؑ", 0);
    let r = s
        .app
        .gql(Some(&s.token), ENTITY, json!({"i": {"documentId": s.doc, "entityTypeId": poet_id, "start": a, "end": b}}))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "entityTypeId");
}

async fn entities_are_validated_and_described(db: Db) {
    let s = setup(db).await;
    let (a, b) = span(TEXT, "عباسؑ", 0);
    let e = &s
        .app
        .ok(Some(&s.token), ENTITY, json!({"i": {"documentId": s.doc, "entityTypeId": s.types["PERSON"], "start": a, "end": b, "confidenceScore": 0.9}}))
        .await["createEntity"];
    assert_eq!(e["text"], "عباسؑ");
    assert_eq!(e["source"], "MANUAL");
    assert_eq!(e["lineNumber"], 1);
    assert_eq!(e["stanzaNumber"], 1);
    assert_eq!(e["wordPosition"], 6, "حُسینؑ ابن علیؑ کربلا میں عباسؑ: the sixth word");
    // UTF-16 counts the emoji as two units.
    let prefix: String = TEXT.chars().take(a).collect();
    assert_eq!(e["utf16Start"], prefix.encode_utf16().count());
    assert_eq!(
        e["utf16End"].as_u64().unwrap() - e["utf16Start"].as_u64().unwrap(),
        "عباسؑ".encode_utf16().count() as u64
    );
    assert!(e["contextBefore"].as_str().unwrap().ends_with("😀 "));
    assert!(e["contextAfter"].as_str().unwrap().starts_with("\nفرات"));
    let chars = TEXT.chars().count() as i64;
    let bad = |start: i64, end: i64, extra: Value| {
        let mut i = json!({"documentId": s.doc, "entityTypeId": s.types["PERSON"], "start": start, "end": end});
        i.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap());
        let app = &s.app;
        let token = s.token.clone();
        async move { app.gql(Some(&token), ENTITY, json!({"i": i})).await }
    };
    for (start, end, field) in [(-1, 3, "start"), (3, 3, "end"), (5, 2, "end"), (0, chars + 1, "end")] {
        let r = bad(start, end, json!({})).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{start}..{end}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field, "{start}..{end}: {r}");
    }
    // "حُسینؑ": offset 1 falls between ح and its damma.
    let r = bad(1, 5, json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    let r = bad(0, 6, json!({"text": "حسین"})).await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "text");
    let r = bad(0, 6, json!({"confidenceScore": 1.5})).await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "confidenceScore");
    let ok = bad(0, 6, json!({"text": "حُسینؑ"})).await;
    assert!(ok.get("errors").is_none(), "{ok}");
    // The same span and type twice is a conflict; the same span with another type, or an
    // overlapping span, is fine.
    assert_eq!(error_code(&bad(0, 6, json!({})).await), "CONFLICT");
    let other_type = json!({"i": {"documentId": s.doc, "entityTypeId": s.types["DESIGNATION"], "start": 0, "end": 6}});
    s.app.ok(Some(&s.token), ENTITY, other_type).await;
    let (x, y) = span(TEXT, "حُسینؑ ابن علیؑ", 0);
    s.app
        .ok(
            Some(&s.token),
            ENTITY,
            json!({"i": {"documentId": s.doc, "entityTypeId": s.types["PERSON"], "start": x, "end": y}}),
        )
        .await;
    let counts = &s.app.ok(Some(&s.token), COUNTS, json!({"id": s.doc})).await["document"];
    assert_eq!(counts["totalEntities"], 4);
}

async fn verification_corrections_and_rejections(db: Db) {
    let s = setup(db).await;
    let (a, b) = span(TEXT, "کربلا", 0);
    let id = s
        .app
        .ok(
            Some(&s.token),
            ENTITY,
            json!({"i": {"documentId": s.doc, "entityTypeId": s.types["LOCATION"], "start": a, "end": b}}),
        )
        .await["createEntity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = &s.app.ok(Some(&s.token), VERIFY, json!({"id": id})).await["verifyEntity"];
    assert_eq!(v["isVerified"], true);
    assert_eq!(v["verifiedBy"]["username"], "anis");
    assert_eq!(v["notes"], "checked");
    assert!(v["verifiedAt"].is_string());
    let c = &s.app.ok(Some(&s.token), COUNTS, json!({"id": s.doc})).await["document"];
    assert_eq!(
        (c["totalEntities"].as_u64(), c["verifiedEntities"].as_u64(), c["verificationRate"].as_f64()),
        (Some(1), Some(1), Some(1.0))
    );
    let u = s
        .app
        .ok(
            Some(&s.token),
            "mutation($id: ID!) { unverifyEntity(id: $id) { isVerified verifiedBy { id } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(u["unverifyEntity"], json!({"isVerified": false, "verifiedBy": null}));
    // A manual entity keeps its source when its type changes.
    let m = &s.app.ok(Some(&s.token), UPDATE, json!({"id": id, "i": {"entityTypeId": s.types["PERSON"]}})).await["updateEntity"];
    assert_eq!((m["source"].as_str(), m["entityType"]["name"].as_str()), (Some("MANUAL"), Some("PERSON")));
    // A model suggestion becomes a CORRECTION that remembers its type, and deleting one is a
    // rejection kept on record.
    let store = nishan_infrastructure::Store::new(s.app.database().await);
    let doc_id = nishan_domain::ids::DocumentId(s.doc.parse().unwrap());
    let llm = llm_suggestion(&store, doc_id, &s.types["PERSON"], TEXT, "عباسؑ").await;
    let c = &s.app.ok(Some(&s.token), UPDATE, json!({"id": llm, "i": {"entityTypeId": s.types["DESIGNATION"]}})).await
        ["updateEntity"];
    assert_eq!(c["source"], "CORRECTION");
    assert_eq!(c["attributes"]["previousEntityTypeId"], s.types["PERSON"].as_str());
    let second = llm_suggestion(&store, doc_id, &s.types["LOCATION"], TEXT, "فرات").await;
    s.app
        .ok(
            Some(&s.token),
            "mutation($id: ID!) { deleteEntity(id: $id, reason: \"a river, but not here\") }",
            json!({"id": second}),
        )
        .await;
    assert_eq!(s.app.count("SELECT id FROM entity_rejections WHERE reason = 'a river, but not here'").await, 1);
    s.app.ok(Some(&s.token), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": id})).await;
    assert_eq!(s.app.count("SELECT id FROM entity_rejections").await, 1, "deleting a manual entity just deletes it");
    let all = s
        .app
        .ok(
            Some(&s.token),
            "mutation($ids: [ID!]!) { verifyEntities(ids: $ids) { isVerified } }",
            json!({"ids": [llm]}),
        )
        .await;
    assert_eq!(all["verifyEntities"][0]["isVerified"], true);
}

/// Stores an LLM suggestion straight through the store, as a processing job would.
async fn llm_suggestion(
    store: &nishan_infrastructure::Store,
    doc: nishan_domain::ids::DocumentId,
    type_id: &str,
    text: &str,
    needle: &str,
) -> String {
    use nishan_domain::ports::{DocumentRepository, EntityRepository, OnDuplicate};
    let document = store.document_by_id(doc).await.unwrap().unwrap();
    let dt = nishan_domain::text::DocumentText::new(&document.content);
    let (a, b) = span(text, needle, 0);
    let mut e = nishan_domain::service::entities::new_entity(
        &document,
        &dt,
        nishan_domain::ids::EntityTypeId(type_id.parse().unwrap()),
        (a as u32, b as u32),
        nishan_domain::entity::EntitySource::Llm,
        document.created_by.unwrap(),
    )
    .unwrap();
    e.confidence = Some(0.8);
    let audit = nishan_domain::audit::AuditEntry::new(&Default::default(), None, "test.insert", "entity");
    let id = e.id.to_string();
    store.insert_entities(doc, vec![e], OnDuplicate::Conflict, audit).await.unwrap();
    id
}

async fn annotate_all_marks_whole_words_once(db: Db) {
    let s = setup(db).await;
    let all = "mutation($d: ID!, $t: String!, $ty: ID!) { annotateAllOccurrences(documentId: $d, text: $t, entityTypeId: $ty) }";
    let vars = json!({"d": s.doc, "t": "کربلا", "ty": s.types["LOCATION"]});
    assert_eq!(s.app.ok(Some(&s.token), all, vars.clone()).await["annotateAllOccurrences"], 3);
    assert_eq!(
        s.app.ok(Some(&s.token), all, vars).await["annotateAllOccurrences"],
        0,
        "already marked spans are skipped"
    );
    // "علی" is a whole word once (at the end), not inside "علیم", nor before its honorific.
    let n = s.app.ok(Some(&s.token), all, json!({"d": s.doc, "t": "علی", "ty": s.types["PERSON"]})).await;
    assert_eq!(n["annotateAllOccurrences"], 1);
    let listed = s
        .app
        .ok(Some(&s.token), "query($id: ID!) { document(id: $id) { entities(first: 2, filter: {entityTypeIds: []}) { totalCount } all: entities(first: 2) { totalCount edges { cursor node { text start } } pageInfo { hasNextPage endCursor } } persons: entities(filter: {lineNumber: 2}) { totalCount edges { node { text entityType { name } } } } } }", json!({"id": s.doc}))
        .await;
    let d = &listed["document"];
    assert_eq!(d["entities"]["totalCount"], 0);
    assert_eq!(d["all"]["totalCount"], 4);
    assert_eq!(d["all"]["pageInfo"]["hasNextPage"], true);
    let starts: Vec<u64> =
        d["all"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["start"].as_u64().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "ordered by start");
    assert_eq!(d["persons"]["totalCount"], 1);
    assert_eq!(d["persons"]["edges"][0]["node"]["text"], "علی");
}

async fn counts_stay_exact_under_random_operations(db: Db) {
    let s = setup(db).await;
    let candidates: Vec<(usize, usize)> = ["کربلا", "علیؑ", "فرات", "علمدار", "عباسؑ", "میں"]
        .iter()
        .flat_map(|w| {
            TEXT.match_indices(w).map(move |(b, _)| {
                let start = TEXT[..b].chars().count();
                (start, start + w.chars().count())
            })
        })
        .collect();
    let type_names = ["PERSON", "LOCATION", "DESIGNATION"];
    let mut ids: Vec<String> = vec![];
    // A small deterministic pseudo-random walk (xorshift) over create/verify/unverify/delete.
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for _ in 0..60 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 4 {
            0 | 1 => {
                let (a, b) = candidates[(x >> 8) as usize % candidates.len()];
                let ty = &s.types[type_names[(x >> 16) as usize % 3]];
                let r = s
                    .app
                    .gql(
                        Some(&s.token),
                        ENTITY,
                        json!({"i": {"documentId": s.doc, "entityTypeId": ty, "start": a, "end": b}}),
                    )
                    .await;
                if let Some(id) = r["data"]["createEntity"]["id"].as_str() {
                    ids.push(id.to_owned());
                } else {
                    assert_eq!(error_code(&r), "CONFLICT");
                }
            }
            2 if !ids.is_empty() => {
                let id = &ids[(x >> 8) as usize % ids.len()];
                let m = if x & 0x100 == 0 { "verifyEntity" } else { "unverifyEntity" };
                s.app
                    .ok(Some(&s.token), &format!("mutation($id: ID!) {{ {m}(id: $id) {{ id }} }}"), json!({"id": id}))
                    .await;
            }
            3 if !ids.is_empty() => {
                let id = ids.remove((x >> 8) as usize % ids.len());
                s.app.ok(Some(&s.token), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": id})).await;
            }
            _ => {}
        }
        let c = &s.app.ok(Some(&s.token), COUNTS, json!({"id": s.doc})).await["document"];
        let total = s
            .app
            .count("SELECT id FROM entities WHERE document_id IN (SELECT id FROM documents WHERE title = 'Text')")
            .await;
        let verified = s.app.count("SELECT id FROM entities WHERE is_verified = true").await;
        assert_eq!(c["totalEntities"].as_i64().unwrap(), total);
        assert_eq!(c["verifiedEntities"].as_i64().unwrap(), verified);
        assert_eq!(c["unverifiedEntities"].as_i64().unwrap(), total - verified);
    }
    assert!(!ids.is_empty());
    let _ = &s.project;
}

/// Many clients create, verify, unverify, retype, delete and mark all occurrences at once, on
/// the same spans and the same entities: the stored counts still equal a fresh count.
async fn counts_stay_exact_under_concurrent_operations(db: Db) {
    let s = setup(db).await;
    let words = ["کربلا", "علیؑ", "فرات", "علمدار", "عباسؑ", "میں"];
    let candidates: Vec<(usize, usize)> = words
        .iter()
        .flat_map(|w| {
            TEXT.match_indices(w).map(move |(b, _)| {
                let start = TEXT[..b].chars().count();
                (start, start + w.chars().count())
            })
        })
        .collect();
    let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let tasks: Vec<_> = (0..8u64)
        .map(|client| {
            let app = s.app.http.clone();
            let url = s.app.url("/graphql");
            let token = s.token.clone();
            let doc = s.doc.clone();
            let types = s.types.clone();
            let candidates = candidates.clone();
            let ids = ids.clone();
            tokio::spawn(async move {
                let gql = |query: String, variables: Value| {
                    let req = app.post(&url).bearer_auth(&token).json(&json!({"query": query, "variables": variables}));
                    async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
                };
                let type_names = ["PERSON", "LOCATION", "DESIGNATION"];
                let mut x: u64 = 0x9E3779B97F4A7C15 ^ (client + 1).wrapping_mul(0xBF58476D1CE4E5B9);
                for _ in 0..25 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let ty = &types[type_names[(x >> 16) as usize % 3]];
                    let pick = || {
                        let ids = ids.lock().unwrap();
                        (!ids.is_empty()).then(|| ids[(x >> 8) as usize % ids.len()].clone())
                    };
                    let r = match x % 6 {
                        0 | 1 => {
                            let (a, b) = candidates[(x >> 8) as usize % candidates.len()];
                            let vars = json!({"i": {"documentId": doc, "entityTypeId": ty, "start": a, "end": b}});
                            let r = gql(ENTITY.to_owned(), vars).await;
                            if let Some(id) = r["data"]["createEntity"]["id"].as_str() {
                                ids.lock().unwrap().push(id.to_owned());
                            }
                            r
                        }
                        2 => {
                            let Some(id) = pick() else { continue };
                            let m = if x & 0x100 == 0 { "verifyEntity" } else { "unverifyEntity" };
                            gql(format!("mutation($id: ID!) {{ {m}(id: $id) {{ id }} }}"), json!({"id": id})).await
                        }
                        3 => {
                            let Some(id) = pick() else { continue };
                            gql("mutation($id: ID!) { deleteEntity(id: $id) }".into(), json!({"id": id})).await
                        }
                        4 => {
                            let Some(id) = pick() else { continue };
                            gql(UPDATE.to_owned(), json!({"id": id, "i": {"entityTypeId": ty}})).await
                        }
                        _ => {
                            let word = words[(x >> 8) as usize % words.len()];
                            let all = "mutation($d: ID!, $t: String!, $ty: ID!) { annotateAllOccurrences(documentId: $d, text: $t, entityTypeId: $ty) }";
                            gql(all.into(), json!({"d": doc, "t": word, "ty": ty})).await
                        }
                    };
                    if r.get("errors").is_some() {
                        let code = error_code(&r);
                        assert!(code == "CONFLICT" || code == "NOT_FOUND", "unexpected error: {r}");
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let c = &s.app.ok(Some(&s.token), COUNTS, json!({"id": s.doc})).await["document"];
    let mine = "document_id IN (SELECT id FROM documents WHERE title = 'Text')";
    let total = s.app.count(&format!("SELECT id FROM entities WHERE {mine}")).await;
    let verified = s.app.count(&format!("SELECT id FROM entities WHERE {mine} AND is_verified = true")).await;
    assert!(total > 0, "the clients left entities behind");
    assert_eq!(c["totalEntities"].as_i64().unwrap(), total);
    assert_eq!(c["verifiedEntities"].as_i64().unwrap(), verified);
    assert_eq!(c["unverifiedEntities"].as_i64().unwrap(), total - verified);
    // The stored row itself (the counts live apart from the document's text, one row per
    // document).
    let stored = format!(
        "SELECT id FROM document_stats WHERE document_id IN (SELECT id FROM documents WHERE title = 'Text') \
         AND total_entities = {total} AND verified_entities = {verified}"
    );
    assert_eq!(s.app.count(&stored).await, 1, "stored counts");
    assert_eq!(s.app.count(&format!("SELECT id FROM document_stats WHERE {mine}")).await, 1, "one stats row");
}

const PAGE: &str = "query($id: ID!, $first: Int, $after: String, $f: EntityFilterInput) { document(id: $id) { entities(first: $first, after: $after, filter: $f) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id start end isVerified } } } } }";

/// Entity pages follow a keyset cursor: pages read while another client inserts entities
/// before the cursor (and after it) neither repeat nor skip the entities that were there.
async fn entity_pages_are_stable_while_others_write(db: Db) {
    let s = setup(db).await;
    let words = 150;
    let content = vec!["علی"; words].join(" ");
    let doc = create_document(&s.app, &s.token, &s.project, "Pages", &content).await;
    let all = "mutation($d: ID!, $t: String!, $ty: ID!) { annotateAllOccurrences(documentId: $d, text: $t, entityTypeId: $ty) }";
    let n = s.app.ok(Some(&s.token), all, json!({"d": doc, "t": "علی", "ty": s.types["LOCATION"]})).await;
    assert_eq!(n["annotateAllOccurrences"], words);
    let page = |first: Value, after: Value| {
        let vars = json!({"id": doc, "first": first, "after": after});
        let app = &s.app;
        let token = &s.token;
        async move { app.ok(Some(token), PAGE, vars).await["document"]["entities"].clone() }
    };
    let original: Vec<String> = page(json!(10_000), Value::Null).await["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(original.len(), words, "one request returns every entity");

    // Another client keeps inserting PERSON entities on words of the whole text meanwhile.
    let writer = {
        let (http, url, token, doc) = (s.app.http.clone(), s.app.url("/graphql"), s.token.clone(), doc.clone());
        let person = s.types["PERSON"].clone();
        tokio::spawn(async move {
            for w in (0..words).rev().step_by(3) {
                let vars = json!({"i": {"documentId": doc, "entityTypeId": person, "start": w * 4, "end": w * 4 + 3}});
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
                assert!(r.get("errors").is_none(), "{r}");
            }
        })
    };
    let mut seen: Vec<(u64, u64, String)> = vec![];
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let conn = page(json!(20), after.clone()).await;
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 0);
        for e in conn["edges"].as_array().unwrap() {
            let n = &e["node"];
            seen.push((n["start"].as_u64().unwrap(), n["end"].as_u64().unwrap(), n["id"].as_str().unwrap().to_owned()));
        }
        pages += 1;
        // And this client inserts before where the next page starts (a DESIGNATION on a word
        // of the page just read), between two pages.
        if let Some((start, end, _)) = seen.get(seen.len().saturating_sub(10)).cloned() {
            let vars =
                json!({"i": {"documentId": doc, "entityTypeId": s.types["DESIGNATION"], "start": start, "end": end}});
            let r = s.app.gql(Some(&s.token), ENTITY, vars).await;
            assert!(r.get("errors").is_none() || error_code(&r) == "CONFLICT", "{r}");
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    writer.await.unwrap();
    let ids: Vec<&String> = seen.iter().map(|(_, _, id)| id).collect();
    let unique: std::collections::HashSet<&String> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no entity is read twice");
    for id in &original {
        assert!(unique.contains(id), "entity {id} was skipped");
    }
    assert!(seen.windows(2).all(|w| (w[0].0, w[0].1) <= (w[1].0, w[1].1)), "pages follow reading order");
    assert!(pages >= words / 20, "{pages} pages");

    // Sizes, filters and cursors.
    let too_many = s.app.gql(Some(&s.token), PAGE, json!({"id": doc, "first": 10_001})).await;
    assert_eq!(error_code(&too_many), "BAD_USER_INPUT");
    let bad = s.app.gql(Some(&s.token), PAGE, json!({"id": doc, "after": "bm90IGEgY3Vyc29y"})).await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let total = s
        .app
        .count("SELECT id FROM entities WHERE document_id IN (SELECT id FROM documents WHERE title = 'Pages')")
        .await;
    let counted = |f: Value| {
        let vars = json!({"id": doc, "first": 0, "f": f});
        let app = &s.app;
        let token = &s.token;
        async move { app.ok(Some(token), PAGE, vars).await["document"]["entities"]["totalCount"].as_i64().unwrap() }
    };
    assert_eq!(counted(json!({})).await, total);
    assert_eq!(counted(json!({"isVerified": false})).await, total);
    assert_eq!(counted(json!({"isVerified": true})).await, 0);
    assert_eq!(counted(json!({"entityTypeIds": [s.types["LOCATION"]]})).await, words as i64);
    assert_eq!(counted(json!({"entityTypeIds": [s.types["LOCATION"]], "isVerified": false})).await, words as i64);
}

async fn relationships_follow_the_rules(db: Db) {
    let s = setup(db).await;
    let mk = |needle: &'static str, ty: &'static str| {
        let (a, b) = span(TEXT, needle, 0);
        let app = &s.app;
        let (token, doc, ty) = (s.token.clone(), s.doc.clone(), s.types[ty].clone());
        async move {
            app.ok(Some(&token), ENTITY, json!({"i": {"documentId": doc, "entityTypeId": ty, "start": a, "end": b}}))
                .await["createEntity"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let abbas = mk("عباسؑ", "PERSON").await;
    let furat = mk("فرات", "LOCATION").await;
    let create = "mutation($i: CreateEntityRelationshipInput!) { createEntityRelationship(input: $i) { id relationshipType sourceEntity { text } targetEntity { text } } }";
    let rel = |src: &str, tgt: &str, t: &str| json!({"i": {"sourceEntityId": src, "targetEntityId": tgt, "relationshipType": t}});
    let r = s.app.ok(Some(&s.token), create, rel(&abbas, &furat, "LOCATED_IN")).await;
    assert_eq!(r["createEntityRelationship"]["targetEntity"]["text"], "فرات");
    let rel_id = r["createEntityRelationship"]["id"].as_str().unwrap().to_owned();
    assert_eq!(error_code(&s.app.gql(Some(&s.token), create, rel(&abbas, &furat, "LOCATED_IN")).await), "CONFLICT");
    s.app.ok(Some(&s.token), create, rel(&abbas, &furat, "MENTIONS")).await;
    assert_eq!(error_code(&s.app.gql(Some(&s.token), create, rel(&abbas, &abbas, "SAME_AS")).await), "BAD_USER_INPUT");
    let other_project = s.app.create_project(&s.token, "Elsewhere", json!({})).await;
    let other_doc = create_document(&s.app, &s.token, &other_project, "Other", "فرات").await;
    let far = s
        .app
        .ok(
            Some(&s.token),
            ENTITY,
            json!({"i": {"documentId": other_doc, "entityTypeId": s.types["LOCATION"], "start": 0, "end": 4}}),
        )
        .await["createEntity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(error_code(&s.app.gql(Some(&s.token), create, rel(&abbas, &far, "SAME_AS")).await), "BAD_USER_INPUT");
    let q = "query($id: ID!) { entity(id: $id) { outgoingRelationships { relationshipType } incomingRelationships { relationshipType } } }";
    let out = s.app.ok(Some(&s.token), q, json!({"id": abbas})).await;
    assert_eq!(out["entity"]["outgoingRelationships"].as_array().unwrap().len(), 2);
    let inc = s.app.ok(Some(&s.token), q, json!({"id": furat})).await;
    assert_eq!(inc["entity"]["incomingRelationships"].as_array().unwrap().len(), 2);
    s.app.ok(Some(&s.token), "mutation($id: ID!) { deleteEntityRelationship(id: $id) }", json!({"id": rel_id})).await;
    assert_eq!(s.app.count("SELECT id FROM entity_relationships").await, 1);
}

async fn entity_permissions_per_role(db: Db) {
    let s = setup(db).await;
    let mut tokens = vec![];
    for role in ["ADMIN", "RESEARCHER", "VIEWER"] {
        let (t, id) = s.app.register(&role.to_lowercase()).await;
        s.app.ok(Some(&s.token), ADD, json!({"i": {"projectId": s.project, "userId": id, "role": role}})).await;
        tokens.push((role, t));
    }
    let (stranger, _) = s.app.register("stranger").await;
    let (a, b) = span(TEXT, "کربلا", 1);
    let input = |ty: &str| json!({"i": {"documentId": s.doc, "entityTypeId": s.types[ty], "start": a, "end": b}});
    let expected = [("ADMIN", "OK", "PERSON"), ("RESEARCHER", "OK", "LOCATION"), ("VIEWER", "FORBIDDEN", "DATE")];
    for ((role, token), (_, outcome, ty)) in tokens.iter().zip(expected) {
        let r = s.app.gql(Some(token), ENTITY, input(ty)).await;
        let got = if r.get("errors").is_some() { error_code(&r) } else { "OK".into() };
        assert_eq!(got, outcome, "{role}");
    }
    assert_eq!(error_code(&s.app.gql(Some(&stranger), ENTITY, input("TIME")).await), "NOT_FOUND");
    assert_eq!(error_code(&s.app.gql(None, ENTITY, input("TIME")).await), "UNAUTHENTICATED");
}

/// The statements `log` holds that touch the document's text: an UPDATE of the `documents` row
/// (which on SQLite rewrites the text's overflow pages) or a read of its `content` column.
fn touching_the_text(log: &std::sync::Mutex<Vec<String>>) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|sql| sql.contains(r#"UPDATE "documents""#) || sql.contains(r#""documents"."content""#))
        .cloned()
        .collect()
}

/// A document's counts and version live in their own row: entity writes update that row, not
/// the one holding the text, and `document(id)` serves its counts and a page of its entities
/// without reading the text (which it reads, once, only when `content` is asked for).
async fn entity_writes_and_pages_leave_the_text_alone(db: Db) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = TestApp::spawn_recording(db, log.clone()).await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let project = app.create_project(&token, "Entities", json!({})).await;
    let doc = create_document(&app, &token, &project, "Text", TEXT).await;
    let page = "query($id: ID!) { document(id: $id) { totalEntities verifiedEntities currentVersion entities(first: 10) { totalCount edges { node { id text } } } } }";
    log.lock().unwrap().clear();
    let d = &app.ok(Some(&token), page, json!({"id": doc})).await["document"];
    assert_eq!((d["totalEntities"].as_u64(), d["currentVersion"].as_u64()), (Some(0), Some(1)));
    assert_eq!(touching_the_text(&log), Vec::<String>::new(), "a page of entities read the text");
    // The first entity reads the text once (to place the entity in it); later ones use it as
    // cached, and none of them rewrites the document's row.
    let (a, b) = span(TEXT, "علیؑ", 0);
    let first = json!({"i": {"documentId": doc, "entityTypeId": types["PERSON"], "start": a, "end": b}});
    app.ok(Some(&token), ENTITY, first).await;
    let writes = touching_the_text(&log);
    assert!(writes.iter().all(|sql| !sql.contains(r#"UPDATE "documents""#)), "{writes:?}");
    log.lock().unwrap().clear();
    let (a, b) = span(TEXT, "کربلا", 0);
    let second = json!({"i": {"documentId": doc, "entityTypeId": types["LOCATION"], "start": a, "end": b}});
    let id = app.ok(Some(&token), ENTITY, second).await["createEntity"]["id"].as_str().unwrap().to_owned();
    app.ok(Some(&token), VERIFY, json!({"id": id})).await;
    app.ok(Some(&token), UPDATE, json!({"id": id, "i": {"entityTypeId": types["PERSON"]}})).await;
    app.ok(Some(&token), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": id})).await;
    let d = &app.ok(Some(&token), page, json!({"id": doc})).await["document"];
    assert_eq!(touching_the_text(&log), Vec::<String>::new(), "entity writes touched the text");
    assert_eq!((d["totalEntities"].as_u64(), d["verifiedEntities"].as_u64()), (Some(1), Some(0)));
    assert_eq!(d["entities"]["totalCount"], 1);
    // Asking for the text reads it (or takes it from the cache), and it is the text.
    let c = app
        .ok(Some(&token), "query($id: ID!) { document(id: $id) { content lines { text } } }", json!({"id": doc}))
        .await;
    assert_eq!(c["document"]["content"], TEXT);
    assert_eq!(c["document"]["lines"][0]["text"], TEXT.lines().next().unwrap());
}

/// Statements that read a document's text (its `content` column).
fn text_reads(log: &std::sync::Mutex<Vec<String>>) -> usize {
    log.lock().unwrap().iter().filter(|sql| sql.contains(r#""documents"."content""#)).count()
}

/// Fifty aliases of one document's `content` (and its `lines`) read its text once per request,
/// however their access checks interleave: each alias waits for the one read in flight rather
/// than starting its own (and the document's project access is checked once). Once an entity
/// action has the text cached, they read it not at all.
async fn many_aliases_of_a_text_read_it_once(db: Db) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = TestApp::spawn_recording(db, log.clone()).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Aliases", json!({})).await;
    let doc = create_document(&app, &token, &project, "Text", TEXT).await;
    let fields: String = (0..50)
        .map(|i| {
            let lines = if i % 10 == 0 { "lines { text }" } else { "" };
            format!("a{i}: document(id: \"{doc}\") {{ content {lines} }} ")
        })
        .collect();
    let query = format!("{{ {fields} }}");
    for round in 0..3 {
        log.lock().unwrap().clear();
        let answer = app.ok(Some(&token), &query, json!({})).await;
        for i in 0..50 {
            assert_eq!(answer[format!("a{i}")]["content"], TEXT, "alias {i}");
        }
        assert_eq!(answer["a40"]["lines"][1]["text"], TEXT.lines().nth(1).unwrap());
        assert_eq!(text_reads(&log), 1, "round {round}: statements reading the text");
        let access_checks = log.lock().unwrap().iter().filter(|sql| sql.contains(r#"FROM "projects""#)).count();
        assert_eq!(access_checks, 1, "round {round}: the project's access is checked once per request");
    }
    // An entity action indexes the text and keeps it; readers then take it from there.
    let types = entity_type_ids(&app).await;
    let (a, b) = span(TEXT, "علیؑ", 0);
    let input = json!({"i": {"documentId": doc, "entityTypeId": types["PERSON"], "start": a, "end": b}});
    app.ok(Some(&token), ENTITY, input).await;
    log.lock().unwrap().clear();
    let answer = app.ok(Some(&token), &query, json!({})).await;
    assert_eq!(answer["a49"]["content"], TEXT);
    assert_eq!(text_reads(&log), 0, "statements reading a cached text");
}

/// One `createEntity` (once the document's text is cached) runs a fixed list of statements:
/// the session, the access and rate-limit checks, the version check, the insert, the counts, the
/// audit row. The count is pinned so that a statement added to the write path is noticed.
async fn one_create_entity_runs_a_pinned_number_of_statements(db: Db) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = TestApp::spawn_recording(db, log.clone()).await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let project = app.create_project(&token, "Statements", json!({})).await;
    let doc = create_document(&app, &token, &project, "Text", TEXT).await;
    let create = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    let (a, b) = span(TEXT, "علیؑ", 0);
    let first = json!({"i": {"documentId": doc, "entityTypeId": types["PERSON"], "start": a, "end": b}});
    app.ok(Some(&token), create, first).await;
    log.lock().unwrap().clear();
    let (a, b) = span(TEXT, "کربلا", 0);
    let second = json!({"i": {"documentId": doc, "entityTypeId": types["LOCATION"], "start": a, "end": b}});
    app.ok(Some(&token), create, second).await;
    // The job supervisor's look for queued jobs runs on its own schedule: not the request's.
    let statements: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|sql| !sql.contains("processing_jobs"))
        .map(|s| s.chars().take(160).collect())
        .collect();
    // The session with its user (one join), rate limit, document with its version, project
    // access, entity type; then in the transaction the insert, the counts and the audit row.
    assert_eq!(statements.len(), 8, "{statements:#?}");
}

on_both_databases!(
    many_aliases_of_a_text_read_it_once,
    one_create_entity_runs_a_pinned_number_of_statements,
    system_types_are_seeded_and_admins_manage_types,
    entities_are_validated_and_described,
    verification_corrections_and_rejections,
    annotate_all_marks_whole_words_once,
    counts_stay_exact_under_random_operations,
    counts_stay_exact_under_concurrent_operations,
    entity_pages_are_stable_while_others_write,
    relationships_follow_the_rules,
    entity_permissions_per_role,
    entity_writes_and_pages_leave_the_text_alone,
);
