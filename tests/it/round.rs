//! A whole round of annotation (issue 12) over GraphQL, as the README's "A round of
//! annotation" walks it: three annotators, every document spread to two of them; each marks
//! their layer and finishes; the agreement equals the `krippendorff` package's on the same
//! layers; each document is curated (by default `minVotes` 2), its conflicts resolved by
//! `acceptCandidate`; the export (the curated layer) holds exactly the gold, and a webhook
//! receiver hears `curation.finished` once per document.

use std::collections::{BTreeMap, BTreeSet};

use crate::common;

use common::receiver::Receiver;
use common::team::Team;
use common::{Db, TestApp, create_document, entity_type_ids};
use nishan_domain::rounds::agreement::word_units;
use serde_json::{Value, json};

const TEXTS: [&str; 3] = [
    "حسینؑ ابن علیؑ کربلا میں عباسؑ کے ساتھ فرات پر",
    "زینبؑ شام میں دربار یزید کے سامنے کھڑی تھیں",
    "قاسمؑ عونؑ محمدؑ علی اکبرؑ اور علی اصغرؑ کربلا میں",
];

const MINE: &str =
    "query($p: ID!) { myAssignments(projectId: $p, first: 10) { edges { node { id document { id content } } } } }";
const FINISH: &str = "mutation($id: ID!) { finishAssignment(id: $id) { state } }";
const AGREEMENT: &str = "query($i: AgreementInput!) { agreement(input: $i) { krippendorffAlpha unitsCompared byDocument { krippendorffAlpha } } }";
const CURATE: &str =
    "mutation($d: ID!) { curateDocument(documentId: $d) { merged conflicts state } }";
const CONFLICTS: &str = "query($d: ID!) { curationConflicts(documentId: $d) { start end candidates { entity { id } annotator { id } entityType { name } start end } } }";
const ACCEPT: &str =
    "mutation($d: ID!, $e: ID!) { acceptCandidate(documentId: $d, entityId: $e) { start end entityType { name } } }";
const EXPORT: &str = "query($d: ID!) { exportDocument(documentId: $d, format: JSONL) }";
const HOOK: &str = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } } }";

/// What annotator `k` marks in a text: every other word, PERSON and LOCATION in turn, but
/// each annotator leaves out some words and retypes some (a deterministic rule: any two of
/// the three agree on one or two words of every text, and differ on the others).
fn marks_of(k: usize, content: &str) -> Vec<(u32, u32, &'static str)> {
    word_units(content)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i.is_multiple_of(2) && !(i * 7 + k).is_multiple_of(5))
        .map(|(i, (s, e))| {
            let person = (i / 2).is_multiple_of(2);
            let retyped = (i / 2 + k).is_multiple_of(4);
            (s, e, if person != retyped { "PERSON" } else { "LOCATION" })
        })
        .collect()
}

async fn a_whole_round_ends_in_the_gold(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.outbound.allow_private_addresses = true;
        s.outbound.webhook_poll_ms = 20;
        s.outbound.webhook_senders = 1;
    })
    .await;
    let t = Team::spawn_on(app, "Round", TEXTS[0], &["dabir", "mir", "ghalib"], &[]).await;
    let mut docs = vec![t.doc.clone()];
    for (n, text) in TEXTS.iter().enumerate().skip(1) {
        docs.push(create_document(&t.app, &t.owner, &t.project, &format!("Marsiya {n}"), text).await);
    }
    let types = entity_type_ids(&t.app).await;
    let receiver = Receiver::start().await;
    let hook = json!({"i": {"projectId": t.project, "url": receiver.url, "events": ["curation.finished"]}});
    t.app.ok(Some(&t.owner), HOOK, hook).await;

    // Assign: every document to two of the three, balanced.
    t.mode("INDEPENDENT").await;
    let doc_ids: Vec<&str> = docs.iter().map(String::as_str).collect();
    let annotator_ids: Vec<&str> = t.annotators.iter().map(|a| a.1.as_str()).collect();
    let made = t.assign(&doc_ids, &annotator_ids, Some(2)).await;
    assert_eq!(made.len(), 6);

    // Each annotator marks their documents and finishes them; what they marked is kept for
    // the reference.
    let mut layers: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    let mut contents: BTreeMap<String, String> = BTreeMap::new();
    for (k, (token, user)) in t.annotators.iter().enumerate() {
        let mine = t.app.ok(Some(token), MINE, json!({"p": t.project})).await;
        let mine = mine["myAssignments"]["edges"].as_array().unwrap().clone();
        assert_eq!(mine.len(), 2, "balanced: two documents each");
        for a in mine {
            let doc = a["node"]["document"]["id"].as_str().unwrap().to_owned();
            let content = a["node"]["document"]["content"].as_str().unwrap().to_owned();
            let mut marked = Vec::new();
            for (s, e, ty) in marks_of(k, &content) {
                let r = t.mark_as(token, &doc, &types[ty], s, e).await;
                assert!(r.get("errors").is_none(), "{r}");
                marked.push(json!([s, e, types[ty]]));
            }
            layers.entry(doc.clone()).or_default().insert(format!("annotator:{user}"), Value::Array(marked));
            contents.insert(doc, content);
            let done = t.app.ok(Some(token), FINISH, json!({"id": a["node"]["id"]})).await;
            assert_eq!(done["finishAssignment"]["state"], "FINISHED");
        }
    }

    // Agreement: ours equals the `krippendorff` package's over the same words and layers.
    let mut raters: Vec<String> = t.annotators.iter().map(|a| format!("annotator:{}", a.1)).collect();
    raters.sort();
    let documents: Vec<Value> = layers
        .iter()
        .map(|(doc, l)| {
            let content = &contents[doc];
            json!({
                "length": content.chars().count(),
                "words": word_units(content).iter().map(|w| [w.0, w.1]).collect::<Vec<_>>(),
                "layers": l,
            })
        })
        .collect();
    let input = json!({"raters": raters, "documents": documents});
    let out = common::python::run("agreement_reference.py", &[], &input.to_string());
    let theirs: Value = serde_json::from_str(&out.stdout).unwrap();
    let ours = t.app.ok(Some(&t.owner), AGREEMENT, json!({"i": {"projectId": t.project}})).await["agreement"].clone();
    let (a, b) = (ours["krippendorffAlpha"].as_f64().expect("alpha"), theirs["alpha"].as_f64().expect("alpha"));
    assert!((a - b).abs() < 1e-9, "Krippendorff's alpha: ours {a}, the package's {b}");
    let words: usize = contents.values().map(|c| word_units(c).len()).sum();
    assert_eq!(ours["unitsCompared"].as_u64(), Some(words as u64));
    for (o, t) in ours["byDocument"].as_array().unwrap().iter().zip(theirs["byDocument"].as_array().unwrap()) {
        match (o["krippendorffAlpha"].as_f64(), t.as_f64()) {
            (Some(x), Some(y)) => assert!((x - y).abs() < 1e-9, "document alpha {x} / {y}"),
            (x, y) => assert_eq!(x, y),
        }
    }

    // Curation: what both annotators of a document agree on is merged; the curator takes the
    // first candidate of every conflict. The gold is what was merged and what was accepted.
    let mut gold: BTreeMap<String, BTreeSet<(u64, u64, String)>> = BTreeMap::new();
    for doc in &docs {
        let run = t.app.ok(Some(&t.owner), CURATE, json!({"d": doc})).await["curateDocument"].clone();
        let conflicts = t.app.ok(Some(&t.owner), CONFLICTS, json!({"d": doc})).await["curationConflicts"].clone();
        assert_eq!(run["conflicts"].as_u64(), Some(conflicts.as_array().unwrap().len() as u64));
        assert!(run["merged"].as_u64().unwrap() > 0, "{run} {conflicts} {}", json!(layers[doc]));
        // Merged: the spans both layers hold with one type.
        let mut expected: BTreeSet<(u64, u64, String)> = BTreeSet::new();
        let by_layer: Vec<BTreeSet<(u64, u64, String)>> = layers[doc]
            .values()
            .map(|spans| {
                spans
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| (s[0].as_u64().unwrap(), s[1].as_u64().unwrap(), s[2].as_str().unwrap().to_owned()))
                    .collect()
            })
            .collect();
        assert_eq!(by_layer.len(), 2);
        for s in by_layer[0].intersection(&by_layer[1]) {
            expected.insert(s.clone());
        }
        assert_eq!(run["merged"].as_u64(), Some(expected.len() as u64), "{run}");
        for c in conflicts.as_array().unwrap() {
            let pick = &c["candidates"][0];
            assert!(pick["annotator"]["id"].is_string(), "{c}");
            let took = t.app.ok(Some(&t.owner), ACCEPT, json!({"d": doc, "e": pick["entity"]["id"]})).await;
            let took = &took["acceptCandidate"];
            assert_eq!((&took["start"], &took["end"]), (&pick["start"], &pick["end"]));
            let type_id = types[took["entityType"]["name"].as_str().unwrap()].clone();
            expected.insert((took["start"].as_u64().unwrap(), took["end"].as_u64().unwrap(), type_id));
        }
        let left = t.app.ok(Some(&t.owner), CONFLICTS, json!({"d": doc})).await["curationConflicts"].clone();
        assert_eq!(left, json!([]), "every conflict resolved");
        gold.insert(doc.clone(), expected);
    }

    // The export reads the curated layer: it holds exactly the gold.
    let names: BTreeMap<String, String> = types.iter().map(|(n, id)| (id.clone(), n.clone())).collect();
    for doc in &docs {
        let line =
            t.app.ok(Some(&t.owner), EXPORT, json!({"d": doc})).await["exportDocument"].as_str().unwrap().to_owned();
        let record: Value = serde_json::from_str(line.trim()).unwrap();
        let exported: BTreeSet<(u64, u64, String)> = record["label"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l[0].as_u64().unwrap(), l[1].as_u64().unwrap(), l[2].as_str().unwrap().to_owned()))
            .collect();
        let want: BTreeSet<(u64, u64, String)> =
            gold[doc].iter().map(|(s, e, ty)| (*s, *e, names[ty].clone())).collect();
        assert_eq!(exported, want, "the export of {doc}");
    }

    // Each document's curation finished, and the webhook heard each once.
    let got = receiver.wait_for(3).await;
    let mut heard: Vec<String> = got
        .iter()
        .map(|r| {
            assert_eq!(r.event(), "curation.finished");
            let body: Value = serde_json::from_str(&r.body).unwrap();
            body["data"]["resourceId"].as_str().unwrap().to_owned()
        })
        .collect();
    heard.sort();
    let mut want = docs.clone();
    want.sort();
    assert_eq!(heard, want);
}

on_both_databases!(a_whole_round_ends_in_the_gold);
