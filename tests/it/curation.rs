//! Curation (issue 12) over GraphQL: `curateDocument` merges what enough annotators agree on
//! into the curated layer and keeps the rest as conflicts; `curationConflicts` lists them with
//! every candidate; `acceptCandidate` and `leaveConflictEmpty` resolve them; running again
//! keeps the curator's decisions; the last conflict resolved finishes the curation and raises
//! `curation.finished`; concurrent curations merge once and concurrent acceptances of one
//! conflict resolve it once.

use crate::common;

use common::receiver::Receiver;
use common::team::Team;
use common::{Db, TestApp, error_code};
use serde_json::{Value, json};

/// حسینؑ 0..5, ابن 6..9, علیؑ 10..14, کربلا 15..20, میں 21..24, عباسؑ 25..30.
const TEXT: &str = "حسینؑ ابن علیؑ کربلا میں عباسؑ";

const CURATE: &str = "mutation($d: ID!, $s: CurationStrategyInput) { curateDocument(documentId: $d, strategy: $s) { merged conflicts state entities { id text } } }";
const CONFLICTS: &str = "query($d: ID!) { curationConflicts(documentId: $d) { start end candidates { entity { id } annotator { id } modelId entityType { name } start end text } } }";
const ACCEPT: &str =
    "mutation($d: ID!, $e: ID!) { acceptCandidate(documentId: $d, entityId: $e) { id text start end } }";
const EMPTY: &str = "mutation($d: ID!, $s: Int!, $e: Int!) { leaveConflictEmpty(documentId: $d, start: $s, end: $e) { state openConflicts resolvedConflicts } }";
const STATE: &str = "query($d: ID!) { documentCuration(documentId: $d) { state minVotes merged openConflicts resolvedConflicts curatedBy { username } startedAt finishedAt } }";
const FINISH: &str = "mutation($id: ID!) { finishAssignment(id: $id) { state } }";
const HOOK: &str = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } } }";

/// An INDEPENDENT team of three annotators and a viewer, the document assigned to all three.
async fn curating(app: TestApp) -> (Team, Vec<Value>) {
    let t = Team::spawn_on(app, "Curation", TEXT, &["dabir", "mir", "ghalib"], &["zauq"]).await;
    t.mode("INDEPENDENT").await;
    let ids: Vec<&str> = t.annotators.iter().map(|a| a.1.as_str()).collect();
    let made = t.assign(&[&t.doc], &ids, None).await;
    (t, made)
}

fn created(v: &Value) -> String {
    assert!(v.get("errors").is_none(), "{v}");
    v["data"]["createEntity"]["id"].as_str().unwrap().to_owned()
}

async fn finish_all(t: &Team, made: &[Value]) {
    for a in made {
        let token = &t.annotators.iter().find(|m| a["annotator"]["id"] == m.1.as_str()).unwrap().0;
        let done = t.app.ok(Some(token), FINISH, json!({"id": a["id"]})).await;
        assert_eq!(done["finishAssignment"]["state"], "FINISHED");
    }
}

async fn curated_texts(t: &Team) -> Vec<String> {
    let (total, texts, count) = t.read(&t.viewers[0].0, Value::Null).await;
    assert_eq!((total, count), (texts.len() as u64, texts.len() as u64), "the counts are the curated layer's");
    texts
}

async fn curation_merges_what_annotators_agree_on_and_the_curator_resolves_the_rest(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.outbound.allow_private_addresses = true;
        s.outbound.webhook_poll_ms = 20;
        s.outbound.webhook_senders = 1;
    })
    .await;
    let t = Team::spawn_on(app, "Curation", TEXT, &["dabir", "mir", "ghalib"], &["zauq"]).await;
    let (a, b, c) = (t.annotators[0].clone(), t.annotators[1].clone(), t.annotators[2].clone());
    let viewer = t.viewers[0].clone();
    let curate = |token: &str, votes: i64| {
        let (app, token, doc) = (&t.app, token.to_owned(), t.doc.clone());
        async move { app.gql(Some(&token), CURATE, json!({"d": doc, "s": {"minVotes": votes}})).await }
    };
    // A SHARED project has nothing to curate.
    assert_eq!(error_code(&curate(&t.owner, 2).await), "BAD_USER_INPUT");
    t.mode("INDEPENDENT").await;
    let ids: Vec<&str> = t.annotators.iter().map(|m| m.1.as_str()).collect();
    let made = t.assign(&[&t.doc], &ids, None).await;
    let receiver = Receiver::start().await;
    t.app
        .ok(
            Some(&t.owner),
            HOOK,
            json!({"i": {"projectId": t.project, "url": receiver.url, "events": ["curation.finished"]}}),
        )
        .await;
    let (loc, person) = (common::entity_type_ids(&t.app).await["LOCATION"].clone(), t.person.clone());
    // All three mark حسینؑ a PERSON; a and b type کربلا differently; only a marks عباسؑ, only b علیؑ.
    for m in [&a, &b, &c] {
        created(&t.mark_as(&m.0, &t.doc, &person, 0, 5).await);
    }
    let a_karbala = created(&t.mark_as(&a.0, &t.doc, &loc, 15, 20).await);
    let b_karbala = created(&t.mark_as(&b.0, &t.doc, &person, 15, 20).await);
    let a_abbas = created(&t.mark_as(&a.0, &t.doc, &person, 25, 30).await);
    created(&t.mark_as(&b.0, &t.doc, &person, 10, 14).await);
    // Nothing is FINISHED yet: nothing to curate (unless unfinished layers are asked for).
    assert_eq!(error_code(&curate(&t.owner, 2).await), "CONFLICT");
    finish_all(&t, &made).await;
    // Only managers curate; a stranger does not see the document.
    assert_eq!(error_code(&curate(&a.0, 2).await), "FORBIDDEN");
    let (stranger, _) = t.app.register("stranger").await;
    assert_eq!(error_code(&curate(&stranger, 2).await), "NOT_FOUND");
    assert_eq!(error_code(&curate(&t.owner, 0).await), "BAD_USER_INPUT");
    let not_started = t.app.ok(Some(&viewer.0), STATE, json!({"d": t.doc})).await;
    assert_eq!(not_started["documentCuration"]["state"], "NOT_STARTED");
    assert_eq!(t.app.ok(Some(&t.owner), CONFLICTS, json!({"d": t.doc})).await["curationConflicts"], json!([]));

    let first = curate(&t.owner, 2).await;
    let r = &first["data"]["curateDocument"];
    assert_eq!(
        (r["merged"].as_u64(), r["conflicts"].as_u64(), r["state"].as_str()),
        (Some(1), Some(3), Some("IN_PROGRESS")),
        "{first}"
    );
    assert_eq!(r["entities"][0]["text"], "حسینؑ");
    assert_eq!(curated_texts(&t).await, ["حسینؑ"]);
    // The conflicts, in reading order, with who proposed what.
    let conflicts = t.app.ok(Some(&t.owner), CONFLICTS, json!({"d": t.doc})).await["curationConflicts"].clone();
    let at: Vec<(u64, u64)> = conflicts
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["start"].as_u64().unwrap(), c["end"].as_u64().unwrap()))
        .collect();
    assert_eq!(at, [(10, 14), (15, 20), (25, 30)]);
    let karbala: Vec<(String, String, String)> = conflicts[1]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["annotator"]["id"].as_str().unwrap().to_owned(),
                k["entityType"]["name"].as_str().unwrap().to_owned(),
                k["entity"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut want = vec![
        (a.1.clone(), "LOCATION".to_owned(), a_karbala.clone()),
        (b.1.clone(), "PERSON".to_owned(), b_karbala.clone()),
    ];
    want.sort();
    let mut got = karbala.clone();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(conflicts[1]["candidates"][0]["text"], "کربلا");
    // Only managers see the conflicts.
    for token in [&a.0, &viewer.0] {
        assert_eq!(error_code(&t.app.gql(Some(token), CONFLICTS, json!({"d": t.doc})).await), "FORBIDDEN");
    }

    // The curator takes b's PERSON at کربلا: a copy goes into the gold; the conflict is gone.
    assert_eq!(error_code(&t.app.gql(Some(&a.0), ACCEPT, json!({"d": t.doc, "e": b_karbala})).await), "FORBIDDEN");
    let random = uuid::Uuid::now_v7().to_string();
    assert_eq!(error_code(&t.app.gql(Some(&t.owner), ACCEPT, json!({"d": t.doc, "e": random})).await), "NOT_FOUND");
    let gold = t.app.ok(Some(&t.owner), ACCEPT, json!({"d": t.doc, "e": b_karbala})).await["acceptCandidate"].clone();
    assert_eq!(
        (gold["text"].as_str(), gold["start"].as_u64(), gold["end"].as_u64()),
        (Some("کربلا"), Some(15), Some(20))
    );
    assert_ne!(gold["id"], json!(b_karbala), "the gold holds a copy");
    // Resolved: neither candidate is taken again.
    for e in [&b_karbala, &a_karbala] {
        assert_eq!(error_code(&t.app.gql(Some(&t.owner), ACCEPT, json!({"d": t.doc, "e": e})).await), "CONFLICT");
    }
    // علیؑ stays empty; asking for a position that is no conflict is CONFLICT.
    assert_eq!(error_code(&t.app.gql(Some(&t.owner), EMPTY, json!({"d": t.doc, "s": 10, "e": 13})).await), "CONFLICT");
    let left =
        t.app.ok(Some(&t.owner), EMPTY, json!({"d": t.doc, "s": 10, "e": 14})).await["leaveConflictEmpty"].clone();
    assert_eq!(left, json!({"state": "IN_PROGRESS", "openConflicts": 1, "resolvedConflicts": 2}));
    // Running again keeps what the curator decided: one conflict left, nothing merged.
    let again = curate(&t.owner, 2).await;
    assert_eq!(again["data"]["curateDocument"]["merged"], 0, "{again}");
    assert_eq!(again["data"]["curateDocument"]["conflicts"], 1);
    let left = t.app.ok(Some(&t.owner), CONFLICTS, json!({"d": t.doc})).await["curationConflicts"].clone();
    assert_eq!((left[0]["start"].as_u64(), left.as_array().unwrap().len()), (Some(25), 1));
    assert!(receiver.received().is_empty(), "no curation finished yet");
    // The last conflict resolved finishes the curation.
    t.app.ok(Some(&t.owner), ACCEPT, json!({"d": t.doc, "e": a_abbas})).await;
    assert_eq!(curated_texts(&t).await, ["حسینؑ", "کربلا", "عباسؑ"]);
    let done = t.app.ok(Some(&viewer.0), STATE, json!({"d": t.doc})).await["documentCuration"].clone();
    assert_eq!(
        (&done["state"], &done["minVotes"], &done["merged"], &done["openConflicts"], &done["resolvedConflicts"]),
        (&json!("FINISHED"), &json!(2), &json!(1), &json!(0), &json!(3))
    );
    assert_eq!(done["curatedBy"]["username"], "anis");
    assert!(done["finishedAt"].is_string() && done["startedAt"].is_string());
    // `curation.finished` reaches the webhook, once.
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].event(), "curation.finished");
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["data"]["resourceId"], json!(t.doc), "{body}");
    // Every step is audited.
    let audit = "query($p: ID!) { auditLog(filter: {projectId: $p, resourceTypes: [\"document\"]}, first: 50) { edges { node { action changes } } } }";
    let logs = t.app.ok(Some(&t.owner), audit, json!({"p": t.project})).await;
    let mut actions: Vec<String> = logs["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap().to_owned())
        .filter(|a| a.starts_with("curation."))
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "curation.accept_candidate",
            "curation.accept_candidate",
            "curation.curate",
            "curation.curate",
            "curation.finish",
            "curation.leave_empty"
        ]
    );
    assert_eq!(receiver.received().len(), 1);
}

/// Many `curateDocument` at once on one document: one run merges, the others find it merged;
/// the gold holds each span once, the document one curation record. Then many acceptances of
/// the candidates of one conflict at once: one wins, the others are CONFLICT.
async fn concurrent_curations_merge_once_and_a_conflict_is_resolved_once(db: Db) {
    let (t, made) = curating(TestApp::spawn(db).await).await;
    let (a, b) = (t.annotators[0].clone(), t.annotators[1].clone());
    let agreed = [(0, 5), (10, 14), (25, 30)];
    for m in &t.annotators {
        for (s, e) in agreed {
            created(&t.mark_as(&m.0, &t.doc, &t.person, s, e).await);
        }
    }
    let loc = common::entity_type_ids(&t.app).await["LOCATION"].clone();
    let a_karbala = created(&t.mark_as(&a.0, &t.doc, &loc, 15, 20).await);
    let b_karbala = created(&t.mark_as(&b.0, &t.doc, &t.person, 15, 20).await);
    finish_all(&t, &made).await;
    let runs = futures_util::future::join_all(
        (0..8).map(|_| t.app.gql(Some(&t.owner), CURATE, json!({"d": t.doc, "s": {"minVotes": 2}}))),
    )
    .await;
    let mut merged = Vec::new();
    for r in &runs {
        assert!(r.get("errors").is_none(), "{r}");
        assert_eq!(r["data"]["curateDocument"]["conflicts"], 1, "{r}");
        merged.push(r["data"]["curateDocument"]["merged"].as_u64().unwrap());
    }
    merged.sort();
    assert_eq!(merged, [0, 0, 0, 0, 0, 0, 0, 3]);
    assert_eq!(curated_texts(&t).await, ["حسینؑ", "علیؑ", "عباسؑ"]);
    assert_eq!(t.app.count("SELECT document_id FROM curations").await, 1);
    assert_eq!(t.app.count("SELECT id FROM entities WHERE layer = 'curated'").await, 3);
    // Both candidates of the one conflict, three times each, at once.
    let picks: Vec<&String> = [&a_karbala, &b_karbala].into_iter().cycle().take(6).collect();
    let accepts = futures_util::future::join_all(
        picks.iter().map(|e| t.app.gql(Some(&t.owner), ACCEPT, json!({"d": t.doc, "e": e}))),
    )
    .await;
    let mut won = 0;
    for r in &accepts {
        if r.get("errors").is_none() {
            won += 1;
        } else {
            assert_eq!(error_code(r), "CONFLICT", "{r}");
        }
    }
    assert_eq!(won, 1);
    assert_eq!(curated_texts(&t).await, ["حسینؑ", "علیؑ", "کربلا", "عباسؑ"]);
    assert_eq!(t.app.count("SELECT id FROM curation_decisions").await, 1);
    let done = t.app.ok(Some(&t.owner), STATE, json!({"d": t.doc})).await;
    assert_eq!(done["documentCuration"]["state"], "FINISHED");
}

const FEEDBACK: &str = "query($d: ID!, $a: ID) { curationFeedback(documentId: $d, annotatorId: $a) { kind gold { text start end entityType { name } } yours { text start end entityType { name } } } }";

/// `(kind, gold's text and type, yours' text and type)` of each place of a feedback.
fn places(v: &Value) -> Vec<(String, String, String)> {
    let side = |s: &Value| match s.is_null() {
        true => String::new(),
        false => format!("{} {}", s["text"].as_str().unwrap(), s["entityType"]["name"].as_str().unwrap()),
    };
    assert!(v.get("errors").is_none(), "{v}");
    v["data"]["curationFeedback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_owned(), side(&f["gold"]), side(&f["yours"])))
        .collect()
}

/// After curation each annotator sees where their layer differed from the gold, in reading
/// order (MISSED, EXTRA, WRONG_TYPE); a manager sees anyone's; another annotator's is
/// FORBIDDEN, as it is to a viewer; before the curation has finished there is none (CONFLICT).
async fn annotators_see_where_they_differed_from_the_gold(db: Db) {
    let (t, made) = curating(TestApp::spawn(db).await).await;
    let (a, b, c) = (t.annotators[0].clone(), t.annotators[1].clone(), t.annotators[2].clone());
    let (loc, person) = (common::entity_type_ids(&t.app).await["LOCATION"].clone(), t.person.clone());
    for m in [&a, &b, &c] {
        created(&t.mark_as(&m.0, &t.doc, &person, 0, 5).await);
    }
    for m in [&a, &c] {
        created(&t.mark_as(&m.0, &t.doc, &loc, 15, 20).await);
    }
    created(&t.mark_as(&b.0, &t.doc, &person, 15, 20).await);
    let abbas = created(&t.mark_as(&a.0, &t.doc, &person, 25, 30).await);
    created(&t.mark_as(&b.0, &t.doc, &person, 6, 14).await);
    finish_all(&t, &made).await;
    let feedback = |token: &str, annotator: Option<&str>| {
        let (app, token, doc) = (&t.app, token.to_owned(), t.doc.clone());
        let vars = json!({"d": doc, "a": annotator});
        async move { app.gql(Some(&token), FEEDBACK, vars).await }
    };
    assert_eq!(error_code(&feedback(&b.0, None).await), "CONFLICT", "nothing curated yet");
    let r = t.app.ok(Some(&t.owner), CURATE, json!({"d": t.doc, "s": {"minVotes": 2}})).await;
    assert_eq!((&r["curateDocument"]["merged"], &r["curateDocument"]["conflicts"]), (&json!(2), &json!(2)), "{r}");
    assert_eq!(error_code(&feedback(&b.0, None).await), "CONFLICT", "the curation is not finished");
    t.app.ok(Some(&t.owner), ACCEPT, json!({"d": t.doc, "e": abbas})).await;
    t.app.ok(Some(&t.owner), EMPTY, json!({"d": t.doc, "s": 6, "e": 14})).await;
    assert_eq!(curated_texts(&t).await, ["حسینؑ", "کربلا", "عباسؑ"]);

    let s = |kind: &str, gold: &str, yours: &str| (kind.to_owned(), gold.to_owned(), yours.to_owned());
    let of_b = vec![
        s("EXTRA", "", "ابن علیؑ PERSON"),
        s("WRONG_TYPE", "کربلا LOCATION", "کربلا PERSON"),
        s("MISSED", "عباسؑ PERSON", ""),
    ];
    assert_eq!(places(&feedback(&a.0, None).await), vec![], "a agreed with the gold everywhere");
    assert_eq!(places(&feedback(&b.0, None).await), of_b);
    assert_eq!(places(&feedback(&c.0, None).await), vec![s("MISSED", "عباسؑ PERSON", "")]);
    assert_eq!(places(&feedback(&t.owner, Some(&b.1)).await), of_b, "a manager reads anyone's");
    assert_eq!(places(&feedback(&b.0, Some(&b.1)).await), of_b);
    assert_eq!(error_code(&feedback(&b.0, Some(&a.1)).await), "FORBIDDEN");
    assert_eq!(error_code(&feedback(&t.viewers[0].0, None).await), "FORBIDDEN");
    let (stranger, _) = t.app.register("stranger").await;
    assert_eq!(error_code(&feedback(&stranger, None).await), "NOT_FOUND");
    assert_eq!(error_code(&t.app.gql(None, FEEDBACK, json!({"d": t.doc})).await), "NOT_FOUND");
}

/// A curator may edit the curated layer directly: a conflict that a curated entity now
/// overlaps is no longer listed, and the next `curateDocument` finds nothing left and finishes.
async fn a_direct_edit_of_the_gold_resolves_its_conflict(db: Db) {
    let (t, made) = curating(TestApp::spawn(db).await).await;
    let (a, b, c) = (t.annotators[0].clone(), t.annotators[1].clone(), t.annotators[2].clone());
    let (loc, person) = (common::entity_type_ids(&t.app).await["LOCATION"].clone(), t.person.clone());
    for m in [&b, &c] {
        created(&t.mark_as(&m.0, &t.doc, &person, 0, 5).await);
    }
    created(&t.mark_as(&a.0, &t.doc, &person, 25, 30).await);
    finish_all(&t, &made).await;
    let r = t.app.ok(Some(&t.owner), CURATE, json!({"d": t.doc, "s": {"minVotes": 2}})).await;
    assert_eq!((&r["curateDocument"]["merged"], &r["curateDocument"]["conflicts"]), (&json!(1), &json!(1)), "{r}");
    let open = t.app.ok(Some(&t.owner), CONFLICTS, json!({"d": t.doc})).await["curationConflicts"].clone();
    assert_eq!((open[0]["start"].as_u64(), open[0]["end"].as_u64()), (Some(25), Some(30)));
    // The curator marks عباسؑ in the gold, as a LOCATION of their own choosing, over the conflict.
    let create = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id text } }";
    let input = json!({"documentId": t.doc, "entityTypeId": loc, "start": 25, "end": 30, "layer": {"curated": true}});
    t.app.ok(Some(&t.owner), create, json!({"i": input})).await;
    let open = t.app.ok(Some(&t.owner), CONFLICTS, json!({"d": t.doc})).await["curationConflicts"].clone();
    assert_eq!(open, json!([]), "the curated entity settles the place");
    let again = t.app.ok(Some(&t.owner), CURATE, json!({"d": t.doc, "s": {"minVotes": 2}})).await;
    assert_eq!(
        (&again["curateDocument"]["merged"], &again["curateDocument"]["conflicts"], &again["curateDocument"]["state"]),
        (&json!(0), &json!(0), &json!("FINISHED")),
        "{again}"
    );
    assert_eq!(curated_texts(&t).await, ["حسینؑ", "عباسؑ"]);
}

on_both_databases!(
    a_direct_edit_of_the_gold_resolves_its_conflict,
    annotators_see_where_they_differed_from_the_gold,
    curation_merges_what_annotators_agree_on_and_the_curator_resolves_the_rest,
    concurrent_curations_merge_once_and_a_conflict_is_resolved_once,
);
