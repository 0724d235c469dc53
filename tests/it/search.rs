//! Search: Urdu-aware words, prefixes and phrases over a project's lines, ranked by BM25, with
//! highlights in code points of the document; filters by document and entity type; the index
//! changing in the same transaction as the text (created, edited, deleted, imported, a
//! project deleted, a failed write rolled back, concurrent writes); who may search; and the
//! corpus giving the same hits in the same order on SQLite and PostgreSQL.

use crate::common;

use common::{Db, TestApp, create_document, entity_type_ids, error_code};
use serde_json::{Value, json};

pub const SEARCH: &str = "query($i: SearchInput!) { search(input: $i) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { document { id title } lineNumber text start end score highlights { start end } entities { id text entityType { name } } } } } }";

/// The search's answer as `token` (or anonymously), which must succeed.
pub async fn search(app: &TestApp, token: Option<&str>, input: Value) -> Value {
    app.ok(token, SEARCH, json!({"i": input})).await["search"].clone()
}

/// `(title, line, text)` of each hit.
fn lines(result: &Value) -> Vec<(String, u64, String)> {
    result["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["document"]["title"].as_str().unwrap().to_owned(),
                n["lineNumber"].as_u64().unwrap(),
                n["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The text of `content` at code points `[start, end)`.
fn slice(content: &str, start: u64, end: u64) -> String {
    content.chars().skip(start as usize).take((end - start) as usize).collect()
}

/// What the highlights of each hit cover, read from the document's content.
fn highlighted(result: &Value, contents: &[(&str, &str)]) -> Vec<Vec<String>> {
    result["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            let title = n["document"]["title"].as_str().unwrap();
            let content = contents.iter().find(|(t, _)| *t == title).unwrap().1;
            assert_eq!(slice(content, n["start"].as_u64().unwrap(), n["end"].as_u64().unwrap()), n["text"], "{n}");
            n["highlights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| slice(content, h["start"].as_u64().unwrap(), h["end"].as_u64().unwrap()))
                .collect()
        })
        .collect()
}

const ELEGY: &str = "آفت میں گرفتار ہیں ناموس محمدؐ\nعمّو ہیں حسینؑ ابن علیؑ سیّد ذیجاه\nشاہِ کربلا حسین ہیں، حسین\n\nكلثوم تھرتھرا کے بروئے زمیں گری";
const RIVER: &str = "کربلا کی زمیں\nفرات کے کنارے عباسؑ";

async fn search_is_urdu_aware_and_ranked(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    let elegy = create_document(&app, &token, &project, "elegy", ELEGY).await;
    let river = create_document(&app, &token, &project, "river", RIVER).await;
    let contents = [("elegy", ELEGY), ("river", RIVER)];
    let t = Some(token.as_str());
    let q = |query: &str| json!({"projectId": project, "query": query});

    // Arabic yeh in the query finds the Urdu letters; two places outweigh one.
    let r = search(&app, t, q("حسين")).await;
    assert_eq!(r["totalCount"], 2);
    assert_eq!(
        lines(&r),
        [
            ("elegy".to_owned(), 3, "شاہِ کربلا حسین ہیں، حسین".to_owned()),
            ("elegy".to_owned(), 2, "عمّو ہیں حسینؑ ابن علیؑ سیّد ذیجاه".to_owned())
        ]
    );
    // Highlights are code points of the document, the honorific under the name's.
    assert_eq!(highlighted(&r, &contents), [vec!["حسین", "حسین"], vec!["حسینؑ"]]);
    let scores: Vec<f64> =
        r["edges"].as_array().unwrap().iter().map(|e| e["node"]["score"].as_f64().unwrap()).collect();
    assert!(scores[0] > scores[1] && scores[1] > 0.0, "{scores:?}");
    // Diacritics and honorifics in the query do not count either.
    assert_eq!(lines(&search(&app, t, q("حُسینؑ")).await), lines(&r));
    // Urdu kaf in the query finds the Arabic kaf of the text; Arabic heh finds Urdu heh.
    let r = search(&app, t, q("کلثوم")).await;
    assert_eq!(highlighted(&r, &contents), [vec!["كلثوم"]]);
    assert_eq!(lines(&search(&app, t, q("ذيجاہ")).await)[0].1, 2);
    // Every word must be there; a prefix; a phrase in order; the izafat is optional.
    assert_eq!(lines(&search(&app, t, q("حسین ابن")).await).len(), 1);
    assert_eq!(lines(&search(&app, t, q("حسین فرات")).await).len(), 0);
    let r = search(&app, t, q("کربل*")).await;
    assert_eq!(r["totalCount"], 2);
    assert_eq!(highlighted(&r, &contents).concat(), ["کربلا", "کربلا"]);
    let r = search(&app, t, q("\"شاہ کربلا\"")).await;
    assert_eq!(highlighted(&r, &contents), [vec!["شاہِ کربلا"]]);
    assert_eq!(search(&app, t, q("\"کربلا شاہ\"")).await["totalCount"], 0);
    let r = search(&app, t, q("\"ابن عل\"*")).await;
    assert_eq!(highlighted(&r, &contents), [vec!["ابن علیؑ"]]);
    // Narrowed to a document.
    let r = search(&app, t, json!({"projectId": project, "query": "کربلا", "documentIds": [river]})).await;
    assert_eq!(lines(&r), [("river".to_owned(), 1, "کربلا کی زمیں".to_owned())]);
    // Pages: a cursor leads to the next hit, in the same order.
    let first = search(&app, t, json!({"projectId": project, "query": "حسین", "first": 1})).await;
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let after = first["pageInfo"]["endCursor"].as_str().unwrap();
    let next = search(&app, t, json!({"projectId": project, "query": "حسین", "first": 1, "after": after})).await;
    assert_eq!(lines(&next)[0].1, 2);
    assert_eq!(next["pageInfo"]["hasNextPage"], false);

    // Entities under the highlights; narrowed to an entity type, only places inside such
    // entities count.
    let types = entity_type_ids(&app).await;
    let create = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    let person = types["PERSON"].clone();
    let input = json!({"documentId": elegy, "entityTypeId": person, "start": 77, "end": 81, "text": "حسین"});
    let created = app.ok(t, create, json!({"i": input})).await;
    let id = created["createEntity"]["id"].clone();
    let r = search(&app, t, q("حسین")).await;
    let entities: Vec<&Value> = r["edges"][0]["node"]["entities"].as_array().unwrap().iter().collect();
    assert_eq!(entities.len(), 1);
    assert_eq!(entities[0]["id"], id);
    assert_eq!(entities[0]["entityType"]["name"], "PERSON");
    assert!(r["edges"][1]["node"]["entities"].as_array().unwrap().is_empty());
    let r = search(&app, t, json!({"projectId": project, "query": "حسین", "entityTypeIds": [person]})).await;
    assert_eq!(r["totalCount"], 1);
    let hit = &r["edges"][0]["node"];
    assert_eq!((hit["lineNumber"].as_u64(), hit["highlights"].as_array().unwrap().len()), (Some(3), 1));
    assert_eq!(hit["highlights"][0], json!({"start": 77, "end": 81}));
    let location = types["LOCATION"].clone();
    let r = search(&app, t, json!({"projectId": project, "query": "حسین", "entityTypeIds": [location]})).await;
    assert_eq!(r["totalCount"], 0);

    // Queries the parser refuses, and filters over their maxima, are BAD_USER_INPUT.
    for bad in ["", "  ،  ", "ب*", &"حسین ".repeat(120)] {
        let resp = app.gql(t, SEARCH, json!({"i": q(bad)})).await;
        assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{bad:?}: {resp}");
    }
    let many: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let resp = app.gql(t, SEARCH, json!({"i": {"projectId": project, "query": "حسین", "documentIds": many}})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT");
    let resp = app.gql(t, SEARCH, json!({"i": {"projectId": project, "query": "حسین", "first": 101}})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT");
}

async fn who_may_search(db: Db) {
    let app = TestApp::spawn(db).await;
    let (owner, _) = app.register("anis").await;
    let (viewer, viewer_id) = app.register("dabir").await;
    let (stranger, _) = app.register("stranger").await;
    let private = app.create_project(&owner, "Private", json!({})).await;
    create_document(&app, &owner, &private, "elegy", ELEGY).await;
    let open = app.create_project(&owner, "Open", json!({"isPublic": true, "allowPublicView": true})).await;
    create_document(&app, &owner, &open, "river", RIVER).await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    app.ok(Some(&owner), add, json!({"i": {"projectId": private, "userId": viewer_id, "role": "VIEWER"}})).await;
    let input = |p: &str| json!({"i": {"projectId": p, "query": "کربلا"}});
    // A viewer reads, so may search; a stranger and an anonymous caller learn nothing.
    assert_eq!(app.ok(Some(&viewer), SEARCH, input(&private)).await["search"]["totalCount"], 1);
    for token in [Some(stranger.as_str()), None] {
        let resp = app.gql(token, SEARCH, input(&private)).await;
        assert_eq!(error_code(&resp), "NOT_FOUND", "{resp}");
        assert!(resp["data"].is_null() || resp["data"]["search"].is_null());
    }
    let resp = app.gql(None, SEARCH, input(&uuid::Uuid::new_v4().to_string())).await;
    assert_eq!(error_code(&resp), "NOT_FOUND");
    // A public project with public view is searched by anyone.
    assert_eq!(app.ok(None, SEARCH, input(&open)).await["search"]["totalCount"], 1);
}

/// With `knowledgeItemIds`, only the places inside mentions linked to one of the entries count:
/// one Husain's lines, not every line with the name.
async fn search_narrows_to_a_knowledge_entry(db: Db) {
    let app = TestApp::spawn(db).await;
    let (owner, _) = app.register("anis").await;
    let project = app.create_project(&owner, "Names", json!({})).await;
    let content = "حسینؑ ابن علیؑ کربلا میں\nحسین نام کا ایک اور شخص\nحسین کا ذکر";
    let doc = create_document(&app, &owner, &project, "names", content).await;
    let person = entity_type_ids(&app).await["PERSON"].clone();
    let line2 = content.split('\n').next().unwrap().chars().count() as u32 + 1;
    let create = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    let mut mentions = Vec::new();
    for (start, end) in [(0, 5), (line2, line2 + 4)] {
        let i = json!({"documentId": doc, "entityTypeId": person, "start": start, "end": end});
        mentions.push(
            app.ok(Some(&owner), create, json!({"i": i})).await["createEntity"]["id"].as_str().unwrap().to_owned(),
        );
    }
    let item = "mutation($i: CreateKnowledgeItemInput!) { createKnowledgeItem(input: $i) { id } }";
    let entry = |name: &str| json!({"i": {"projectId": project, "entityTypeId": person, "name": name, "aliases": []}});
    let husain = app.ok(Some(&owner), item, entry("حسین ابن علی")).await["createKnowledgeItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nobody =
        app.ok(Some(&owner), item, entry("کوئی اور")).await["createKnowledgeItem"]["id"].as_str().unwrap().to_owned();
    let link = "mutation($e: ID!, $k: ID!) { linkEntity(entityId: $e, itemId: $k) { id } }";
    app.ok(Some(&owner), link, json!({"e": mentions[0], "k": husain})).await;

    let find = |items: Vec<&str>| json!({"projectId": project, "query": "حسین", "knowledgeItemIds": items});
    let all = search(&app, Some(&owner), find(vec![])).await;
    assert_eq!(all["totalCount"], 3, "{all}");
    let his = search(&app, Some(&owner), find(vec![&husain])).await;
    assert_eq!(lines(&his), vec![("names".to_owned(), 1, "حسینؑ ابن علیؑ کربلا میں".to_owned())], "{his}");
    assert_eq!(highlighted(&his, &[("names", content)]), vec![vec!["حسینؑ".to_owned()]]);
    assert_eq!(his["edges"][0]["node"]["entities"][0]["id"], mentions[0].as_str());
    // An entry nothing is linked to finds nothing; both together find the one.
    assert_eq!(search(&app, Some(&owner), find(vec![&nobody])).await["totalCount"], 0);
    assert_eq!(search(&app, Some(&owner), find(vec![&nobody, &husain])).await["totalCount"], 1);
    let resp = app.gql(Some(&owner), SEARCH, json!({"i": find(vec!["not-an-id"])})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
}

/// The project's passages as the index counts them, and as its rows are.
async fn index_counts(app: &TestApp, project: &str) -> ((i64, i64), (i64, i64)) {
    let db = app.database().await;
    let backend = db.get_database_backend();
    use sea_orm::ConnectionTrait;
    let uuid = uuid::Uuid::parse_str(project).unwrap();
    let one = |sql: &str| sea_orm::Statement::from_sql_and_values(backend, sql, [uuid.into()]);
    let param = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
    let stats = db
        .query_one_raw(one(&format!("SELECT passages, words FROM search_stats WHERE project_id = {param}")))
        .await
        .unwrap()
        .map(|r| (r.try_get::<i64>("", "passages").unwrap(), r.try_get::<i64>("", "words").unwrap()))
        .unwrap_or((0, 0));
    let rows = db
        .query_one_raw(one(&format!(
            "SELECT COUNT(*) AS n, COALESCE(SUM(word_count), 0) AS w FROM search_passages WHERE project_id = {param}"
        )))
        .await
        .unwrap()
        .map(|r| (r.try_get::<i64>("", "n").unwrap(), r.try_get::<i64>("", "w").unwrap()))
        .unwrap();
    db.close().await.unwrap();
    (stats, rows)
}

/// Asserts that the postings are exactly those of the passages: per document and distinct
/// word one row, whose 12-byte entries (passage id, the word's count there, the passage's
/// length; little-endian) name each passage of the document holding the word once, in id order.
pub(crate) async fn postings_are_the_passages(app: &TestApp) {
    use sea_orm::ConnectionTrait;
    use std::collections::BTreeSet;
    let db = app.database().await;
    let backend = db.get_database_backend();
    let rows = |sql: &str| db.query_all_raw(sea_orm::Statement::from_string(backend, sql.to_owned()));
    let mut want = BTreeSet::new();
    for row in rows("SELECT id, document_id, words FROM search_passages").await.unwrap() {
        let id: i64 = row.try_get("", "id").unwrap();
        let doc: uuid::Uuid = row.try_get("", "document_id").unwrap();
        let words: String = row.try_get("", "words").unwrap();
        let words: Vec<&str> = words.split(' ').collect();
        for w in &words {
            let tf = words.iter().filter(|x| *x == w).count() as i64;
            want.insert((doc, (*w).to_owned(), id, tf, words.len() as i64));
        }
    }
    let mut got = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for row in rows("SELECT document_id, word, entries FROM search_postings").await.unwrap() {
        let doc: uuid::Uuid = row.try_get("", "document_id").unwrap();
        let word: String = row.try_get("", "word").unwrap();
        let entries: Vec<u8> = row.try_get("", "entries").unwrap();
        assert!(keys.insert((doc, word.clone())), "one row per document and word");
        assert!(!entries.is_empty() && entries.len().is_multiple_of(12), "{} bytes of entries", entries.len());
        let ids: Vec<i64> = entries.chunks(12).map(|e| i64::from_le_bytes(e[..8].try_into().unwrap())).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "entries in passage-id order, each once: {ids:?}");
        for e in entries.chunks(12) {
            let id = i64::from_le_bytes(e[..8].try_into().unwrap());
            let tf = u16::from_le_bytes([e[8], e[9]]) as i64;
            let wc = u16::from_le_bytes([e[10], e[11]]) as i64;
            got.insert((doc, word.clone(), id, tf, wc));
        }
    }
    db.close().await.unwrap();
    assert_eq!(got, want);
}

async fn the_index_follows_every_write(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let t = Some(token.as_str());
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    let count = |query: &'static str| {
        let app = &app;
        let project = project.clone();
        async move { search(app, t, json!({"projectId": project, "query": query})).await["totalCount"].as_u64().unwrap() }
    };
    let doc = create_document(&app, &token, &project, "elegy", ELEGY).await;
    assert_eq!(count("كلثوم").await, 1);
    // An edit: the old words go, the new ones come, the lines are numbered anew.
    let edit = "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c) { currentVersion } }";
    let edited = ELEGY.replace("كلثوم", "سکینہ");
    let edited = format!("نیا مصرع\n{edited}");
    app.ok(t, edit, json!({"id": doc, "c": edited})).await;
    assert_eq!(count("كلثوم").await, 0);
    let r = search(&app, t, json!({"projectId": project, "query": "سكينہ"})).await;
    assert_eq!(lines(&r), [("elegy".to_owned(), 6, "سکینہ تھرتھرا کے بروئے زمیں گری".to_owned())]);
    assert_eq!(highlighted(&r, &[("elegy", edited.as_str())]), [vec!["سکینہ"]]);
    let (stats, rows) = index_counts(&app, &project).await;
    assert_eq!(stats, rows);
    assert_eq!(rows.0, 5, "five lines with words");
    postings_are_the_passages(&app).await;
    // Imported documents are indexed with their text.
    let import = "mutation($p: ID!, $data: String!) { importDocuments(projectId: $p, format: INLINE_TAGS, data: $data) { created } }";
    app.ok(t, import, json!({"p": project, "data": "<PERSON>اکبرؑ</PERSON> اور اصغرؑ فرات پر"})).await;
    assert_eq!(count("اصغر").await, 1);
    // A deleted document leaves the index.
    app.ok(t, "mutation($id: ID!) { deleteDocument(id: $id) }", json!({"id": doc})).await;
    assert_eq!(count("سکینہ").await, 0);
    let (stats, rows) = index_counts(&app, &project).await;
    assert_eq!((stats, rows), ((1, 5), (1, 5)));
    postings_are_the_passages(&app).await;
    assert!(app.count("SELECT word FROM search_postings").await > 0);
    // A deleted project takes its index with it (the FTS5 rows too, on SQLite).
    app.ok(t, "mutation($id: ID!) { deleteProject(id: $id) }", json!({"id": project})).await;
    assert_eq!(app.count("SELECT id FROM search_passages").await, 0);
    assert_eq!(app.count("SELECT project_id FROM search_stats").await, 0);
    assert_eq!(app.count("SELECT document_id FROM search_documents").await, 0);
    assert_eq!(app.count("SELECT word FROM search_postings").await, 0);
    if db == Db::Sqlite {
        assert_eq!(app.count("SELECT rowid FROM search_passages_fts WHERE search_passages_fts MATCH 'اصغر'").await, 0);
        app.execute("INSERT INTO search_passages_fts (search_passages_fts) VALUES ('integrity-check')").await;
    }
}

/// Makes every audit row of `action` fail, so that the write it belongs to rolls back after
/// it changed the index.
async fn fail_audit_rows_of(app: &TestApp, action: &str) {
    match app.db {
        Db::Sqlite => {
            app.execute(&format!(
                "CREATE TRIGGER fail_{0} BEFORE INSERT ON audit_logs WHEN NEW.action = '{1}' \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                action.replace('.', "_"),
                action
            ))
            .await
        }
        Db::Postgres => {
            let name = action.replace('.', "_");
            app.execute(&format!(
                "CREATE FUNCTION fail_{name}() RETURNS trigger AS $$ BEGIN IF NEW.action = '{action}' THEN \
                 RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            ))
            .await;
            app.execute(&format!(
                "CREATE TRIGGER fail_{name} BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION fail_{name}()"
            ))
            .await
        }
    }
}

async fn a_rolled_back_write_leaves_the_index_as_it_was(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let t = Some(token.as_str());
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    let doc = create_document(&app, &token, &project, "elegy", ELEGY).await;
    let before = index_counts(&app, &project).await;
    let hits = |query: &'static str| {
        let (app, project) = (&app, project.clone());
        async move { lines(&search(app, t, json!({"projectId": project, "query": query})).await) }
    };
    let kulsum = hits("کلثوم").await;
    assert_eq!(kulsum.len(), 1);
    // An edit that fails at its audit row, after its passages were replaced.
    fail_audit_rows_of(&app, "document.update_content").await;
    let edit = "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c) { currentVersion } }";
    let resp = app.gql(t, edit, json!({"id": doc, "c": "سکینہ\nکربلا"})).await;
    assert_eq!(error_code(&resp), "INTERNAL", "{resp}");
    assert_eq!(hits("کلثوم").await, kulsum);
    assert!(hits("سکینہ").await.is_empty());
    assert_eq!(index_counts(&app, &project).await, before);
    // A document whose creation fails adds nothing; one whose deletion fails stays.
    fail_audit_rows_of(&app, "document.create").await;
    let create = "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }";
    let resp = app.gql(t, create, json!({"i": {"projectId": project, "title": "new", "content": "سکینہ فرات"}})).await;
    assert_eq!(error_code(&resp), "INTERNAL");
    assert!(hits("سکینہ").await.is_empty());
    fail_audit_rows_of(&app, "document.delete").await;
    let resp = app.gql(t, "mutation($id: ID!) { deleteDocument(id: $id) }", json!({"id": doc})).await;
    assert_eq!(error_code(&resp), "INTERNAL");
    assert_eq!(hits("کلثوم").await, kulsum);
    assert_eq!(index_counts(&app, &project).await, before);
    postings_are_the_passages(&app).await;
}

async fn concurrent_writes_keep_the_index_exact(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    let seed = create_document(&app, &token, &project, "seed", ELEGY).await;
    let edit = "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c) { currentVersion } }";
    // Twenty documents created and edited at once, while the first is edited too.
    let writes = (0..20).map(|i| {
        let (app, token, project) = (&app, token.clone(), project.clone());
        async move {
            let word = format!("لفظ{i}");
            let doc = create_document(app, &token, &project, &format!("doc {i}"), &format!("{word} کربلا\nفرات")).await;
            let content = format!("{word} مدینہ\nفرات\nنجف {word}");
            app.ok(Some(&token), edit, json!({"id": doc, "c": content})).await;
        }
    });
    let seed_edits = (0..5).map(|i| {
        let (app, token, seed) = (&app, token.clone(), seed.clone());
        async move {
            // Some lose the race for the version (CONFLICT): that is the rule, not a fault.
            let resp = app.gql(Some(&token), edit, json!({"id": seed, "c": format!("{ELEGY}\nبند {i}")})).await;
            assert!(resp.get("errors").is_none() || error_code(&resp) == "CONFLICT", "{resp}");
        }
    });
    futures_util::future::join(futures_util::future::join_all(writes), futures_util::future::join_all(seed_edits))
        .await;
    let (stats, rows) = index_counts(&app, &project).await;
    assert_eq!(stats, rows, "the project's counts equal its rows");
    postings_are_the_passages(&app).await;
    let t = Some(token.as_str());
    let r = search(&app, t, json!({"projectId": project, "query": "نجف", "first": 100})).await;
    assert_eq!(r["totalCount"], 20);
    assert_eq!(search(&app, t, json!({"projectId": project, "query": "کربلا مدینہ"})).await["totalCount"], 0);
    for i in [0, 7, 19] {
        let r = search(&app, t, json!({"projectId": project, "query": format!("لفظ{i}")})).await;
        assert_eq!(r["totalCount"], 2, "both lines of doc {i}");
    }
}

async fn documents_from_before_the_index_are_indexed_at_start(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    create_document(&app, &token, &project, "elegy", ELEGY).await;
    // Several documents: the rebuild indexes them together in one write transaction.
    for i in 0..3 {
        create_document(&app, &token, &project, &format!("stanza {i}"), &format!("لفظ{i} نجف\nنجف کربلا")).await;
    }
    let counts = index_counts(&app, &project).await;
    // As a database from before the search index: documents, and no passages.
    app.execute("DELETE FROM search_passages").await;
    app.execute("DELETE FROM search_stats").await;
    app.execute("DELETE FROM search_documents").await;
    app.execute("DELETE FROM search_postings").await;
    let again = app.restart(|_| {}).await;
    let r = search(&again, Some(&token), json!({"projectId": project, "query": "كلثوم"})).await;
    assert_eq!(r["totalCount"], 1);
    let r = search(&again, Some(&token), json!({"projectId": project, "query": "نجف", "first": 10})).await;
    assert_eq!(r["totalCount"], 6, "both lines of each stanza");
    for i in 0..3 {
        let r = search(&again, Some(&token), json!({"projectId": project, "query": format!("لفظ{i}")})).await;
        assert_eq!(r["totalCount"], 1, "stanza {i}");
    }
    assert_eq!(index_counts(&again, &project).await, counts);
    postings_are_the_passages(&again).await;
}

/// The README's examples answer as its prose says.
async fn the_readme_examples_answer_as_described(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let t = Some(token.as_str());
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    let content = "حسینؑ ابن علیؑ کربلا میں\nعباسؑ فرات پر";
    let doc = create_document(&app, &token, &project, "Stanza 1", content).await;
    let types = entity_type_ids(&app).await;
    let create = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    let person = json!({"documentId": doc, "entityTypeId": types["PERSON"], "start": 0, "end": 5});
    app.ok(t, create, json!({"i": person})).await;
    let all = "mutation($d: ID!, $t: ID!) { annotateAllOccurrences(documentId: $d, text: \"کربلا\", entityTypeId: $t) }";
    app.ok(t, all, json!({"d": doc, "t": types["LOCATION"]})).await;
    let r = search(&app, t, json!({"projectId": project, "query": "حسين", "first": 5})).await;
    assert_eq!(lines(&r), [("Stanza 1".to_owned(), 1, "حسینؑ ابن علیؑ کربلا میں".to_owned())]);
    let hit = &r["edges"][0]["node"];
    assert_eq!(hit["highlights"], json!([{"start": 0, "end": 5}]));
    assert_eq!(hit["entities"][0]["entityType"]["name"], "PERSON");
    assert_eq!(hit["entities"].as_array().unwrap().len(), 1);
    let input = json!({"projectId": project, "query": "\"ابن على\" کربل*", "entityTypeIds": [types["LOCATION"]], "documentIds": [doc]});
    let r = search(&app, t, input).await;
    assert_eq!(lines(&r), [("Stanza 1".to_owned(), 1, "حسینؑ ابن علیؑ کربلا میں".to_owned())]);
    assert_eq!(highlighted(&r, &[("Stanza 1", content)]), [vec!["کربلا"]]);
}

/// The database ranks a whole-word query and returns only a page: the filters (documents,
/// entity types) still apply before the page is cut, so hits that would rank beyond the first
/// page are found, counted exactly, and pages walk every hit once in order.
async fn filters_apply_before_the_page_is_cut(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    let t = Some(token.as_str());
    // Every line scores alike; "alpha" sorts first, so all 30 of its lines come before "omega"'s.
    let line = "علی حسن";
    let alpha = [line; 30].join("\n");
    let omega = [line; 5].join("\n");
    create_document(&app, &token, &project, "alpha", &alpha).await;
    let omega_id = create_document(&app, &token, &project, "omega", &omega).await;
    let first = search(&app, t, json!({"projectId": project, "query": "علی", "first": 10})).await;
    assert_eq!(first["totalCount"], 35);
    assert!(lines(&first).iter().all(|(title, _, _)| title == "alpha"), "{first}");

    for query in ["علی", "حسن علی"] {
        let r = search(&app, t, json!({"projectId": project, "query": query, "first": 10, "documentIds": [omega_id]}))
            .await;
        assert_eq!(r["totalCount"], 5, "{query}");
        let want: Vec<(String, u64, String)> = (1..=5).map(|n| ("omega".to_owned(), n, line.to_owned())).collect();
        assert_eq!(lines(&r), want, "{query}");
    }

    // A PERSON on "علی" of omega's third line (each line is 7 code points and a newline).
    let types = entity_type_ids(&app).await;
    let create = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    let input = json!({"documentId": omega_id, "entityTypeId": types["PERSON"], "start": 16, "end": 19, "text": "علی"});
    app.ok(t, create, json!({"i": input})).await;
    let r =
        search(&app, t, json!({"projectId": project, "query": "علی", "first": 10, "entityTypeIds": [types["PERSON"]]}))
            .await;
    assert_eq!(r["totalCount"], 1);
    assert_eq!(lines(&r), [("omega".to_owned(), 3, line.to_owned())]);

    // Pages of 8 walk all 35 hits once, in the order of one page of 35.
    let all = lines(&search(&app, t, json!({"projectId": project, "query": "حسن", "first": 35})).await);
    assert_eq!(all.len(), 35);
    let mut walked = Vec::new();
    let mut after = Value::Null;
    loop {
        let r = search(&app, t, json!({"projectId": project, "query": "حسن", "first": 8, "after": after})).await;
        assert_eq!(r["totalCount"], 35);
        walked.extend(lines(&r));
        if r["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = r["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(walked, all);
    let mut keys: Vec<(String, u64)> = walked.iter().map(|(t, n, _)| (t.clone(), *n)).collect();
    keys.dedup();
    assert_eq!(keys.len(), 35, "no hit twice");
}

on_both_databases!(
    filters_apply_before_the_page_is_cut,
    search_narrows_to_a_knowledge_entry,
    search_is_urdu_aware_and_ranked,
    the_readme_examples_answer_as_described,
    who_may_search,
    the_index_follows_every_write,
    a_rolled_back_write_leaves_the_index_as_it_was,
    concurrent_writes_keep_the_index_exact,
    documents_from_before_the_index_are_indexed_at_start,
);

/// The corpus in a project of a fresh server: its token, project, and `(title, content)` of
/// every stored document, read back from the database.
async fn corpus_project(app: &TestApp) -> (String, String, Vec<(String, String)>) {
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Corpus", json!({})).await;
    let mut files: Vec<_> =
        std::fs::read_dir(common::marsiya_dir().join("corpus")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        // One file is refused (a truncated UTF-8 byte), a few are duplicates (CONFLICT).
        common::upload(app, &token, &project, name, std::fs::read(path).unwrap()).await;
    }
    let db = app.database().await;
    use sea_orm::ConnectionTrait;
    let backend = db.get_database_backend();
    let param = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
    let uuid = uuid::Uuid::parse_str(&project).unwrap();
    let sql = format!("SELECT title, content FROM documents WHERE project_id = {param} ORDER BY title");
    let rows = db.query_all_raw(sea_orm::Statement::from_sql_and_values(backend, sql, [uuid.into()])).await.unwrap();
    let docs: Vec<(String, String)> =
        rows.iter().map(|r| (r.try_get("", "title").unwrap(), r.try_get("", "content").unwrap())).collect();
    db.close().await.unwrap();
    (token, project, docs)
}

/// What a hit is, without the ids a database assigns: title, line, offsets, highlights, score.
fn hit_keys(result: &Value) -> Vec<Value> {
    result["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            json!([n["document"]["title"], n["lineNumber"], n["start"], n["end"], n["highlights"], n["score"]])
        })
        .collect()
}

/// The hits of `query` computed in memory from the documents' texts, best first, as
/// `(title, start, score)`: the same folding, passages and BM25, without any database.
fn reference_hits(docs: &[(String, String)], query: &str) -> Vec<(String, u32, f64)> {
    use nishan_domain::search::rank::{holds, rank};
    use nishan_domain::search::{Candidate, CorpusStats, Matching, PassageId, SearchQuery, passages};
    let created = chrono::DateTime::<chrono::Utc>::from_timestamp(1_700_000_000, 0).unwrap();
    let mut all = Vec::new();
    for (title, content) in docs {
        let id = nishan_domain::ids::DocumentId::new();
        for p in passages(content) {
            all.push(Candidate {
                passage: PassageId(all.len() as i64),
                document_id: id,
                document_title: title.clone(),
                document_created_at: created,
                line_number: p.line_number,
                start: p.start,
                end: p.end,
                words: p.word_string(),
            });
        }
    }
    let stats =
        CorpusStats { passages: all.len() as u64, words: all.iter().map(|c| c.words.split(' ').count() as u64).sum() };
    let q = SearchQuery::parse(query).unwrap();
    let df: Vec<u64> = q.terms.iter().map(|t| all.iter().filter(|c| holds(t, &c.words)).count() as u64).collect();
    rank(&q, Matching::All, all, stats, &df)
        .into_iter()
        .map(|r| (r.candidate.document_title, r.candidate.start, r.score))
        .collect()
}

/// The 240 texts on SQLite and on PostgreSQL: every query gives the same hits, in the same
/// order, with the same scores and highlights, on both; and those are the hits computed in
/// memory from the texts (so neither index leaves one out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_gives_the_same_hits_on_both_databases() {
    let sqlite = TestApp::spawn(Db::Sqlite).await;
    let postgres = TestApp::spawn(Db::Postgres).await;
    let (s, p) = futures_util::future::join(corpus_project(&sqlite), corpus_project(&postgres)).await;
    assert_eq!(s.2, p.2, "the same documents on both");
    assert!(s.2.len() >= 200, "{} documents", s.2.len());
    let queries = [
        "حسین",
        "حسين",
        "عباسؑ",
        "زینب",
        "کربلا",
        "فرات",
        "کرب*",
        "حسین عباس",
        "\"ابن علی\"",
        "\"شاہ دیں\"",
        "\"سبط نبی\"*",
        "پانی پیاس",
        "نہیں",
        "ذوالجناح",
    ];
    let mut seen_hits = 0;
    for query in queries {
        let reference = reference_hits(&s.2, query);
        let mut pages = Vec::new();
        for (app, (token, project, _)) in [(&sqlite, &s), (&postgres, &p)] {
            let input = json!({"projectId": project, "query": query, "first": 100});
            let first = search(app, Some(token), input).await;
            let cursor = first["pageInfo"]["endCursor"].clone();
            let mut keys = hit_keys(&first);
            if first["pageInfo"]["hasNextPage"] == true {
                let input = json!({"projectId": project, "query": query, "first": 100, "after": cursor});
                keys.extend(hit_keys(&search(app, Some(token), input).await));
            }
            assert_eq!(first["totalCount"].as_u64().unwrap() as usize, reference.len(), "{query}");
            pages.push(keys);
        }
        assert_eq!(pages[0], pages[1], "{query}: SQLite and PostgreSQL differ");
        let got: Vec<(String, u32, f64)> = pages[0]
            .iter()
            .map(|k| (k[0].as_str().unwrap().to_owned(), k[2].as_u64().unwrap() as u32, k[5].as_f64().unwrap()))
            .collect();
        let want = &reference[..got.len()];
        let place = |hits: &[(String, u32, f64)]| hits.iter().map(|(t, s, _)| (t.clone(), *s)).collect::<Vec<_>>();
        assert_eq!(place(&got), place(want), "{query}: the hits computed in memory");
        // Scores as JSON numbers: serde_json reads the last digit within one unit of the last place.
        for (g, w) in got.iter().zip(want) {
            assert!((g.2 - w.2).abs() <= 1e-12 * w.2.abs(), "{query}: {g:?} scored {}", w.2);
        }
        seen_hits += reference.len();
    }
    assert!(seen_hits > 1_000, "the queries find the corpus's words ({seen_hits} hits)");
    // The most frequent word, page by page deep into its hits: the pages read from its
    // postings' groups are those of the ranking in memory, on both databases.
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (_, content) in &s.2 {
        for p in nishan_domain::search::passages(content) {
            for w in p.words.into_iter().collect::<std::collections::BTreeSet<String>>() {
                *counts.entry(w).or_default() += 1;
            }
        }
    }
    let (word, df) = counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).unwrap();
    assert!(df > 10_000, "{word} in {df} lines");
    let reference = reference_hits(&s.2, &word);
    assert_eq!(reference.len(), df);
    for offset in [0, 37, 2_000, df / 2, df - 30] {
        let mut pages = Vec::new();
        for (app, (token, project, _)) in [(&sqlite, &s), (&postgres, &p)] {
            let mut input = json!({"projectId": project, "query": word, "first": 100});
            if offset > 0 {
                input["after"] = json!(offset_cursor(offset - 1));
            }
            let page = search(app, Some(token), input).await;
            assert_eq!(page["totalCount"].as_u64().unwrap() as usize, df, "{word}");
            pages.push(hit_keys(&page));
        }
        assert_eq!(pages[0], pages[1], "{word} from {offset}: SQLite and PostgreSQL differ");
        let got: Vec<(String, u32)> =
            pages[0].iter().map(|k| (k[0].as_str().unwrap().to_owned(), k[2].as_u64().unwrap() as u32)).collect();
        let want: Vec<(String, u32)> =
            reference.iter().skip(offset).take(100).map(|(t, s, _)| (t.clone(), *s)).collect();
        assert_eq!(got, want, "{word} from {offset}: the hits computed in memory");
    }
}

/// The `after` cursor of the item at `offset` of a list (base64url, no padding, of `o:offset`).
fn offset_cursor(offset: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = format!("o:{offset}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
