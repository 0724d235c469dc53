//! The knowledge base over GraphQL: entries with versions and approval, merges, deletion, links
//! between entries, mentions linked one by one and all at once, candidates under Urdu-aware
//! folding (fresh across replicas), co-occurrence, the built-in extractor's gazetteer, exports
//! of the knowledge base, and the races (one version, one winner).

use crate::common;

use std::collections::HashMap;

use common::{Db, TestApp, create_document, entity_type_ids, error_code};
use serde_json::{Value, json};

pub const ITEM_FIELDS: &str = "id name aliases version approved approvedAt approvedBy { username } description externalIds { wikidata viaf geonames uris { scheme uri } } attributes entityType { name } mentionCount";
const ENTITY: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
const ADD: &str = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const LINK: &str =
    "mutation($e: ID!, $k: ID!) { linkEntity(entityId: $e, itemId: $k) { id knowledgeItem { id name } } }";
const CANDIDATES: &str = "query($p: ID!, $t: String!, $type: ID, $first: Int) { knowledgeCandidates(projectId: $p, text: $t, entityTypeId: $type, first: $first) { item { id name } score matchedAlias matchKind } }";

/// The actions of a list of versions, newest first.
fn actions(versions: &Value) -> Vec<&str> {
    versions.as_array().unwrap().iter().map(|v| v["action"].as_str().unwrap()).collect()
}

fn create_q() -> String {
    format!("mutation($i: CreateKnowledgeItemInput!) {{ createKnowledgeItem(input: $i) {{ {ITEM_FIELDS} }} }}")
}

fn update_q() -> String {
    format!(
        "mutation($id: ID!, $i: UpdateKnowledgeItemInput!, $v: Int!) {{ updateKnowledgeItem(id: $id, input: $i, expectedVersion: $v) {{ {ITEM_FIELDS} }} }}"
    )
}

/// Code-point span of the `nth` occurrence of `needle` in `text`.
pub fn span(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let byte = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("{needle} #{nth} in {text}")).0;
    let start = text[..byte].chars().count();
    (start, start + needle.chars().count())
}

pub struct Kb {
    pub app: TestApp,
    /// The project's owner (a manager).
    pub owner: String,
    /// A researcher of the project.
    pub researcher: String,
    pub project: String,
    pub types: HashMap<String, String>,
}

impl Kb {
    pub async fn new(db: Db) -> Self {
        Self::on(TestApp::spawn(db).await).await
    }

    pub async fn on(app: TestApp) -> Self {
        let (owner, _) = app.register("anis").await;
        let (researcher, researcher_id) = app.register("dabir").await;
        let types = entity_type_ids(&app).await;
        let project = app.create_project(&owner, "Marsiya", json!({})).await;
        let add = json!({"i": {"projectId": project, "userId": researcher_id, "role": "RESEARCHER"}});
        app.ok(Some(&owner), ADD, add).await;
        Self { app, owner, researcher, project, types }
    }

    /// Creates an entry as the researcher; returns the whole answer.
    pub async fn item(&self, name: &str, ty: &str, aliases: &[&str]) -> Value {
        let input =
            json!({"projectId": self.project, "entityTypeId": self.types[ty], "name": name, "aliases": aliases});
        self.app.ok(Some(&self.researcher), &create_q(), json!({"i": input})).await["createKnowledgeItem"].clone()
    }

    pub async fn item_id(&self, name: &str, ty: &str, aliases: &[&str]) -> String {
        self.item(name, ty, aliases).await["id"].as_str().unwrap().to_owned()
    }

    /// Marks the `nth` occurrence of `needle` in a document of `text`; returns the entity id.
    pub async fn entity(&self, doc: &str, text: &str, needle: &str, nth: usize, ty: &str) -> String {
        let (start, end) = span(text, needle, nth);
        let input = json!({"documentId": doc, "entityTypeId": self.types[ty], "start": start, "end": end});
        self.app.ok(Some(&self.researcher), ENTITY, json!({"i": input})).await["createEntity"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn get(&self, id: &str) -> Value {
        let q = format!("query($id: ID!) {{ knowledgeItem(id: $id) {{ {ITEM_FIELDS} }} }}");
        self.app.ok(Some(&self.researcher), &q, json!({"id": id})).await["knowledgeItem"].clone()
    }

    pub async fn candidates(&self, text: &str, ty: Option<&str>) -> Vec<Value> {
        let vars = json!({"p": self.project, "t": text, "type": ty.map(|t| self.types[t].clone())});
        self.app.ok(Some(&self.researcher), CANDIDATES, vars).await["knowledgeCandidates"].as_array().unwrap().clone()
    }
}

async fn entries_have_versions_and_managers_approve_them(db: Db) {
    let kb = Kb::new(db).await;
    let input = json!({
        "projectId": kb.project, "entityTypeId": kb.types["PERSON"], "name": " حسینؑ ",
        "aliases": ["شبیر", "حسين", "سرور", "شبّیر"], "description": "Imam, grandson of the Prophet",
        "externalIds": {"wikidata": "Q193236", "viaf": "", "geonames": null}, "attributes": {"died": 680}
    });
    let item = kb.app.ok(Some(&kb.researcher), &create_q(), json!({"i": input})).await["createKnowledgeItem"].clone();
    assert_eq!(item["name"], "حسینؑ");
    assert_eq!(item["aliases"], json!(["شبیر", "سرور"]), "each name once under folding, never the name itself");
    assert_eq!((item["version"].as_u64(), &item["approved"]), (Some(1), &json!(false)));
    assert_eq!(item["externalIds"]["wikidata"], "Q193236");
    assert_eq!(item["externalIds"]["viaf"], Value::Null);
    assert_eq!(item["externalIds"]["uris"][0]["uri"], "http://www.wikidata.org/entity/Q193236");
    assert_eq!(item["attributes"], json!({"died": 680}));
    assert_eq!(item["entityType"]["name"], "PERSON");
    let id = item["id"].as_str().unwrap().to_owned();
    // An edit names the version it was made from.
    let edit = json!({"id": id, "i": {"aliases": ["شبیر", "سرور", "شاہِ کربلا"]}, "v": 1});
    let v2 = kb.app.ok(Some(&kb.researcher), &update_q(), edit.clone()).await["updateKnowledgeItem"].clone();
    assert_eq!(v2["version"], 2);
    let stale = kb.app.gql(Some(&kb.researcher), &update_q(), json!({"id": id, "i": {"name": "حسین"}, "v": 1})).await;
    assert_eq!(error_code(&stale), "CONFLICT");
    assert!(stale["errors"][0]["message"].as_str().unwrap().contains("version 2"), "{stale}");
    assert_eq!(kb.get(&id).await["name"], "حسینؑ", "nothing written");
    // Approval is for managers, and records who and when.
    let approve = format!("mutation($id: ID!) {{ approveKnowledgeItem(id: $id) {{ {ITEM_FIELDS} }} }}");
    assert_eq!(error_code(&kb.app.gql(Some(&kb.researcher), &approve, json!({"id": id})).await), "FORBIDDEN");
    let approved = kb.app.ok(Some(&kb.owner), &approve, json!({"id": id})).await["approveKnowledgeItem"].clone();
    assert_eq!((approved["approved"].as_bool(), approved["version"].as_u64()), (Some(true), Some(3)));
    assert_eq!(approved["approvedBy"]["username"], "anis");
    assert!(approved["approvedAt"].is_string());
    // A manager's change keeps the approval; a researcher's change of content withdraws it.
    let by_owner = json!({"id": id, "i": {"description": "Imam Husain"}, "v": 3});
    let kept = kb.app.ok(Some(&kb.owner), &update_q(), by_owner).await["updateKnowledgeItem"].clone();
    assert_eq!((kept["approved"].as_bool(), kept["version"].as_u64()), (Some(true), Some(4)));
    let by_researcher = json!({"id": id, "i": {"aliases": ["شبیر"]}, "v": 4});
    let withdrawn = kb.app.ok(Some(&kb.researcher), &update_q(), by_researcher).await["updateKnowledgeItem"].clone();
    assert_eq!((withdrawn["approved"].as_bool(), withdrawn["approvedBy"].clone()), (Some(false), Value::Null));
    // Every change is a version, newest first, with what it was.
    let versions = kb
        .app
        .ok(
            Some(&kb.researcher),
            "query($id: ID!) { knowledgeItem(id: $id) { versions { version action aliases approved changedBy { username } details } } }",
            json!({"id": id}),
        )
        .await["knowledgeItem"]["versions"]
        .clone();
    let actions: Vec<(u64, &str)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_u64().unwrap(), v["action"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [(5, "UPDATE"), (4, "UPDATE"), (3, "APPROVE"), (2, "UPDATE"), (1, "CREATE")]);
    assert_eq!(versions[3]["aliases"], json!(["شبیر", "سرور", "شاہِ کربلا"]), "old versions are kept as they were");
    assert_eq!(versions[2]["changedBy"]["username"], "anis");
    assert_eq!(versions[0]["details"], json!({"fields": ["aliases"]}));
    // Input rules.
    for (input, field) in [
        (json!({"name": "  "}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"name": "عباس", "aliases": ["علمدار", ""]}), "aliases.1"),
        (json!({"name": "عباس", "externalIds": {"wikidata": "12345"}}), "externalIds.wikidata"),
        (json!({"name": "عباس", "externalIds": {"geonames": "abc"}}), "externalIds.geonames"),
        (json!({"name": "عباس", "description": "d".repeat(5001)}), "description"),
        (json!({"name": "عباس", "attributes": [1, 2]}), "attributes"),
    ] {
        let mut i = input.clone();
        i["projectId"] = json!(kb.project);
        i["entityTypeId"] = json!(kb.types["PERSON"]);
        let r = kb.app.gql(Some(&kb.researcher), &create_q(), json!({"i": i})).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{input}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field, "{input}");
    }
    // Viewers read but do not write; strangers do not see the project.
    let (viewer, viewer_id) = kb.app.register("viewer").await;
    kb.app
        .ok(Some(&kb.owner), ADD, json!({"i": {"projectId": kb.project, "userId": viewer_id, "role": "VIEWER"}}))
        .await;
    let i = json!({"i": {"projectId": kb.project, "entityTypeId": kb.types["PERSON"], "name": "عباس"}});
    assert_eq!(error_code(&kb.app.gql(Some(&viewer), &create_q(), i.clone()).await), "FORBIDDEN");
    let q = "query($id: ID!) { knowledgeItem(id: $id) { name } }";
    assert_eq!(kb.app.ok(Some(&viewer), q, json!({"id": id})).await["knowledgeItem"]["name"], "حسینؑ");
    let (stranger, _) = kb.app.register("stranger").await;
    assert_eq!(error_code(&kb.app.gql(Some(&stranger), &create_q(), i).await), "NOT_FOUND");
    assert_eq!(error_code(&kb.app.gql(Some(&stranger), q, json!({"id": id})).await), "NOT_FOUND");
    assert_eq!(error_code(&kb.app.gql(None, q, json!({"id": id})).await), "NOT_FOUND");
}

async fn concurrent_updates_of_one_version_have_one_winner(db: Db) {
    let kb = Kb::new(db).await;
    let id = kb.item_id("عباسؑ", "PERSON", &[]).await;
    let update = update_q();
    let attempts = (0..8).map(|n| {
        let (app, token, update, id) = (&kb.app, kb.researcher.clone(), update.clone(), id.clone());
        async move {
            let vars = json!({"id": id, "i": {"aliases": [format!("علمدار {n}")]}, "v": 1});
            app.gql(Some(&token), &update, vars).await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let won: Vec<&Value> = answers.iter().filter(|a| a.get("errors").is_none()).collect();
    assert_eq!(won.len(), 1, "exactly one update of version 1 wins: {answers:?}");
    assert!(answers.iter().filter(|a| a.get("errors").is_some()).all(|a| error_code(a) == "CONFLICT"));
    let item = kb.get(&id).await;
    assert_eq!(item["version"], 2);
    assert_eq!(item["aliases"], won[0]["data"]["updateKnowledgeItem"]["aliases"]);
    let n = kb.app.count("SELECT 1 FROM knowledge_item_versions WHERE version = 2").await;
    assert_eq!(n, 1, "one version 2");
}

async fn merging_moves_mentions_names_and_links_and_keeps_history(db: Db) {
    let kb = Kb::new(db).await;
    let text = "سرورؑ آئے کربلا میں\nشبیرؑ نے کہا";
    let doc = create_document(&kb.app, &kb.researcher, &kb.project, "Stanza", text).await;
    let husain = kb.item_id("حسینؑ", "PERSON", &["شبیر"]).await;
    let sarwar = kb.item_id("سرور", "PERSON", &["شاہِ کربلا", "حسين"]).await;
    let abbas = kb.item_id("عباسؑ", "PERSON", &[]).await;
    let karbala = kb.item_id("کربلا", "LOCATION", &[]).await;
    let e1 = kb.entity(&doc, text, "سرورؑ", 0, "PERSON").await;
    let e2 = kb.entity(&doc, text, "شبیرؑ", 0, "PERSON").await;
    kb.app.ok(Some(&kb.researcher), LINK, json!({"e": e1, "k": sarwar})).await;
    kb.app.ok(Some(&kb.researcher), LINK, json!({"e": e2, "k": husain})).await;
    let relate = "mutation($i: RelateKnowledgeItemsInput!) { relateKnowledgeItems(input: $i) { id } }";
    for (from, to, kind) in
        [(&abbas, &sarwar, "SIBLING_OF"), (&abbas, &husain, "SIBLING_OF"), (&sarwar, &husain, "RELATED_TO")]
    {
        kb.app.ok(Some(&kb.researcher), relate, json!({"i": {"fromId": from, "toId": to, "relationType": kind}})).await;
    }
    let merge = format!(
        "mutation($t: ID!, $s: [ID!]!) {{ mergeKnowledgeItems(targetId: $t, sourceIds: $s) {{ {ITEM_FIELDS} incomingLinks {{ relationType from {{ id }} }} outgoingLinks {{ id }} mergedItems {{ id name aliases versions {{ version action details }} }} versions {{ action details }} }} }}"
    );
    // What cannot be merged.
    for (t, s, code) in [
        (&husain, vec![husain.clone()], "BAD_USER_INPUT"),
        (&husain, vec![], "BAD_USER_INPUT"),
        (&husain, vec![karbala.clone()], "BAD_USER_INPUT"),
    ] {
        let r = kb.app.gql(Some(&kb.researcher), &merge, json!({"t": t, "s": s})).await;
        assert_eq!(error_code(&r), code, "{r}");
    }
    let merged =
        kb.app.ok(Some(&kb.researcher), &merge, json!({"t": husain, "s": [sarwar]})).await["mergeKnowledgeItems"]
            .clone();
    assert_eq!(merged["aliases"], json!(["شبیر", "سرور", "شاہِ کربلا"]), "the source's names, each once");
    assert_eq!(merged["mentionCount"], 2);
    assert_eq!(merged["version"], 2);
    let incoming: Vec<(&str, &str)> = merged["incomingLinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["relationType"].as_str().unwrap(), l["from"]["id"].as_str().unwrap()))
        .collect();
    assert_eq!(incoming, [("SIBLING_OF", abbas.as_str())], "the repeated link once, the link to itself dropped");
    assert_eq!(merged["outgoingLinks"], json!([]));
    assert_eq!(merged["mergedItems"][0]["name"], "سرور");
    let history = actions(&merged["mergedItems"][0]["versions"]);
    assert_eq!(history, ["MERGED_INTO", "CREATE"]);
    assert_eq!(merged["mergedItems"][0]["versions"][0]["details"], json!({"mergedInto": husain}));
    assert_eq!(merged["versions"][0], json!({"action": "MERGE", "details": {"mergedFrom": [sarwar]}}));
    // The mention moved; the old id names the entry it lives on in.
    let q = "query($id: ID!) { entity(id: $id) { knowledgeItem { id } } }";
    assert_eq!(
        kb.app.ok(Some(&kb.researcher), q, json!({"id": e1})).await["entity"]["knowledgeItem"]["id"],
        husain.as_str()
    );
    assert_eq!(kb.get(&sarwar).await["id"], husain.as_str());
    let items = kb
        .app
        .ok(
            Some(&kb.researcher),
            "query($p: ID!) { knowledgeItems(projectId: $p) { totalCount edges { node { name } } } }",
            json!({"p": kb.project}),
        )
        .await;
    assert_eq!(items["knowledgeItems"]["totalCount"], 3, "the merged entry is no longer listed");
    // A merged entry is not changed again.
    let again = kb.app.gql(Some(&kb.researcher), &merge, json!({"t": abbas, "s": [sarwar]})).await;
    assert_eq!(error_code(&again), "NOT_FOUND");
    let r = kb.app.gql(Some(&kb.researcher), &update_q(), json!({"id": sarwar, "i": {"name": "x"}, "v": 2})).await;
    assert_eq!(error_code(&r), "CONFLICT");
    // Candidates know the merge: the source's names find the target.
    let found = kb.candidates("سرور", None).await;
    assert_eq!(found[0]["item"]["id"], husain.as_str());
    // Two merges racing in opposite directions: one wins, the other finds its source gone.
    let a = kb.item_id("زینبؑ", "PERSON", &[]).await;
    let b = kb.item_id("زینب", "PERSON", &["ثانیِ زہرا"]).await;
    let (ab, ba) = tokio::join!(
        kb.app.gql(Some(&kb.researcher), &merge, json!({"t": a, "s": [b]})),
        kb.app.gql(Some(&kb.owner), &merge, json!({"t": b, "s": [a]})),
    );
    let wins = [&ab, &ba].iter().filter(|r| r.get("errors").is_none()).count();
    assert_eq!(wins, 1, "{ab} {ba}");
    let live = kb.app.count("SELECT 1 FROM knowledge_items WHERE merged_into_id IS NULL AND deleted_at IS NULL").await;
    assert_eq!(live, 4, "husain, abbas, karbala and one zainab");
}

async fn deleting_an_entry_unlinks_its_mentions(db: Db) {
    let kb = Kb::new(db).await;
    let text = "عباسؑ علمدار فرات پر";
    let doc = create_document(&kb.app, &kb.researcher, &kb.project, "Stanza", text).await;
    let abbas = kb.item_id("عباسؑ", "PERSON", &["علمدار"]).await;
    let other = kb.item_id("فرات", "LOCATION", &[]).await;
    let e1 = kb.entity(&doc, text, "عباسؑ", 0, "PERSON").await;
    let e2 = kb.entity(&doc, text, "علمدار", 0, "PERSON").await;
    for e in [&e1, &e2] {
        kb.app.ok(Some(&kb.researcher), LINK, json!({"e": e, "k": abbas})).await;
    }
    let relate = "mutation($i: RelateKnowledgeItemsInput!) { relateKnowledgeItems(input: $i) { id } }";
    kb.app
        .ok(Some(&kb.researcher), relate, json!({"i": {"fromId": abbas, "toId": other, "relationType": "RELATED_TO"}}))
        .await;
    let delete = "mutation($id: ID!) { deleteKnowledgeItem(id: $id) }";
    kb.app.ok(Some(&kb.researcher), delete, json!({"id": abbas})).await;
    let q = "query($id: ID!) { entity(id: $id) { id knowledgeItem { id } } }";
    for e in [&e1, &e2] {
        let got = kb.app.ok(Some(&kb.researcher), q, json!({"id": e})).await;
        assert_eq!(got["entity"]["knowledgeItem"], Value::Null, "the mention stays, unlinked");
    }
    let r = kb
        .app
        .gql(Some(&kb.researcher), "query($id: ID!) { knowledgeItem(id: $id) { id } }", json!({"id": abbas}))
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND");
    assert_eq!(error_code(&kb.app.gql(Some(&kb.researcher), delete, json!({"id": abbas})).await), "NOT_FOUND");
    let r = kb.app.gql(Some(&kb.researcher), LINK, json!({"e": e1, "k": abbas})).await;
    assert_eq!((error_code(&r), &r["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT".into(), &json!("itemId")));
    assert_eq!(kb.app.count("SELECT 1 FROM knowledge_links").await, 0, "its links are removed");
    assert_eq!(
        kb.app.count("SELECT 1 FROM knowledge_item_versions WHERE action = 'DELETE'").await,
        1,
        "its history stays"
    );
    assert!(kb.candidates("عباس", None).await.is_empty(), "and the index forgets it");
    // A link racing the deletion: either it was made before (and undone) or it is refused.
    let abbas = kb.item_id("عباسؑ", "PERSON", &[]).await;
    let (linked, deleted) = tokio::join!(
        kb.app.gql(Some(&kb.researcher), LINK, json!({"e": e1, "k": abbas})),
        kb.app.gql(Some(&kb.owner), delete, json!({"id": abbas})),
    );
    assert!(deleted.get("errors").is_none(), "{deleted}");
    if linked.get("errors").is_some() {
        assert_eq!(error_code(&linked), "BAD_USER_INPUT");
    }
    let dangling = kb
        .app
        .count("SELECT 1 FROM entities e JOIN knowledge_items k ON k.id = e.knowledge_item_id WHERE k.deleted_at IS NOT NULL")
        .await;
    assert_eq!(dangling, 0, "no mention stays linked to a deleted entry");
}

async fn entries_link_to_each_other(db: Db) {
    let kb = Kb::new(db).await;
    let abbas = kb.item_id("عباسؑ", "PERSON", &[]).await;
    let ali = kb.item_id("علیؑ", "PERSON", &[]).await;
    let karbala = kb.item_id("کربلا", "LOCATION", &[]).await;
    let iraq = kb.item_id("عراق", "LOCATION", &[]).await;
    let relate = "mutation($i: RelateKnowledgeItemsInput!) { relateKnowledgeItems(input: $i) { id relationType strength from { name } to { name } } }";
    let son = kb
        .app
        .ok(
            Some(&kb.researcher),
            relate,
            json!({"i": {"fromId": abbas, "toId": ali, "relationType": "SON_OF", "strength": 0.9}}),
        )
        .await["relateKnowledgeItems"]
        .clone();
    assert_eq!((son["relationType"].as_str(), son["strength"].as_f64()), (Some("SON_OF"), Some(0.9)));
    assert_eq!((son["from"]["name"].as_str(), son["to"]["name"].as_str()), (Some("عباسؑ"), Some("علیؑ")));
    let placed = json!({"i": {"fromId": karbala, "toId": iraq, "relationType": "LOCATED_IN"}});
    let located = kb.app.ok(Some(&kb.researcher), relate, placed.clone()).await["relateKnowledgeItems"].clone();
    assert_eq!(located["strength"], 1.0, "strength 1 when not given");
    assert_eq!(error_code(&kb.app.gql(Some(&kb.researcher), relate, placed).await), "CONFLICT");
    for (input, field) in [
        (json!({"fromId": abbas, "toId": abbas, "relationType": "RELATED_TO"}), "toId"),
        (json!({"fromId": abbas, "toId": ali, "relationType": "RELATED_TO", "strength": 1.5}), "strength"),
        (json!({"fromId": abbas, "toId": uuid::Uuid::now_v7().to_string(), "relationType": "RELATED_TO"}), "toId"),
    ] {
        let r = kb.app.gql(Some(&kb.researcher), relate, json!({"i": input})).await;
        assert_eq!((error_code(&r), &r["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT".into(), &json!(field)));
    }
    // Entries of another project are not reachable.
    let elsewhere = kb.app.create_project(&kb.owner, "Elsewhere", json!({})).await;
    let input = json!({"projectId": elsewhere, "entityTypeId": kb.types["PERSON"], "name": "علیؑ"});
    let far = kb.app.ok(Some(&kb.owner), &create_q(), json!({"i": input})).await["createKnowledgeItem"]["id"].clone();
    let r = kb
        .app
        .gql(Some(&kb.owner), relate, json!({"i": {"fromId": abbas, "toId": far, "relationType": "SON_OF"}}))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "toId");
    let q = "query($id: ID!) { knowledgeItem(id: $id) { outgoingLinks { relationType to { name } } incomingLinks { id } } }";
    let links = kb.app.ok(Some(&kb.researcher), q, json!({"id": abbas})).await["knowledgeItem"].clone();
    assert_eq!(links["outgoingLinks"], json!([{"relationType": "SON_OF", "to": {"name": "علیؑ"}}]));
    let delete = "mutation($id: ID!) { deleteKnowledgeLink(id: $id) }";
    kb.app.ok(Some(&kb.researcher), delete, json!({"id": son["id"]})).await;
    assert_eq!(error_code(&kb.app.gql(Some(&kb.researcher), delete, json!({"id": son["id"]})).await), "NOT_FOUND");
    let links = kb.app.ok(Some(&kb.researcher), q, json!({"id": abbas})).await["knowledgeItem"].clone();
    assert_eq!(links["outgoingLinks"], json!([]));
}

/// Every relation type, each between entries it suits, is stored with its strength and read
/// back from both ends; two types between one pair are two links.
async fn every_relation_type_links_entries(db: Db) {
    let kb = Kb::new(db).await;
    let mut id = HashMap::new();
    for (name, ty) in [
        ("عباسؑ", "PERSON"),
        ("علیؑ", "PERSON"),
        ("زینبؑ", "PERSON"),
        ("فاطمہؑ", "PERSON"),
        ("حسینؑ", "PERSON"),
        ("کربلا", "LOCATION"),
        ("عراق", "LOCATION"),
    ] {
        id.insert(name, kb.item_id(name, ty, &[]).await);
    }
    let wanted = [
        ("عباسؑ", "SON_OF", "علیؑ", 0.9),
        ("زینبؑ", "DAUGHTER_OF", "علیؑ", 0.8),
        ("عباسؑ", "SIBLING_OF", "حسینؑ", 0.7),
        ("علیؑ", "SPOUSE_OF", "فاطمہؑ", 0.6),
        ("عباسؑ", "COMPANION_OF", "حسینؑ", 0.5),
        ("کربلا", "LOCATED_IN", "عراق", 0.4),
        ("حسینؑ", "RELATED_TO", "کربلا", 0.3),
    ];
    // The seven are all the API knows: a new type must be added here.
    let q = r#"{ __type(name: "KnowledgeRelationType") { enumValues { name } } }"#;
    let known = kb.app.ok(Some(&kb.researcher), q, json!({})).await;
    let known: Vec<&str> =
        known["__type"]["enumValues"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(known, wanted.iter().map(|w| w.1).collect::<Vec<_>>());
    let relate = "mutation($i: RelateKnowledgeItemsInput!) { relateKnowledgeItems(input: $i) { relationType strength from { name } to { name } } }";
    for (from, kind, to, strength) in wanted {
        let i = json!({"fromId": id[from], "toId": id[to], "relationType": kind, "strength": strength});
        let made = kb.app.ok(Some(&kb.researcher), relate, json!({"i": i})).await["relateKnowledgeItems"].clone();
        assert_eq!(
            made,
            json!({"relationType": kind, "strength": strength, "from": {"name": from}, "to": {"name": to}})
        );
    }
    let q = "query($id: ID!) { knowledgeItem(id: $id) { name outgoingLinks { relationType strength to { name } } incomingLinks { relationType strength from { name } } } }";
    let (mut outgoing, mut incoming) = (Vec::new(), Vec::new());
    for item in id.values() {
        let got = kb.app.ok(Some(&kb.researcher), q, json!({"id": item})).await["knowledgeItem"].clone();
        let name = got["name"].as_str().unwrap().to_owned();
        for l in got["outgoingLinks"].as_array().unwrap() {
            let to = l["to"]["name"].as_str().unwrap().to_owned();
            outgoing.push((
                name.clone(),
                l["relationType"].as_str().unwrap().to_owned(),
                to,
                l["strength"].as_f64().unwrap(),
            ));
        }
        for l in got["incomingLinks"].as_array().unwrap() {
            let from = l["from"]["name"].as_str().unwrap().to_owned();
            incoming.push((
                from,
                l["relationType"].as_str().unwrap().to_owned(),
                name.clone(),
                l["strength"].as_f64().unwrap(),
            ));
        }
    }
    let mut expected: Vec<(String, String, String, f64)> =
        wanted.iter().map(|(f, k, t, s)| (f.to_string(), k.to_string(), t.to_string(), *s)).collect();
    let by_strength = |a: &(String, String, String, f64), b: &(String, String, String, f64)| b.3.total_cmp(&a.3);
    expected.sort_by(by_strength);
    outgoing.sort_by(by_strength);
    incoming.sort_by(by_strength);
    assert_eq!(outgoing, expected, "read back from where they start");
    assert_eq!(incoming, expected, "read back from where they end");
}

async fn mentions_link_to_entries_across_documents(db: Db) {
    let kb = Kb::new(db).await;
    let one = "عباسؑ فرات پر\nعلمدار آئے";
    let two = "ابوالفضل عباسؑ";
    let d1 = create_document(&kb.app, &kb.researcher, &kb.project, "One", one).await;
    let d2 = create_document(&kb.app, &kb.researcher, &kb.project, "Two", two).await;
    let e1 = kb.entity(&d1, one, "عباسؑ", 0, "PERSON").await;
    let e2 = kb.entity(&d1, one, "علمدار", 0, "PERSON").await;
    let e3 = kb.entity(&d2, two, "عباسؑ", 0, "PERSON").await;
    // An entry made from a mention, linked to it in the same step.
    let from = format!(
        "mutation($e: ID!, $n: String) {{ createKnowledgeItemFromEntity(entityId: $e, name: $n) {{ {ITEM_FIELDS} }} }}"
    );
    let made = kb.app.ok(Some(&kb.researcher), &from, json!({"e": e1})).await["createKnowledgeItemFromEntity"].clone();
    assert_eq!((made["name"].as_str(), made["entityType"]["name"].as_str()), (Some("عباسؑ"), Some("PERSON")));
    assert_eq!(made["mentionCount"], 1);
    let abbas = made["id"].as_str().unwrap().to_owned();
    let again = kb.app.gql(Some(&kb.researcher), &from, json!({"e": e1})).await;
    assert_eq!(error_code(&again), "CONFLICT", "the mention is linked already");
    let linked = kb.app.ok(Some(&kb.researcher), LINK, json!({"e": e2, "k": abbas})).await;
    assert_eq!(linked["linkEntity"]["knowledgeItem"]["name"], "عباسؑ");
    kb.app.ok(Some(&kb.researcher), LINK, json!({"e": e3, "k": abbas})).await;
    let q = "query($id: ID!) { knowledgeItem(id: $id) { mentionCount mentions(first: 10) { totalCount edges { node { text document { title } } } } mentionsByDocument { document { title } count } } }";
    let got = kb.app.ok(Some(&kb.researcher), q, json!({"id": abbas})).await["knowledgeItem"].clone();
    assert_eq!(got["mentionCount"], 3);
    assert_eq!(got["mentions"]["totalCount"], 3);
    let mut by_doc: Vec<(String, u64)> = got["mentionsByDocument"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["document"]["title"].as_str().unwrap().to_owned(), m["count"].as_u64().unwrap()))
        .collect();
    by_doc.sort();
    assert_eq!(by_doc, [("One".to_owned(), 2), ("Two".to_owned(), 1)]);
    // Unlinking.
    let unlink = "mutation($e: ID!) { unlinkEntity(entityId: $e) { id knowledgeItem { id } } }";
    let u = kb.app.ok(Some(&kb.researcher), unlink, json!({"e": e3})).await;
    assert_eq!(u["unlinkEntity"]["knowledgeItem"], Value::Null);
    assert_eq!(kb.get(&abbas).await["mentionCount"], 2);
    // A mention of one project is not linked to an entry of another.
    let elsewhere = kb.app.create_project(&kb.researcher, "Elsewhere", json!({})).await;
    let input = json!({"projectId": elsewhere, "entityTypeId": kb.types["PERSON"], "name": "عباس"});
    let far =
        kb.app.ok(Some(&kb.researcher), &create_q(), json!({"i": input})).await["createKnowledgeItem"]["id"].clone();
    let r = kb.app.gql(Some(&kb.researcher), LINK, json!({"e": e3, "k": far})).await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "itemId");
    // Deleting the mention leaves the entry with the others.
    kb.app.ok(Some(&kb.researcher), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": e2})).await;
    assert_eq!(kb.get(&abbas).await["mentionCount"], 1);
    // Many researchers making an entry from one mention at once: one entry, one link.
    let attempts = (0..6).map(|_| {
        let (app, token, from, e3) = (&kb.app, kb.researcher.clone(), from.clone(), e3.clone());
        async move { app.gql(Some(&token), &from, json!({"e": e3, "n": "ابوالفضل"})).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    assert_eq!(answers.iter().filter(|a| a.get("errors").is_none()).count(), 1, "{answers:?}");
    assert!(answers.iter().filter(|a| a.get("errors").is_some()).all(|a| error_code(a) == "CONFLICT"));
    let n = kb.app.count("SELECT 1 FROM knowledge_items WHERE name = 'ابوالفضل'").await;
    assert_eq!(n, 1, "the losers' entries were not kept");
}

async fn every_unlinked_mention_matching_an_alias_is_linked_at_once(db: Db) {
    let kb = Kb::new(db).await;
    // Husain in three spellings, Abbas twice, "علی" naming two entries, شام as a time of day.
    let text = "حسینؑ ابن علیؑ، حسين اور شبیر\nعباسؑ، عباس علمدار\nعلی آئے شام کو";
    let doc = create_document(&kb.app, &kb.researcher, &kb.project, "Stanza", text).await;
    let husain = kb.item_id("حسین", "PERSON", &["شبیر", "حسین ابن علی"]).await;
    let abbas = kb.item_id("عباس", "PERSON", &["علمدار"]).await;
    kb.item_id("علی", "PERSON", &[]).await;
    kb.item_id("علیؑ ابن ابی طالب", "PERSON", &["علیؑ"]).await;
    kb.item_id("شام", "LOCATION", &[]).await;
    let mut entities = Vec::new();
    for (needle, nth, ty) in [
        ("حسینؑ", 0, "PERSON"),
        ("حسين", 0, "PERSON"),
        ("شبیر", 0, "PERSON"),
        ("عباسؑ", 0, "PERSON"),
        ("عباس", 1, "PERSON"),
        ("علمدار", 0, "PERSON"),
        ("علی", 1, "PERSON"),
        ("شام", 0, "TIME"),
    ] {
        entities.push(kb.entity(&doc, text, needle, nth, ty).await);
    }
    let link_all = "mutation($p: ID!, $a: Boolean) { linkMatchingMentions(projectId: $p, approvedOnly: $a) { examined linked ambiguous items { name } } }";
    // Only approved entries: none yet.
    let none = kb.app.ok(Some(&kb.researcher), link_all, json!({"p": kb.project, "a": true})).await;
    assert_eq!(none["linkMatchingMentions"]["linked"], 0);
    let done =
        kb.app.ok(Some(&kb.researcher), link_all, json!({"p": kb.project})).await["linkMatchingMentions"].clone();
    assert_eq!(
        (done["examined"].as_u64(), done["linked"].as_u64(), done["ambiguous"].as_u64()),
        (Some(8), Some(6), Some(1))
    );
    let mut names: Vec<&str> = done["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["حسین", "عباس"]);
    assert_eq!(kb.get(&husain).await["mentionCount"], 3);
    assert_eq!(kb.get(&abbas).await["mentionCount"], 3);
    let q = "query($id: ID!) { entity(id: $id) { knowledgeItem { id } } }";
    for e in &entities[6..] {
        let got = kb.app.ok(Some(&kb.researcher), q, json!({"id": e})).await;
        assert_eq!(got["entity"]["knowledgeItem"], Value::Null, "ambiguous and mistyped mentions stay unlinked");
    }
    // Linked mentions are left as they are: a second run links nothing.
    let again =
        kb.app.ok(Some(&kb.researcher), link_all, json!({"p": kb.project})).await["linkMatchingMentions"].clone();
    assert_eq!((again["examined"].as_u64(), again["linked"].as_u64()), (Some(2), Some(0)));
    // Narrowed to entries and documents; at most 1000 ids.
    let narrow = "mutation($p: ID!, $i: [ID!], $d: [ID!]) { linkMatchingMentions(projectId: $p, itemIds: $i, documentIds: $d) { linked } }";
    let many: Vec<String> = (0..1001).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let r = kb.app.gql(Some(&kb.researcher), narrow, json!({"p": kb.project, "i": many})).await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "itemIds");
    let viewer = kb.app.register("viewer").await;
    assert_eq!(error_code(&kb.app.gql(Some(&viewer.0), link_all, json!({"p": kb.project})).await), "NOT_FOUND");
}

async fn candidates_are_found_under_urdu_folding(db: Db) {
    let kb = Kb::new(db).await;
    let husain = kb.item_id("حسینؑ", "PERSON", &["شبیر", "سرور", "شاہِ کربلا"]).await;
    let abbas = kb.item_id("عباسؑ", "PERSON", &["علمدار", "ابوالفضل"]).await;
    let karbala = kb.item_id("کربلا", "LOCATION", &["نینوا"]).await;
    // Exact under folding: Arabic letters, no honorific, the izafat written or not.
    for text in ["حسين", "حسین", "شاہ کربلا", "شاهِ كربلا", "شبّیر"] {
        let found = kb.candidates(text, None).await;
        assert_eq!(found[0]["item"]["id"], husain.as_str(), "{text}");
        assert_eq!((found[0]["score"].as_f64(), found[0]["matchKind"].as_str()), (Some(1.0), Some("EXACT")), "{text}");
    }
    assert_eq!(kb.candidates("شاه كربلا", None).await[0]["matchedAlias"], "شاہِ کربلا");
    // Prefixes, then near misses.
    let found = kb.candidates("ابوال", None).await;
    assert_eq!(
        (found[0]["item"]["id"].as_str(), found[0]["matchKind"].as_str()),
        (Some(abbas.as_str()), Some("PREFIX"))
    );
    assert_eq!(found[0]["matchedAlias"], "ابوالفضل");
    let found = kb.candidates("علمدر", None).await;
    assert_eq!(
        (found[0]["item"]["id"].as_str(), found[0]["matchKind"].as_str()),
        (Some(abbas.as_str()), Some("FUZZY"))
    );
    // Ranked; narrowed by type.
    let found = kb.candidates("کربلا", None).await;
    assert_eq!(
        found.iter().map(|c| c["item"]["id"].as_str().unwrap()).collect::<Vec<_>>(),
        [karbala.as_str(), husain.as_str()]
    );
    assert!(found[0]["score"].as_f64() > found[1]["score"].as_f64());
    assert_eq!(kb.candidates("کربلا", Some("PERSON")).await.len(), 1);
    assert!(kb.candidates("دمشق", None).await.is_empty());
    // Bounds, and who may ask.
    let long = "ک".repeat(201);
    let r = kb.app.gql(Some(&kb.researcher), CANDIDATES, json!({"p": kb.project, "t": long})).await;
    assert_eq!((error_code(&r), &r["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT".into(), &json!("text")));
    let r = kb.app.gql(Some(&kb.researcher), CANDIDATES, json!({"p": kb.project, "t": "ک", "first": 51})).await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "first");
    assert_eq!(error_code(&kb.app.gql(None, CANDIDATES, json!({"p": kb.project, "t": "ک"})).await), "NOT_FOUND");
    // A search of the listing uses the same folding.
    let q = "query($p: ID!, $s: String) { knowledgeItems(projectId: $p, search: $s) { totalCount edges { node { name } } } }";
    let got = kb.app.ok(Some(&kb.researcher), q, json!({"p": kb.project, "s": "كربل"})).await;
    let names: Vec<&str> = got["knowledgeItems"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["حسینؑ", "کربلا"]);
}

async fn the_candidate_index_is_fresh_on_every_replica(db: Db) {
    let kb = Kb::new(db).await;
    let replica = TestApp::spawn_on(&kb.app, |_| {}).await;
    let ask = |text: &'static str| {
        let (replica, token, project) = (&replica, kb.researcher.clone(), kb.project.clone());
        async move {
            replica.ok(Some(&token), CANDIDATES, json!({"p": project, "t": text})).await["knowledgeCandidates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["matchedAlias"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(ask("عباس").await.is_empty(), "the replica loads an empty index");
    let abbas = kb.item_id("عباسؑ", "PERSON", &["علمدار"]).await;
    assert_eq!(ask("علمدار").await, ["علمدار"], "an entry made on the other server");
    let edit = json!({"id": abbas, "i": {"aliases": ["ابوالفضل"]}, "v": 1});
    kb.app.ok(Some(&kb.researcher), &update_q(), edit).await;
    assert!(ask("علمدار").await.is_empty(), "an alias taken away");
    assert_eq!(ask("ابوالفضل").await, ["ابوالفضل"]);
    kb.app.ok(Some(&kb.researcher), "mutation($id: ID!) { deleteKnowledgeItem(id: $id) }", json!({"id": abbas})).await;
    assert!(ask("عباس").await.is_empty(), "a deleted entry");
}

/// Once a project's candidate index is loaded, a `knowledgeCandidates` query asks the database
/// only who is asking (session, user), whether they may read the project (one statement),
/// whether its entries changed (the revision), and for the fields of the entries it answers
/// with, by id: the same statements at 1 entry or 10,000 (what keeps its p99 low, README
/// "Benchmarks"). After a change, the next query reads the entries again.
async fn a_steady_candidates_query_reads_no_entries(db: Db) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kb = Kb::on(TestApp::spawn_recording(db, log.clone()).await).await;
    kb.item_id("حسینؑ", "PERSON", &["شبیر", "سرور"]).await;
    assert_eq!(kb.candidates("شبیر", None).await.len(), 1, "the first query loads the index");
    let entries = |log: &std::sync::Mutex<Vec<String>>| {
        log.lock().unwrap().iter().filter(|sql| sql.contains("knowledge_item")).cloned().collect::<Vec<_>>()
    };
    for _ in 0..3 {
        log.lock().unwrap().clear();
        let got = kb.candidates("سرور", None).await;
        assert_eq!(got[0]["matchedAlias"], "سرور");
        // The job queue's and webhook senders' polls run meanwhile; they are not the query's.
        let background = ["\"processing_jobs\"", "\"webhook_", "\"events\"", "\"activity_"];
        let statements: Vec<String> =
            log.lock().unwrap().iter().filter(|sql| !background.iter().any(|b| sql.contains(b))).cloned().collect();
        assert!(statements.len() <= 5, "a steady query ran {} statements: {statements:#?}", statements.len());
        let scans: Vec<String> = entries(&log)
            .into_iter()
            .filter(|sql| sql.contains(r#"FROM "knowledge_items""#) && !sql.contains(r#""knowledge_items"."id" IN"#))
            .collect();
        assert_eq!(scans, Vec::<String>::new(), "a steady query read entries beyond its answer's, by id");
    }
    // A change is seen by the next query (it reads the entries again, or what changed).
    kb.item_id("عباسؑ", "PERSON", &["علمدار"]).await;
    log.lock().unwrap().clear();
    assert_eq!(kb.candidates("علمدار", None).await[0]["matchedAlias"], "علمدار");
    assert!(!entries(&log).is_empty(), "the query after a change read the entries");
}

async fn entries_named_together_are_counted(db: Db) {
    let kb = Kb::new(db).await;
    // Two stanzas: Husain and Abbas share line 1 and stanza 1; Husain and Karbala stanza 2.
    let text = "حسینؑ اور عباسؑ\nعباسؑ فرات پر\n\nحسینؑ آئے\nکربلا میں";
    let doc = create_document(&kb.app, &kb.researcher, &kb.project, "Two stanzas", text).await;
    let other = create_document(&kb.app, &kb.researcher, &kb.project, "Other", "عباسؑ اور حسینؑ").await;
    let husain = kb.item_id("حسینؑ", "PERSON", &[]).await;
    let abbas = kb.item_id("عباسؑ", "PERSON", &[]).await;
    let karbala = kb.item_id("کربلا", "LOCATION", &[]).await;
    for (needle, nth, ty) in [
        ("حسینؑ", 0, "PERSON"),
        ("عباسؑ", 0, "PERSON"),
        ("عباسؑ", 1, "PERSON"),
        ("حسینؑ", 1, "PERSON"),
        ("کربلا", 0, "LOCATION"),
    ] {
        kb.entity(&doc, text, needle, nth, ty).await;
    }
    kb.entity(&other, "عباسؑ اور حسینؑ", "عباسؑ", 0, "PERSON").await;
    kb.entity(&other, "عباسؑ اور حسینؑ", "حسینؑ", 0, "PERSON").await;
    kb.app
        .ok(
            Some(&kb.researcher),
            "mutation($p: ID!) { linkMatchingMentions(projectId: $p) { linked } }",
            json!({"p": kb.project}),
        )
        .await;
    let q = "query($p: ID!, $u: CooccurrenceUnit, $m: Int) { knowledgeCooccurrence(projectId: $p, unit: $u, minCount: $m) { itemA { id } itemB { id } count documents } }";
    let pairs = |unit: &'static str, min: i32| {
        let (app, token, project) = (&kb.app, kb.researcher.clone(), kb.project.clone());
        async move {
            let got = app.ok(Some(&token), q, json!({"p": project, "u": unit, "m": min})).await;
            got["knowledgeCooccurrence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let mut ids =
                        [p["itemA"]["id"].as_str().unwrap().to_owned(), p["itemB"]["id"].as_str().unwrap().to_owned()];
                    ids.sort();
                    (ids, p["count"].as_u64().unwrap(), p["documents"].as_u64().unwrap())
                })
                .collect::<Vec<_>>()
        }
    };
    let pair = |a: &str, b: &str| {
        let mut ids = [a.to_owned(), b.to_owned()];
        ids.sort();
        ids
    };
    assert_eq!(pairs("LINE", 1).await, [(pair(&husain, &abbas), 2, 2)]);
    let stanzas = pairs("STANZA", 1).await;
    assert_eq!(stanzas.len(), 2);
    assert_eq!(stanzas[0], (pair(&husain, &abbas), 2, 2));
    assert_eq!(stanzas[1], (pair(&husain, &karbala), 1, 1));
    assert_eq!(pairs("DOCUMENT", 2).await, [(pair(&husain, &abbas), 2, 2)]);
}

async fn the_builtin_extractor_finds_approved_aliases(db: Db) {
    let kb = Kb::new(db).await;
    let text = "ابوالفضل فرات پر، سقائے سکینہ";
    let doc = create_document(&kb.app, &kb.researcher, &kb.project, "Stanza", text).await;
    let abbas = kb.item_id("عباسؑ", "PERSON", &["ابوالفضل"]).await;
    kb.item_id("سقائے سکینہ", "PERSON", &[]).await; // not approved: not in the gazetteer
    kb.app
        .ok(Some(&kb.owner), "mutation($id: ID!) { approveKnowledgeItem(id: $id) { id } }", json!({"id": abbas}))
        .await;
    let start = "mutation($d: ID!) { startProcessingJob(input: {documentId: $d}) { id } }";
    let job = kb.app.ok(Some(&kb.researcher), start, json!({"d": doc})).await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = common::wait_for_job(&kb.app, &kb.researcher, &job).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let q =
        "query($id: ID!) { document(id: $id) { entities(first: 50) { edges { node { text entityType { name } } } } } }";
    let got = kb.app.ok(Some(&kb.researcher), q, json!({"id": doc})).await;
    let found: Vec<(&str, &str)> = got["document"]["entities"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["text"].as_str().unwrap(), e["node"]["entityType"]["name"].as_str().unwrap()))
        .collect();
    assert!(found.contains(&("ابوالفضل", "PERSON")), "{found:?}");
    assert!(!found.iter().any(|(t, _)| t.contains("سکینہ")), "an unapproved entry's names are not used: {found:?}");
}

async fn the_knowledge_base_exports_as_jsonl_and_csv(db: Db) {
    let kb = Kb::new(db).await;
    let text = "عباسؑ فرات پر";
    let doc = create_document(&kb.app, &kb.researcher, &kb.project, "Stanza", text).await;
    let input = json!({
        "projectId": kb.project, "entityTypeId": kb.types["PERSON"], "name": "عباسؑ", "aliases": ["علمدار", "ابوالفضل, قمر"],
        "description": "standard-bearer, \"the moon\"", "externalIds": {"wikidata": "Q2915095", "viaf": "311"}
    });
    let abbas = kb.app.ok(Some(&kb.researcher), &create_q(), json!({"i": input})).await["createKnowledgeItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let furat = kb.item_id("فرات", "LOCATION", &[]).await;
    let relate = "mutation($i: RelateKnowledgeItemsInput!) { relateKnowledgeItems(input: $i) { id } }";
    kb.app
        .ok(
            Some(&kb.researcher),
            relate,
            json!({"i": {"fromId": abbas, "toId": furat, "relationType": "RELATED_TO", "strength": 0.5}}),
        )
        .await;
    let e = kb.entity(&doc, text, "عباسؑ", 0, "PERSON").await;
    kb.app.ok(Some(&kb.researcher), LINK, json!({"e": e, "k": abbas})).await;
    kb.app
        .ok(Some(&kb.owner), "mutation($id: ID!) { approveKnowledgeItem(id: $id) { id } }", json!({"id": abbas}))
        .await;
    let export = "query($p: ID!, $f: KnowledgeBaseFormat!) { exportKnowledgeBase(projectId: $p, format: $f) }";
    let jsonl =
        kb.app.ok(Some(&kb.researcher), export, json!({"p": kb.project, "f": "JSONL"})).await["exportKnowledgeBase"]
            .as_str()
            .unwrap()
            .to_owned();
    let lines: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["id"], abbas.as_str());
    assert_eq!(first["type"], "PERSON");
    assert_eq!(first["aliases"], json!(["علمدار", "ابوالفضل, قمر"]));
    assert_eq!(first["externalIds"], json!({"wikidata": "Q2915095", "viaf": "311"}));
    assert_eq!((first["approved"].as_bool(), first["approvedBy"].as_str()), (Some(true), Some("anis")));
    assert_eq!(first["mentions"], 1);
    assert_eq!(first["links"], json!([{"to": furat, "type": "RELATED_TO", "strength": 0.5}]));
    assert_eq!(lines[1]["name"], "فرات");
    let csv =
        kb.app.ok(Some(&kb.researcher), export, json!({"p": kb.project, "f": "CSV"})).await["exportKnowledgeBase"]
            .as_str()
            .unwrap()
            .to_owned();
    let mut rows = csv.split("\r\n");
    assert_eq!(
        rows.next().unwrap(),
        "id,name,type,aliases,description,wikidata,viaf,geonames,approved,approved_by,version,mentions"
    );
    assert_eq!(
        rows.next().unwrap(),
        format!(
            "{abbas},عباسؑ,PERSON,\"علمدار | ابوالفضل, قمر\",\"standard-bearer, \"\"the moon\"\"\",Q2915095,311,,true,anis,2,1"
        )
    );
    // Read back by the readers its users take: Hugging Face `datasets` for the JSONL, pandas
    // and Python's csv module for the CSV.
    let read = |format: &str, data: &str| {
        let path = kb.app.data_dir.join(format!("knowledge.{}", format.to_lowercase()));
        std::fs::write(&path, data).unwrap();
        let out = common::python::run("read_knowledge_base.py", &[format, path.to_str().unwrap()], "");
        serde_json::from_str::<Value>(&out.stdout).expect("the readers print JSON")
    };
    let from_jsonl = read("JSONL", &jsonl);
    let rows = from_jsonl["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{from_jsonl}");
    assert_eq!(
        (&rows[0]["id"], &rows[0]["name"], &rows[0]["aliases"], &rows[0]["externalIds"]["wikidata"]),
        (&json!(abbas), &json!("عباسؑ"), &json!(["علمدار", "ابوالفضل, قمر"]), &json!("Q2915095")),
        "{from_jsonl}"
    );
    assert_eq!(rows[0]["links"], json!([{"to": furat, "type": "RELATED_TO", "strength": 0.5}]));
    assert_eq!((rows[1]["name"].as_str(), rows[1]["approved"].as_bool()), (Some("فرات"), Some(false)));
    assert_eq!(from_jsonl["features"]["mentions"], "Value('int64')");
    let from_csv = read("CSV", &csv);
    assert_eq!(from_csv["pandas"], from_csv["csv"], "pandas and the csv module read the same rows");
    assert_eq!(from_csv["csv"][0]["description"], "standard-bearer, \"the moon\"");
    assert_eq!(
        (&from_csv["csv"][0]["id"], &from_csv["csv"][1]["name"], &from_csv["csv"][0]["mentions"]),
        (&json!(abbas), &json!("فرات"), &json!("1"))
    );
    assert_eq!(from_csv["aliases"], json!([["علمدار", "ابوالفضل, قمر"], []]));
    // Who may export, and the audit row it leaves.
    let (viewer, viewer_id) = kb.app.register("viewer").await;
    kb.app
        .ok(Some(&kb.owner), ADD, json!({"i": {"projectId": kb.project, "userId": viewer_id, "role": "VIEWER"}}))
        .await;
    assert_eq!(error_code(&kb.app.gql(Some(&viewer), export, json!({"p": kb.project, "f": "CSV"})).await), "FORBIDDEN");
    let audited = kb.app.count("SELECT 1 FROM audit_logs WHERE action = 'knowledge_base.export'").await;
    assert_eq!(audited, 2);
}

on_both_databases!(
    entries_have_versions_and_managers_approve_them,
    concurrent_updates_of_one_version_have_one_winner,
    merging_moves_mentions_names_and_links_and_keeps_history,
    deleting_an_entry_unlinks_its_mentions,
    entries_link_to_each_other,
    every_relation_type_links_entries,
    mentions_link_to_entries_across_documents,
    every_unlinked_mention_matching_an_alias_is_linked_at_once,
    candidates_are_found_under_urdu_folding,
    the_candidate_index_is_fresh_on_every_replica,
    a_steady_candidates_query_reads_no_entries,
    entries_named_together_are_counted,
    the_builtin_extractor_finds_approved_aliases,
    the_knowledge_base_exports_as_jsonl_and_csv,
);

/// A document of two stanzas, with `&` and `<` in its text.
const TEI_TEXT: &str = "امام حسینؑ کربلا میں\nعباسؑ، فرات پر\n\nشبیرؑ نے کہا & <ہاں>";

async fn tei_and_web_annotation_exports_are_read_by_lxml_and_pyld(db: Db) {
    let kb = Kb::new(db).await;
    let doc = create_document(&kb.app, &kb.researcher, &kb.project, "Stanzas & <more>", TEI_TEXT).await;
    let husain_input = json!({"projectId": kb.project, "entityTypeId": kb.types["PERSON"], "name": "حسینؑ",
        "aliases": ["شبیر"], "externalIds": {"wikidata": "Q193236"}, "description": "the Imam"});
    let husain = kb.app.ok(Some(&kb.researcher), &create_q(), json!({"i": husain_input})).await["createKnowledgeItem"]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let karbala_input = json!({"projectId": kb.project, "entityTypeId": kb.types["LOCATION"], "name": "کربلا",
        "externalIds": {"geonames": "94824"}});
    let karbala =
        kb.app.ok(Some(&kb.researcher), &create_q(), json!({"i": karbala_input})).await["createKnowledgeItem"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let imam = kb.item_id("امام", "DESIGNATION", &["امامِ زماں"]).await;
    let mut ids = HashMap::new();
    for (needle, ty) in [
        ("امام", "DESIGNATION"),
        ("حسینؑ", "PERSON"),
        ("کربلا", "LOCATION"),
        ("عباسؑ", "PERSON"),
        ("فرات پر\n\nشبیرؑ", "LOCATION"), // runs over the stanza break: TEI cannot carry it
        ("شبیرؑ", "PERSON"),
    ] {
        ids.insert(needle, kb.entity(&doc, TEI_TEXT, needle, 0, ty).await);
    }
    for (needle, item) in [("امام", &imam), ("حسینؑ", &husain), ("کربلا", &karbala), ("شبیرؑ", &husain)]
    {
        kb.app.ok(Some(&kb.researcher), LINK, json!({"e": ids[needle], "k": item})).await;
    }
    let export = "query($d: ID!, $f: ExchangeFormat!) { exportDocument(documentId: $d, format: $f) }";
    let tei = kb.app.ok(Some(&kb.researcher), export, json!({"d": doc, "f": "TEI"})).await["exportDocument"]
        .as_str()
        .unwrap()
        .to_owned();
    let read: Value = serde_json::from_str(&common::python::run("read_tei.py", &[], &tei).stdout).unwrap();
    assert_eq!((read["root"].as_str(), read["namespace"].as_str()), (Some("TEI"), Some("http://www.tei-c.org/ns/1.0")));
    assert_eq!(read["unresolved"], json!([]), "every ref names an entry of the file");
    assert_eq!(read["duplicateIds"], json!([]));
    let d = &read["documents"][0];
    assert_eq!((d["title"].as_str(), d["lang"].as_str()), (Some("Stanzas & <more>"), Some("ur")));
    let stanzas = d["stanzas"].as_array().unwrap();
    assert_eq!(stanzas.len(), 2);
    let lines: Vec<(&str, &str, &str)> = stanzas
        .iter()
        .flat_map(|s| {
            s["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |l| (s["n"].as_str().unwrap(), l["n"].as_str().unwrap(), l["text"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(
        lines,
        [("1", "1", "امام حسینؑ کربلا میں"), ("1", "2", "عباسؑ، فرات پر"), ("2", "4", "شبیرؑ نے کہا & <ہاں>")],
        "each stanza an <lg>, each line an <l> with its own number, the text whole"
    );
    let names = |n: usize, s: usize| stanzas[s]["lines"][n]["names"].clone();
    let r = |id: &str| format!("#k-{id}");
    assert_eq!(
        names(0, 0),
        json!([
            {"tag": "name", "type": "designation", "ref": r(&imam), "text": "امام"},
            {"tag": "persName", "type": null, "ref": r(&husain), "text": "حسینؑ"},
            {"tag": "placeName", "type": null, "ref": r(&karbala), "text": "کربلا"},
        ])
    );
    assert_eq!(
        names(1, 0),
        json!([{"tag": "persName", "type": null, "ref": null, "text": "عباسؑ"}]),
        "unlinked: no ref"
    );
    assert_eq!(names(0, 1), json!([{"tag": "persName", "type": null, "ref": r(&husain), "text": "شبیرؑ"}]));
    let entry =
        |id: &str| read["entries"].as_array().unwrap().iter().find(|e| e["id"] == format!("k-{id}")).cloned().unwrap();
    let h = entry(&husain);
    assert_eq!(
        (h["kind"].as_str(), h["list"].as_str(), h["in"].as_str()),
        (Some("person"), Some("listPerson"), Some("teiHeader"))
    );
    assert_eq!(h["names"], json!([["main", "حسینؑ"], ["alias", "شبیر"]]));
    assert_eq!((h["idnos"].clone(), h["note"].as_str()), (json!({"wikidata": "Q193236"}), Some("the Imam")));
    let k = entry(&karbala);
    assert_eq!((k["kind"].as_str(), k["list"].as_str()), (Some("place"), Some("listPlace")));
    assert_eq!(k["idnos"], json!({"geonames": "94824"}));
    let i = entry(&imam);
    assert_eq!(
        (i["kind"].as_str(), i["listType"].as_str(), i["in"].as_str()),
        (Some("nym"), Some("designation"), Some("standOff"))
    );
    assert_eq!(read["entries"].as_array().unwrap().len(), 3, "only the entries this document names");

    // Web Annotation: every entity an annotation, its selectors checked against the text.
    let wa = kb.app.ok(Some(&kb.researcher), export, json!({"d": doc, "f": "WEB_ANNOTATION"})).await["exportDocument"]
        .as_str()
        .unwrap()
        .to_owned();
    let hash =
        kb.app.ok(Some(&kb.researcher), "query($d: ID!) { document(id: $d) { contentHash } }", json!({"d": doc})).await
            ["document"]["contentHash"]
            .as_str()
            .unwrap()
            .to_owned();
    let source = nishan_domain::exchange::web_annotation::document_uri(&hash);
    let input = json!({"export": serde_json::from_str::<Value>(&wa).unwrap(), "texts": {source.clone(): TEI_TEXT}});
    let read: Value =
        serde_json::from_str(&common::python::run("read_web_annotation.py", &[], &input.to_string()).stdout).unwrap();
    assert_eq!(read["failures"], json!([]), "quotes and positions agree, in code points");
    assert!(read["quads"].as_u64().unwrap() > 30, "{read}");
    assert_eq!(read["collection"]["total"], 6);
    let annotations = read["annotations"].as_array().unwrap();
    assert_eq!(annotations.len(), 6, "every entity, the one TEI leaves out too");
    let by_exact = |exact: &str| annotations.iter().find(|a| a["exact"] == exact).cloned().unwrap();
    let h = by_exact("حسینؑ");
    assert_eq!(h["motivation"], "http://www.w3.org/ns/oa#identifying");
    assert_eq!(h["body"], format!("urn:uuid:{husain}"));
    assert_eq!(h["bodyTypes"], json!(["http://schema.org/Person"]));
    assert_eq!((h["label"].as_str(), h["alternateNames"].clone()), (Some("حسینؑ"), json!(["شبیر"])));
    assert_eq!(h["sameAs"], json!(["http://www.wikidata.org/entity/Q193236"]));
    assert_eq!(
        (h["start"].as_u64(), h["end"].as_u64(), h["source"].as_str()),
        (Some(5), Some(10), Some(source.as_str()))
    );
    let k = by_exact("کربلا");
    assert_eq!(k["sameAs"], json!(["https://sws.geonames.org/94824/"]));
    let a = by_exact("عباسؑ");
    assert_eq!(
        (a["motivation"].as_str(), a["value"].as_str()),
        (Some("http://www.w3.org/ns/oa#tagging"), Some("PERSON"))
    );

    // A project: one teiCorpus, the entries listed once for all its documents.
    let second = "حسینؑ اور عباسؑ";
    let doc2 = create_document(&kb.app, &kb.researcher, &kb.project, "Second", second).await;
    let e = kb.entity(&doc2, second, "حسینؑ", 0, "PERSON").await;
    kb.app.ok(Some(&kb.researcher), LINK, json!({"e": e, "k": husain})).await;
    let project = "query($p: ID!, $f: ExchangeFormat!) { exportProject(projectId: $p, format: $f) }";
    let corpus = kb.app.ok(Some(&kb.researcher), project, json!({"p": kb.project, "f": "TEI"})).await["exportProject"]
        .as_str()
        .unwrap()
        .to_owned();
    let read: Value = serde_json::from_str(&common::python::run("read_tei.py", &[], &corpus).stdout).unwrap();
    assert_eq!(read["root"], "teiCorpus");
    assert_eq!(read["documents"].as_array().unwrap().len(), 2);
    assert_eq!(read["duplicateIds"], json!([]), "Husain, named in both documents, is listed once");
    assert_eq!(read["unresolved"], json!([]));
    assert_eq!(read["entries"].as_array().unwrap().iter().filter(|e| e["id"] == format!("k-{husain}")).count(), 1);
    let wa = kb.app.ok(Some(&kb.researcher), project, json!({"p": kb.project, "f": "WEB_ANNOTATION"})).await["exportProject"]
        .as_str()
        .unwrap()
        .to_owned();
    let hash2 = kb
        .app
        .ok(Some(&kb.researcher), "query($d: ID!) { document(id: $d) { contentHash } }", json!({"d": doc2}))
        .await["document"]["contentHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let texts = json!({source: TEI_TEXT, nishan_domain::exchange::web_annotation::document_uri(&hash2): second});
    let input = json!({"export": serde_json::from_str::<Value>(&wa).unwrap(), "texts": texts});
    let read: Value =
        serde_json::from_str(&common::python::run("read_web_annotation.py", &[], &input.to_string()).stdout).unwrap();
    assert_eq!((read["failures"].clone(), read["annotations"].as_array().unwrap().len()), (json!([]), 7));
    // Export formats only.
    let import =
        "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: TEI, data: $data) { created } }";
    let r = kb.app.gql(Some(&kb.researcher), import, json!({"d": doc, "data": tei})).await;
    assert_eq!((error_code(&r), &r["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT".into(), &json!("format")));
}

on_both_databases!(tei_and_web_annotation_exports_are_read_by_lxml_and_pyld);

const START_LINKING: &str =
    "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id kind status } }";
const PROPOSALS: &str = "query($p: ID!, $s: KnowledgeProposalStatus, $j: ID) { knowledgeProposals(projectId: $p, status: $s, jobId: $j, first: 100) { totalCount edges { node { id kind status confidence reasoning proposedName entity { id text } item { id name } sourceItem { id name } resultItem { id name aliases } entityType { name } } } } }";
const REVIEW: &str = "mutation($id: ID!, $d: ProposalDecision!) { reviewKnowledgeProposal(id: $id, decision: $d) { id status resultItem { id name } } }";

async fn proposals(kb: &Kb, job: Option<&str>) -> Vec<Value> {
    let got = kb.app.ok(Some(&kb.researcher), PROPOSALS, json!({"p": kb.project, "j": job})).await;
    got["knowledgeProposals"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

async fn finished_linking(kb: &Kb, input: Value) -> Value {
    let job = kb.app.ok(Some(&kb.researcher), START_LINKING, json!({"i": input})).await["startProcessingJob"].clone();
    assert_eq!(job["kind"], "LINKING");
    let id = job["id"].as_str().unwrap().to_owned();
    let done = common::wait_for_job(&kb.app, &kb.researcher, &id).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let q = "query($id: ID!) { processingJob(id: $id) { id status progress totalSteps completedSteps currentStep tokensUsed cost proposals { pending approved rejected total dropped } } }";
    kb.app.ok(Some(&kb.researcher), q, json!({"id": id})).await["processingJob"].clone()
}

async fn a_builtin_linking_job_proposes_and_researchers_review(db: Db) {
    let kb = Kb::new(db).await;
    let text = "حسينؑ آئے، شبیر بھی\nعلمدر فرات پر، زینبؑ\n\nزینب کربلا میں";
    let doc = create_document(&kb.app, &kb.researcher, &kb.project, "Stanza", text).await;
    let husain = kb.item_id("حسینؑ", "PERSON", &["شبیر"]).await;
    let abbas = kb.item_id("عباسؑ", "PERSON", &["علمدار"]).await;
    let twin = kb.item_id("سرور", "PERSON", &["شبیر"]).await; // shares a name with Husain
    let mut e = HashMap::new();
    for (needle, nth) in [("حسينؑ", 0), ("شبیر", 0), ("علمدر", 0), ("زینبؑ", 0), ("زینب", 1)] {
        e.insert((needle, nth), kb.entity(&doc, text, needle, nth, "PERSON").await);
    }
    // A LINKING job is a project job: a document target is refused.
    let r = kb.app.gql(Some(&kb.researcher), START_LINKING, json!({"i": {"kind": "LINKING", "documentId": doc}})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    let r = kb
        .app
        .gql(
            Some(&kb.researcher),
            START_LINKING,
            json!({"i": {"kind": "LINKING", "projectId": kb.project, "params": {"x": 1}}}),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "params", "{r}");
    let job = finished_linking(&kb, json!({"kind": "LINKING", "projectId": kb.project})).await;
    assert_eq!(
        (job["totalSteps"].as_u64(), job["progress"].as_u64()),
        (Some(2), Some(100)),
        "one document, then merges"
    );
    let all = proposals(&kb, job["id"].as_str()).await;
    let summary: Vec<(&str, Option<&str>, Option<&str>)> = all
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["entity"]["text"].as_str(), p["item"]["name"].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("LINK", Some("حسينؑ"), Some("حسینؑ")),
            ("LINK", Some("شبیر"), Some("حسینؑ")),
            ("LINK", Some("شبیر"), Some("سرور")),
            ("NEW_ALIAS", Some("علمدر"), Some("عباسؑ")),
            ("NEW_ITEM", Some("زینبؑ"), None),
            ("MERGE", None, Some("حسینؑ")),
        ],
        "{all:#?}"
    );
    assert_eq!(job["proposals"], json!({"pending": 6, "approved": 0, "rejected": 0, "total": 6, "dropped": 0}));
    assert!(
        all[0]["confidence"].as_f64().unwrap() > all[1]["confidence"].as_f64().unwrap(),
        "an ambiguous name links less surely"
    );
    assert!(all.iter().all(|p| p["status"] == "PENDING" && !p["reasoning"].as_str().unwrap().is_empty()));
    assert_eq!(all[5]["sourceItem"]["name"], "سرور");
    let id = |n: usize| all[n]["id"].as_str().unwrap().to_owned();
    // Review: a link, a new alias, a new entry (its mention linked), a merge.
    kb.app.ok(Some(&kb.researcher), REVIEW, json!({"id": id(0), "d": "APPROVE"})).await;
    let q = "query($id: ID!) { entity(id: $id) { knowledgeItem { id } } }";
    let linked = kb.app.ok(Some(&kb.researcher), q, json!({"id": e[&("حسينؑ", 0)]})).await;
    assert_eq!(linked["entity"]["knowledgeItem"]["id"], husain.as_str());
    let again = kb.app.gql(Some(&kb.owner), REVIEW, json!({"id": id(0), "d": "REJECT"})).await;
    assert_eq!(error_code(&again), "CONFLICT", "a proposal is reviewed once");
    kb.app.ok(Some(&kb.researcher), REVIEW, json!({"id": id(3), "d": "APPROVE"})).await;
    let a = kb.get(&abbas).await;
    assert_eq!((a["aliases"].clone(), a["mentionCount"].as_u64()), (json!(["علمدار", "علمدر"]), Some(1)));
    let made =
        kb.app.ok(Some(&kb.researcher), REVIEW, json!({"id": id(4), "d": "APPROVE"})).await["reviewKnowledgeProposal"]
            .clone();
    assert_eq!((made["status"].as_str(), made["resultItem"]["name"].as_str()), (Some("APPROVED"), Some("زینبؑ")));
    let zainab = made["resultItem"]["id"].as_str().unwrap().to_owned();
    assert_eq!(kb.get(&zainab).await["mentionCount"], 1);
    // Many at once: reject the ambiguous links, approve the merge, in one transaction.
    let many = "mutation($ids: [ID!]!, $d: ProposalDecision!) { reviewKnowledgeProposals(ids: $ids, decision: $d) { id status } }";
    let done = kb.app.ok(Some(&kb.researcher), many, json!({"ids": [id(1), id(2)], "d": "REJECT"})).await;
    assert_eq!(done["reviewKnowledgeProposals"].as_array().unwrap().len(), 2);
    // All or none: the pending merge first, then a link rejected already. The batch is refused
    // as stale, and the merge it made first is undone: still pending, both entries live, no
    // audit row.
    let audited = || kb.app.count("SELECT 1 FROM audit_logs WHERE action = 'knowledge_proposal.review'");
    let before = audited().await;
    let r = kb.app.gql(Some(&kb.researcher), many, json!({"ids": [id(5), id(1)], "d": "APPROVE"})).await;
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    let now = proposals(&kb, job["id"].as_str()).await;
    let status = |n: usize| now.iter().find(|p| p["id"] == id(n).as_str()).map(|p| p["status"].clone());
    assert_eq!((status(5), status(1)), (Some(json!("PENDING")), Some(json!("REJECTED"))));
    assert_eq!(kb.get(&twin).await["id"], twin.as_str(), "the merge was rolled back");
    assert_eq!(audited().await, before, "a refused batch is not audited");
    kb.app.ok(Some(&kb.researcher), REVIEW, json!({"id": id(5), "d": "APPROVE"})).await;
    let merged = kb
        .app
        .gql(Some(&kb.researcher), "query($id: ID!) { knowledgeItem(id: $id) { id name } }", json!({"id": twin}))
        .await;
    assert_eq!(merged["data"]["knowledgeItem"]["id"], husain.as_str(), "{merged}");
    let counts = "query($id: ID!) { processingJob(id: $id) { proposals { pending approved rejected } } }";
    let first = kb.app.ok(Some(&kb.researcher), counts, json!({"id": job["id"]})).await;
    assert_eq!(first["processingJob"]["proposals"], json!({"pending": 0, "approved": 4, "rejected": 2}));
    // Again: the rejected links are not proposed again; the new entry's other mention is.
    let again = finished_linking(&kb, json!({"kind": "LINKING", "projectId": kb.project})).await;
    let fresh = proposals(&kb, again["id"].as_str()).await;
    let summary: Vec<(&str, Option<&str>, Option<&str>)> = fresh
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["entity"]["text"].as_str(), p["item"]["name"].as_str()))
        .collect();
    assert_eq!(summary, [("LINK", Some("زینب"), Some("زینبؑ"))]);
    // Two reviewers approving one proposal at once: exactly one wins.
    let text2 = "عباس آئے";
    let doc2 = create_document(&kb.app, &kb.researcher, &kb.project, "Second", text2).await;
    kb.entity(&doc2, text2, "عباس", 0, "PERSON").await;
    let job2 =
        finished_linking(&kb, json!({"kind": "LINKING", "projectId": kb.project, "params": {"documentIds": [doc2]}}))
            .await;
    let fresh = proposals(&kb, job2["id"].as_str()).await;
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    let pid = fresh[0]["id"].as_str().unwrap().to_owned();
    let (a1, a2) = tokio::join!(
        kb.app.gql(Some(&kb.researcher), REVIEW, json!({"id": pid, "d": "APPROVE"})),
        kb.app.gql(Some(&kb.owner), REVIEW, json!({"id": pid, "d": "APPROVE"})),
    );
    assert_eq!([&a1, &a2].iter().filter(|r| r.get("errors").is_none()).count(), 1, "{a1} {a2}");
    // Viewers may not review.
    let (viewer, viewer_id) = kb.app.register("viewer").await;
    kb.app
        .ok(Some(&kb.owner), ADD, json!({"i": {"projectId": kb.project, "userId": viewer_id, "role": "VIEWER"}}))
        .await;
    assert_eq!(error_code(&kb.app.gql(Some(&viewer), REVIEW, json!({"id": id(1), "d": "APPROVE"})).await), "FORBIDDEN");
}

on_both_databases!(a_builtin_linking_job_proposes_and_researchers_review);

/// A language model's answer is read, repaired once when malformed, and never trusted: what
/// names no mention or entry of the project is dropped and counted; what it proposes validly
/// (a link, a new entry, a new alias, a merge of two entries no shared name ties) is kept
/// for review and, approved, does what it says.
async fn a_model_linking_job_checks_every_proposal(db: Db) {
    use common::mock_llm::{Behaviour, MockLlm};
    let kb = Kb::new(db).await;
    let mock = MockLlm::start().await;
    let input = json!({"name": "linker", "provider": "OPENAI", "modelName": "test-model", "apiKey": "sk-nishan-test-key-7f3a",
        "apiBaseUrl": mock.base_url(nishan_domain::llm::Provider::OpenAi), "timeoutSecs": 5,
        "costPer1kPromptTokens": 0.5, "costPer1kCompletionTokens": 1.5});
    let create = "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }";
    let model = kb.app.ok(Some(&kb.owner), create, json!({"i": input})).await["createLlmModel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = "شبیرؑ نے کہا، قاسم آئے، ابوالفضل بھی";
    let doc = create_document(&kb.app, &kb.researcher, &kb.project, "Stanza", text).await;
    let husain = kb.item_id("حسینؑ", "PERSON", &["شبیر"]).await;
    // Two entries for one man that share no name: only the model can see they are one.
    let abbas = kb.item_id("عباسؑ", "PERSON", &["علمدار"]).await;
    let abulfazl = kb.item_id("ابوالفضل", "PERSON", &["سقا"]).await;
    let abulfazl_mention = kb.entity(&doc, text, "ابوالفضل", 0, "PERSON").await;
    kb.app.ok(Some(&kb.researcher), LINK, json!({"e": abulfazl_mention, "k": abulfazl})).await;
    let other_project = kb.app.create_project(&kb.owner, "Elsewhere", json!({})).await;
    let i = json!({"projectId": other_project, "entityTypeId": kb.types["PERSON"], "name": "قاسم"});
    let foreign = kb.app.ok(Some(&kb.owner), &create_q(), json!({"i": i})).await["createKnowledgeItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shabbir = kb.entity(&doc, text, "شبیرؑ", 0, "PERSON").await;
    let qasim = kb.entity(&doc, text, "قاسم", 0, "PERSON").await;
    let ghost = uuid::Uuid::now_v7().to_string();
    let answer = json!({"proposals": [
        {"kind": "LINK", "mention": shabbir, "item": husain, "confidence": 0.92, "reasoning": "شبیر is a title of Husain"},
        {"kind": "NEW_ITEM", "mention": qasim, "name": "قاسمؑ", "confidence": 0.7, "reasoning": "no entry for Qasim"},
        {"kind": "NEW_ALIAS", "item": husain, "alias": "سید الشہداء", "confidence": 0.8, "reasoning": "a title of Husain"},
        {"kind": "MERGE", "item": abulfazl, "into": abbas, "confidence": 0.6, "reasoning": "Abu al-Fadl is Abbas's kunya"},
        {"kind": "LINK", "mention": qasim, "item": ghost, "confidence": 0.9, "reasoning": "an entry that does not exist"},
        {"kind": "LINK", "mention": qasim, "item": foreign, "confidence": 0.9, "reasoning": "an entry of another project"},
        {"kind": "LINK", "mention": ghost, "item": husain, "confidence": 0.9, "reasoning": "a mention that does not exist"},
        {"kind": "MERGE", "item": husain, "into": ghost, "confidence": 0.5, "reasoning": "into nothing"},
        "not a proposal"
    ]});
    mock.push_all([Behaviour::Text("I think these are the links: none".into()), Behaviour::Text(answer.to_string())]);
    let job = finished_linking(&kb, json!({"kind": "LINKING", "projectId": kb.project, "llmModelId": model})).await;
    assert_eq!(
        job["proposals"],
        json!({"pending": 4, "approved": 0, "rejected": 0, "total": 4, "dropped": 5}),
        "{job}"
    );
    assert!(job["tokensUsed"].as_i64().unwrap() > 0 && job["cost"].as_f64().unwrap() > 0.0, "{job}");
    let all = proposals(&kb, job["id"].as_str()).await;
    let summary: Vec<Value> = all
        .iter()
        .map(|p| {
            json!([
                p["kind"],
                p["status"],
                p["reasoning"],
                p["proposedName"],
                p["item"]["name"],
                p["sourceItem"]["name"],
                p["confidence"]
            ])
        })
        .collect();
    assert_eq!(
        summary,
        [
            json!(["LINK", "PENDING", "شبیر is a title of Husain", null, "حسینؑ", null, 0.92]),
            json!(["NEW_ITEM", "PENDING", "no entry for Qasim", "قاسمؑ", null, null, 0.7]),
            json!(["NEW_ALIAS", "PENDING", "a title of Husain", "سید الشہداء", "حسینؑ", null, 0.8]),
            json!(["MERGE", "PENDING", "Abu al-Fadl is Abbas's kunya", null, "عباسؑ", "ابوالفضل", 0.6]),
        ]
    );
    // The model was shown the mentions and their candidates by id, and asked again once.
    let calls = mock.requests();
    assert_eq!(calls.len(), 2, "one malformed answer, one repair request");
    let prompt = calls[0].body.to_string();
    assert!(prompt.contains(&shabbir) && prompt.contains(&husain), "{prompt}");
    assert!(calls[1].body.to_string().contains("previous answer"));
    // Approved, the model's alias is Husain's, and its merge makes Abbas one entry with both
    // entries' names and mentions, the duplicate gone but its history kept.
    kb.app.ok(Some(&kb.researcher), REVIEW, json!({"id": all[2]["id"], "d": "APPROVE"})).await;
    assert_eq!(kb.get(&husain).await["aliases"], json!(["شبیر", "سید الشہداء"]));
    kb.app.ok(Some(&kb.researcher), REVIEW, json!({"id": all[3]["id"], "d": "APPROVE"})).await;
    let q = "query($id: ID!) { knowledgeItem(id: $id) { id name aliases mentionCount versions { action details } mergedItems { id versions { action details } } } }";
    let merged = kb.app.ok(Some(&kb.researcher), q, json!({"id": abbas})).await["knowledgeItem"].clone();
    assert_eq!(merged["aliases"], json!(["علمدار", "ابوالفضل", "سقا"]), "{merged}");
    assert_eq!(merged["mentionCount"], 1);
    assert_eq!(merged["versions"][0], json!({"action": "MERGE", "details": {"mergedFrom": [abulfazl]}}));
    assert_eq!(merged["mergedItems"][0]["id"], abulfazl.as_str());
    let history = actions(&merged["mergedItems"][0]["versions"]);
    assert_eq!(history, ["MERGED_INTO", "CREATE"]);
    let q = "query($id: ID!) { entity(id: $id) { knowledgeItem { id } } }";
    let moved = kb.app.ok(Some(&kb.researcher), q, json!({"id": abulfazl_mention})).await;
    assert_eq!(moved["entity"]["knowledgeItem"]["id"], abbas.as_str(), "the mention moved");
    assert_eq!(kb.get(&abulfazl).await["id"], abbas.as_str(), "the old id names the entry it lives on in");
    let live = "query($p: ID!) { knowledgeItems(projectId: $p) { edges { node { name } } } }";
    let live = kb.app.ok(Some(&kb.researcher), live, json!({"p": kb.project})).await;
    let names: Vec<&str> = live["knowledgeItems"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["حسینؑ", "عباسؑ"], "the duplicate is no longer listed");
    // A mention deleted takes its proposals with it.
    kb.app.ok(Some(&kb.researcher), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": qasim})).await;
    let left: Vec<Value> = proposals(&kb, job["id"].as_str()).await.iter().map(|p| p["kind"].clone()).collect();
    assert_eq!(left, [json!("LINK"), json!("NEW_ALIAS"), json!("MERGE")]);
    // A model that keeps answering nonsense: the step is skipped, nothing is stored.
    mock.set_fallback(Behaviour::Text("no JSON here".into()));
    let text2 = "زینبؑ شام میں";
    let doc2 = create_document(&kb.app, &kb.researcher, &kb.project, "Second", text2).await;
    kb.entity(&doc2, text2, "زینبؑ", 0, "PERSON").await;
    let job = finished_linking(
        &kb,
        json!({"kind": "LINKING", "projectId": kb.project, "llmModelId": model, "params": {"documentIds": [doc2]}}),
    )
    .await;
    assert_eq!(job["proposals"]["total"], 0);
}

on_both_databases!(a_model_linking_job_checks_every_proposal);

/// A LINKING job is paused and cancelled as extraction is: a pause asked while a step runs
/// takes effect after that step (its proposals kept), a resumed job goes on from the next step
/// (the model is not asked about a document twice, nothing is stored twice), and a cancelled
/// one stops without its later steps.
async fn a_linking_job_pauses_resumes_and_cancels(db: Db) {
    use common::mock_llm::{Behaviour, MockLlm};
    let kb = Kb::new(db).await;
    let mock = MockLlm::start().await;
    let input = json!({"name": "linker", "provider": "OPENAI", "modelName": "test-model", "apiKey": "sk-nishan-test-key-7f3a",
        "apiBaseUrl": mock.base_url(nishan_domain::llm::Provider::OpenAi), "timeoutSecs": 20});
    let create = "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }";
    let model = kb.app.ok(Some(&kb.owner), create, json!({"i": input})).await["createLlmModel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let husain = kb.item_id("حسینؑ", "PERSON", &["شبیر"]).await;
    let (t1, t2, t3) = ("شبیرؑ نے کہا", "قاسم آئے", "زینبؑ شام میں");
    let d1 = create_document(&kb.app, &kb.researcher, &kb.project, "One", t1).await;
    let m1 = kb.entity(&d1, t1, "شبیرؑ", 0, "PERSON").await;
    let d2 = create_document(&kb.app, &kb.researcher, &kb.project, "Two", t2).await;
    let m2 = kb.entity(&d2, t2, "قاسم", 0, "PERSON").await;
    let link = json!({"proposals": [{"kind": "LINK", "mention": m1, "item": husain, "confidence": 0.9, "reasoning": "a title"}]});
    let new = json!({"proposals": [{"kind": "NEW_ITEM", "mention": m2, "name": "قاسمؑ", "confidence": 0.7, "reasoning": "no entry"}]});
    // The first answer is held long enough for the pause to arrive while its step runs.
    mock.push_all([Behaviour::delay_ms(4_000, Behaviour::Text(link.to_string())), Behaviour::Text(new.to_string())]);
    let asked = |n: usize| {
        let mock = &mock;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while mock.request_count() < n {
                assert!(std::time::Instant::now() < deadline, "the model was not asked {n} times");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    let act = |name: &str| format!("mutation($id: ID!) {{ {name}(id: $id) {{ status }} }}");
    let state = "query($id: ID!) { processingJob(id: $id) { status completedSteps totalSteps proposals { total } } }";
    let start = |params: Value| {
        let kb = &kb;
        let model = model.clone();
        async move {
            let i = json!({"kind": "LINKING", "projectId": kb.project, "llmModelId": model, "params": params});
            kb.app.ok(Some(&kb.researcher), START_LINKING, json!({"i": i})).await["startProcessingJob"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let job = start(json!({})).await;
    asked(1).await;
    kb.app.ok(Some(&kb.researcher), &act("pauseProcessingJob"), json!({"id": job})).await;
    assert_eq!(common::wait_for_job(&kb.app, &kb.researcher, &job).await["status"], "PAUSED");
    let paused = kb.app.ok(Some(&kb.researcher), state, json!({"id": job})).await["processingJob"].clone();
    assert_eq!(
        paused,
        json!({"status": "PAUSED", "completedSteps": 1, "totalSteps": 3, "proposals": {"total": 1}}),
        "paused after the step it was in, keeping its proposal"
    );
    assert_eq!(mock.request_count(), 1);
    let resumed = kb.app.ok(Some(&kb.researcher), &act("resumeProcessingJob"), json!({"id": job})).await;
    assert_eq!(resumed["resumeProcessingJob"]["status"], "QUEUED");
    assert_eq!(common::wait_for_job(&kb.app, &kb.researcher, &job).await["status"], "COMPLETED");
    let done = kb.app.ok(Some(&kb.researcher), state, json!({"id": job})).await["processingJob"].clone();
    assert_eq!(done, json!({"status": "COMPLETED", "completedSteps": 3, "totalSteps": 3, "proposals": {"total": 2}}));
    assert_eq!(mock.request_count(), 2, "the first document is not asked about again");
    let kinds: Vec<(String, String)> = proposals(&kb, Some(&job))
        .await
        .iter()
        .map(|p| (p["kind"].as_str().unwrap().to_owned(), p["entity"]["id"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(kinds, [("LINK".to_owned(), m1.clone()), ("NEW_ITEM".to_owned(), m2.clone())]);
    // Cancelled while its first step runs: that step ends, the rest never runs.
    let d3 = create_document(&kb.app, &kb.researcher, &kb.project, "Three", t3).await;
    kb.entity(&d3, t3, "زینبؑ", 0, "PERSON").await;
    mock.push(Behaviour::delay_ms(4_000, Behaviour::Text(json!({"proposals": []}).to_string())));
    let job = start(json!({"documentIds": [d3]})).await;
    asked(3).await;
    kb.app.ok(Some(&kb.researcher), &act("cancelProcessingJob"), json!({"id": job})).await;
    assert_eq!(common::wait_for_job(&kb.app, &kb.researcher, &job).await["status"], "CANCELLED");
    let cancelled = kb.app.ok(Some(&kb.researcher), state, json!({"id": job})).await["processingJob"].clone();
    assert!(cancelled["completedSteps"].as_u64().unwrap() < 2, "the last step did not run: {cancelled}");
    assert_eq!(mock.request_count(), 3);
}

on_both_databases!(a_linking_job_pauses_resumes_and_cancels);
