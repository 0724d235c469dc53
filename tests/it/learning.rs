//! The learning extractor, experiments and the review queue, through the API: a project's model
//! trained on its gold by a TRAINING job (and on its own once enough gold came in, once only
//! when researchers verify at once), stored as versions with their metrics, and used by the
//! built-in extractor; experiments running models side by side into their own layer, scored
//! against the gold with the documents kept out of what the built-in model learns from; the
//! review queue's order; who may do what.

use crate::common;

use common::mock_llm::{Behaviour, MockLlm};
use common::{Db, TestApp, create_document, entity_type_ids, error_code, wait_for_job};
use nishan_domain::llm::Provider;
use serde_json::{Value, json};

const TRAIN: &str = "mutation($p: ID!) { trainProjectModel(projectId: $p) { id kind status } }";
const LEARNED: &str = "query($id: ID!) { project(id: $id) { learnedModel { version trainedAt goldEntities goldLines precision recall f1 overlapF1 folds temperature expectedCalibrationError byType { entityType { name } precision recall f1 } reliability { lower upper count meanConfidence precision } job { id kind status } } learnedModels(first: 10) { totalCount edges { node { version goldEntities } } } } }";
const START: &str = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id } }";
const IMPORT: &str =
    "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: JSONL, data: $data) { created } }";
const EXPERIMENT: &str = "mutation($i: StartExperimentInput!) { startExperiment(input: $i) { id status results { model { id name } } documents { id } } }";
const RESULTS: &str = "query($id: ID!) { experiment(id: $id) { id status documents { id } results { model { id name llmModel { provider } } job { kind status } precision recall f1 overlapPrecision overlapRecall overlapF1 byType { entityType { name } precision recall f1 } confusion { gold predicted count } meanConfidence durationMs tokensUsed cost predictions goldEntities } } }";

/// An annotated line of `corpus/annotated/lines.jsonl`: its text and gold spans (code points,
/// type names).
struct Line {
    text: String,
    split: String,
    spans: Vec<(u32, u32, String)>,
}

fn annotated() -> Vec<Line> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/annotated/lines.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let (docs, _) = nishan_domain::exchange::inline_tags::parse(v["tagged"].as_str().unwrap());
            let d = &docs[0];
            Line {
                text: d.text.clone().unwrap(),
                split: v["split"].as_str().unwrap().to_owned(),
                spans: d.spans.iter().map(|s| (s.start as u32, s.end as u32, s.type_name.clone())).collect(),
            }
        })
        .collect()
}

/// Lines joined into one text, with their spans at offsets of that text.
fn joined(lines: &[&Line]) -> (String, Vec<(u32, u32, String)>) {
    let mut text = String::new();
    let mut spans = vec![];
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        let at = text.chars().count() as u32;
        spans.extend(l.spans.iter().map(|(s, e, t)| (at + s, at + e, t.clone())));
        text.push_str(&l.text);
    }
    (text, spans)
}

/// Imports `spans` into the document as verified entities (JSONL, one document line).
async fn import_gold(app: &TestApp, token: &str, doc: &str, text: &str, spans: &[(u32, u32, String)]) {
    let line = json!({
        "text": text,
        "label": spans.iter().map(|(s, e, t)| json!([s, e, t])).collect::<Vec<_>>(),
        "verified": spans.iter().map(|_| true).collect::<Vec<_>>(),
    });
    let created = app.ok(Some(token), IMPORT, json!({"d": doc, "data": line.to_string()})).await;
    assert_eq!(created["importEntities"]["created"], spans.len(), "{created}");
}

/// The train lines of `corpus/annotated/` as one document "Train" of the project, their spans
/// imported as verified entities; its text and gold.
async fn train_document(app: &TestApp, token: &str, project: &str) -> (String, Vec<(u32, u32, String)>) {
    let lines = annotated();
    let train: Vec<&Line> = lines.iter().filter(|l| l.split == "train").collect();
    let (text, gold) = joined(&train);
    let doc = create_document(app, token, project, "Train", &text).await;
    import_gold(app, token, &doc, &text, &gold).await;
    (text, gold)
}

/// Every entity of a document: (start, end, type name, source, confidence).
async fn entities(app: &TestApp, token: &str, doc: &str) -> Vec<(u32, u32, String, String, Option<f64>)> {
    let q = "query($id: ID!, $after: String) { document(id: $id) { entities(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { start end source confidenceScore entityType { name } } } } } }";
    let mut out = vec![];
    let mut after = Value::Null;
    loop {
        let d = app.ok(Some(token), q, json!({"id": doc, "after": after})).await;
        let page = &d["document"]["entities"];
        for e in page["edges"].as_array().unwrap() {
            let n = &e["node"];
            out.push((
                n["start"].as_u64().unwrap() as u32,
                n["end"].as_u64().unwrap() as u32,
                n["entityType"]["name"].as_str().unwrap().to_owned(),
                n["source"].as_str().unwrap().to_owned(),
                n["confidenceScore"].as_f64(),
            ));
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Exact-span F1 of predictions against gold.
fn f1(gold: &[(u32, u32, String)], predicted: &[(u32, u32, String)]) -> f64 {
    let tp = predicted.iter().filter(|p| gold.contains(p)).count() as f64;
    if tp == 0.0 {
        return 0.0;
    }
    let (p, r) = (tp / predicted.len() as f64, tp / gold.len() as f64);
    2.0 * p * r / (p + r)
}

async fn run_builtin(app: &TestApp, token: &str, doc: &str) -> Vec<(u32, u32, String, String, Option<f64>)> {
    let job = app.ok(Some(token), START, json!({"i": {"documentId": doc}})).await;
    let job = wait_for_job(app, token, job["startProcessingJob"]["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    entities(app, token, doc).await
}

async fn learned_model_is_trained_versioned_and_used_by_the_builtin_extractor(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.auto_train = false).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    let lines = annotated();
    let train: Vec<&Line> = lines.iter().filter(|l| l.split == "train").collect();
    let heldout: Vec<&Line> = lines.iter().filter(|l| l.split == "heldout").collect();
    let (train_text, train_gold) = joined(&train);
    let (held_text, held_gold) = joined(&heldout);
    // Before any gold: training fails with a message for researchers, and stores no model.
    let job = app.ok(Some(&token), TRAIN, json!({"p": project})).await["trainProjectModel"].clone();
    assert_eq!((job["kind"].as_str(), job["status"].as_str()), (Some("TRAINING"), Some("QUEUED")));
    let failed = wait_for_job(&app, &token, job["id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "FAILED");
    assert!(failed["errorMessage"].as_str().unwrap().contains("no verified entity"), "{failed}");
    assert!(app.ok(Some(&token), LEARNED, json!({"id": project})).await["project"]["learnedModel"].is_null());

    let train_doc = create_document(&app, &token, &project, "Train", &train_text).await;
    import_gold(&app, &token, &train_doc, &train_text, &train_gold).await;
    // The gazetteer alone (the verified names and the types' examples) on the held-out lines.
    let before = create_document(&app, &token, &project, "Held out", &held_text).await;
    let by_gazetteer: Vec<(u32, u32, String)> =
        run_builtin(&app, &token, &before).await.into_iter().map(|(s, e, t, _, _)| (s, e, t)).collect();
    let gazetteer_f1 = f1(&held_gold, &by_gazetteer);

    let job = app.ok(Some(&token), TRAIN, json!({"p": project})).await["trainProjectModel"]["id"].clone();
    let done = wait_for_job(&app, &token, job.as_str().unwrap()).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert!(done["currentStep"].as_str().unwrap().starts_with("model version 1"), "{done}");
    let m = app.ok(Some(&token), LEARNED, json!({"id": project})).await["project"].clone();
    let model = &m["learnedModel"];
    assert_eq!(model["version"], 1);
    assert_eq!(model["goldEntities"], train_gold.len(), "every verified entity of the project");
    assert_eq!(model["goldLines"], train.iter().filter(|l| !l.spans.is_empty()).count());
    assert_eq!(model["folds"], 5);
    assert_eq!(model["job"]["id"], job);
    for key in ["precision", "recall", "f1", "overlapF1"] {
        let v = model[key].as_f64().unwrap();
        assert!((0.3..=1.0).contains(&v), "{key} {v}");
    }
    let types: Vec<&str> =
        model["byType"].as_array().unwrap().iter().map(|t| t["entityType"]["name"].as_str().unwrap()).collect();
    assert!(types.contains(&"PERSON") && types.contains(&"DESIGNATION"), "{types:?}");
    let bins = model["reliability"].as_array().unwrap();
    assert_eq!(bins.len(), 10);
    assert!(bins.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>() > 0);
    assert!(model["expectedCalibrationError"].as_f64().unwrap() < 0.5);

    // The built-in extractor now tags with the model: better than the gazetteer on lines it
    // has not seen, with confidences of its own.
    let after = create_document(&app, &token, &project, "Held out, again", &format!("{held_text}\n")).await;
    let found = run_builtin(&app, &token, &after).await;
    assert!(found.iter().all(|(_, _, _, source, _)| source == "LLM"));
    let confidences: Vec<f64> = found.iter().map(|f| f.4.unwrap()).collect();
    assert!(confidences.iter().all(|c| (0.5..=1.0).contains(c)), "at or over the threshold");
    assert!(confidences.iter().any(|c| *c != 0.6 && *c != 0.9), "not the gazetteer's constants");
    let by_tagger: Vec<(u32, u32, String)> = found.into_iter().map(|(s, e, t, _, _)| (s, e, t)).collect();
    let tagger_f1 = f1(&held_gold, &by_tagger);
    assert!(tagger_f1 > gazetteer_f1, "tagger {tagger_f1:.3}, gazetteer {gazetteer_f1:.3}");

    // Training again makes version 2; both are listed, newest first.
    let job = app.ok(Some(&token), TRAIN, json!({"p": project})).await["trainProjectModel"]["id"].clone();
    assert_eq!(wait_for_job(&app, &token, job.as_str().unwrap()).await["status"], "COMPLETED");
    let m = app.ok(Some(&token), LEARNED, json!({"id": project})).await["project"].clone();
    assert_eq!(m["learnedModel"]["version"], 2);
    assert_eq!(m["learnedModels"]["totalCount"], 2);
    assert_eq!(m["learnedModels"]["edges"][1]["node"]["version"], 1);
}

async fn who_may_train_and_experiment(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.workers = 0;
        s.auto_train = false
    })
    .await;
    let (owner, _) = app.register("anis").await;
    let (viewer, viewer_id) = app.register("dabir").await;
    let (stranger, _) = app.register("zamir").await;
    let project = app.create_project(&owner, "Private", json!({})).await;
    let doc = create_document(&app, &owner, &project, "Stanza", "حسینؑ کربلا میں").await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { role } }";
    app.ok(Some(&owner), add, json!({"i": {"projectId": project, "userId": viewer_id, "role": "VIEWER"}})).await;
    assert_eq!(error_code(&app.gql(None, TRAIN, json!({"p": project})).await), "UNAUTHENTICATED");
    assert_eq!(error_code(&app.gql(Some(&viewer), TRAIN, json!({"p": project})).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(Some(&stranger), TRAIN, json!({"p": project})).await), "NOT_FOUND");
    let models = app.ok(Some(&owner), "{ llmModels { id provider } }", json!({})).await;
    let builtin =
        models["llmModels"].as_array().unwrap().iter().find(|m| m["provider"] == "BUILTIN").unwrap()["id"].clone();
    let input =
        |models: Value, docs: Value| json!({"i": {"projectId": project, "llmModelIds": models, "documentIds": docs}});
    assert_eq!(
        error_code(&app.gql(Some(&viewer), EXPERIMENT, input(json!([builtin]), json!([doc]))).await),
        "FORBIDDEN"
    );
    // Bounds: 1 to 10 models, 1 to 100 documents, all of the project.
    let eleven: Vec<String> = (0..11).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let too_many = app.gql(Some(&owner), EXPERIMENT, input(json!(eleven), json!([doc]))).await;
    assert_eq!(error_code(&too_many), "BAD_USER_INPUT", "{too_many}");
    let many_docs: Vec<Value> = (0..101).map(|_| json!(uuid::Uuid::new_v4().to_string())).collect();
    assert_eq!(
        error_code(&app.gql(Some(&owner), EXPERIMENT, input(json!([builtin]), json!(many_docs))).await),
        "BAD_USER_INPUT"
    );
    assert_eq!(error_code(&app.gql(Some(&owner), EXPERIMENT, input(json!([]), json!([doc]))).await), "BAD_USER_INPUT");
    let other = app.create_project(&owner, "Other", json!({})).await;
    let foreign = create_document(&app, &owner, &other, "Elsewhere", "زینبؑ").await;
    let wrong = app.gql(Some(&owner), EXPERIMENT, input(json!([builtin]), json!([foreign]))).await;
    assert_eq!(error_code(&wrong), "BAD_USER_INPUT", "{wrong}");
    let unknown =
        app.gql(Some(&owner), EXPERIMENT, input(json!([uuid::Uuid::new_v4().to_string()]), json!([doc]))).await;
    assert_eq!(error_code(&unknown), "BAD_USER_INPUT");
    // A started experiment is the project's: readable by its members, not by others.
    let started = app.ok(Some(&owner), EXPERIMENT, input(json!([builtin]), json!([doc]))).await;
    let id = started["startExperiment"]["id"].clone();
    assert_eq!(started["startExperiment"]["status"], "QUEUED");
    assert_eq!(app.ok(Some(&viewer), RESULTS, json!({"id": id})).await["experiment"]["id"], id);
    assert_eq!(error_code(&app.gql(Some(&stranger), RESULTS, json!({"id": id})).await), "NOT_FOUND");
    assert_eq!(error_code(&app.gql(None, RESULTS, json!({"id": id})).await), "NOT_FOUND");
    let list = "query($p: ID!) { experiments(projectId: $p, first: 5) { totalCount edges { node { id } } } }";
    assert_eq!(app.ok(Some(&viewer), list, json!({"p": project})).await["experiments"]["totalCount"], 1);
    assert_eq!(error_code(&app.gql(Some(&stranger), list, json!({"p": project})).await), "NOT_FOUND");
    let queue = "query($p: ID!) { reviewQueue(projectId: $p, first: 5) { totalCount } }";
    assert_eq!(error_code(&app.gql(Some(&stranger), queue, json!({"p": project})).await), "NOT_FOUND");
    // An EXPERIMENT job cannot be started but through startExperiment's input.
    let raw = json!({"i": {"projectId": project, "kind": "EXPERIMENT"}});
    assert_eq!(error_code(&app.gql(Some(&owner), START, raw).await), "BAD_USER_INPUT");
}

async fn verifying_at_once_queues_one_automatic_training(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.auto_train = true).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Auto", json!({})).await;
    let lines = annotated();
    let train: Vec<&Line> = lines.iter().filter(|l| l.split == "train").take(120).collect();
    let (text, gold) = joined(&train);
    let n = gold.len();
    assert!(n >= 30, "{n} gold spans");
    let doc = create_document(&app, &token, &project, "Lines", &text).await;
    // As unverified entities first, then verified by many requests at once.
    let line = json!({"text": text, "label": gold.iter().map(|(s, e, t)| json!([s, e, t])).collect::<Vec<_>>()});
    app.ok(Some(&token), IMPORT, json!({"d": doc, "data": line.to_string()})).await;
    let ids: Vec<String> = {
        let q = "query($id: ID!) { document(id: $id) { entities(first: 100) { edges { node { id } } } } }";
        let d = app.ok(Some(&token), q, json!({"id": doc})).await;
        d["document"]["entities"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids.len(), n);
    let verify = "mutation($ids: [ID!]!) { verifyEntities(ids: $ids) { id } }";
    let requests = ids.chunks(3).map(|chunk| app.ok(Some(&token), verify, json!({"ids": chunk})));
    futures_util::future::join_all(requests).await;
    // One TRAINING job, queued on its own, trains the first model.
    let jobs = "query($p: ID!) { processingJobs(filter: {projectId: $p, kind: TRAINING}, first: 10) { totalCount edges { node { id status params } } } }";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let job = loop {
        let list = app.ok(Some(&token), jobs, json!({"p": project})).await["processingJobs"].clone();
        if let Some(first) = list["edges"].as_array().unwrap().first() {
            break first["node"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no automatic training within 60 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(job["params"], json!({"automatic": true}));
    let done = wait_for_job(&app, &token, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let list = app.ok(Some(&token), jobs, json!({"p": project})).await["processingJobs"].clone();
    assert_eq!(list["totalCount"], 1, "researchers verifying at once queue one job: {list}");
    let model = app.ok(Some(&token), LEARNED, json!({"id": project})).await["project"]["learnedModel"].clone();
    assert_eq!(model["version"], 1);
    assert!(model["goldEntities"].as_u64().unwrap() >= 25);
    // Not due again until 25 more entities are verified since that model.
    let p = nishan_domain::ids::ProjectId(project.parse().unwrap());
    assert!(app.state.learning().train_if_due(p).await.unwrap().is_none());
}

/// Two verses with gold the mock model half finds (its lexicon: حسین عباس زینب کربلا فرات).
const VERSE_A: &str = "رو کے کہا زینب نے کربلا میں\nحسین آئے اور شمر آیا";
const VERSE_B: &str = "عباس فرات پر";

async fn experiments_compare_models_on_the_gold_without_touching_entities(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn_with(db, |s| s.auto_train = false).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Side by side", json!({})).await;
    let create = "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }";
    let model = json!({"i": {"name": "mock", "provider": "OPENAI", "modelName": "gpt-mock", "apiKey": "sk-mock-0123456789abcdefghijklmnopqrstuv", "apiBaseUrl": mock.base_url(Provider::OpenAi), "costPer1kPromptTokens": 1.0, "costPer1kCompletionTokens": 2.0}});
    let mock_id = app.ok(Some(&token), create, model).await["createLlmModel"]["id"].clone();
    let models = app.ok(Some(&token), "{ llmModels { id provider } }", json!({})).await;
    let builtin =
        models["llmModels"].as_array().unwrap().iter().find(|m| m["provider"] == "BUILTIN").unwrap()["id"].clone();
    let a = create_document(&app, &token, &project, "A", VERSE_A).await;
    let b = create_document(&app, &token, &project, "B", VERSE_B).await;
    // Gold: زینب کربلا حسین شمر, and عباس as a place (so the mock's PERSON is a confusion);
    // فرات is no gold entity (the mock's LOCATION there is spurious).
    let gold_a = vec![
        (10, 14, "PERSON".to_owned()),
        (18, 23, "LOCATION".to_owned()),
        (28, 32, "PERSON".to_owned()),
        (41, 44, "PERSON".to_owned()),
    ];
    let gold_b = vec![(0, 4, "LOCATION".to_owned())];
    import_gold(&app, &token, &a, VERSE_A, &gold_a).await;
    import_gold(&app, &token, &b, VERSE_B, &gold_b).await;
    // Gold elsewhere in the project, for the built-in model to learn from.
    let (_, gold) = train_document(&app, &token, &project).await;
    // The mock holds its first answer, so the experiment is running while a model trains.
    mock.push(Behaviour::hold(Behaviour::Lexicon));
    let started = app
        .ok(
            Some(&token),
            EXPERIMENT,
            json!({"i": {"projectId": project, "llmModelIds": [mock_id, builtin], "documentIds": [a, b]}}),
        )
        .await["startExperiment"]
        .clone();
    let id = started["id"].clone();
    let names: Vec<&str> =
        started["results"].as_array().unwrap().iter().map(|r| r["model"]["name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "mock", "results in the order asked");
    mock.wait_until_held(1).await;
    let running = app.ok(Some(&token), RESULTS, json!({"id": id})).await["experiment"]["status"].clone();
    assert_eq!(running, "RUNNING");
    let job = app.ok(Some(&token), TRAIN, json!({"p": project})).await["trainProjectModel"]["id"].clone();
    assert_eq!(wait_for_job(&app, &token, job.as_str().unwrap()).await["status"], "COMPLETED");
    let model = app.ok(Some(&token), LEARNED, json!({"id": project})).await["project"]["learnedModel"].clone();
    assert_eq!(model["goldEntities"], gold.len(), "the running experiment's documents are left out");
    mock.release();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let e = loop {
        let e = app.ok(Some(&token), RESULTS, json!({"id": id})).await["experiment"].clone();
        if e["status"] != "RUNNING" && e["status"] != "QUEUED" {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "experiment still {} after 60 s", e["status"]);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(e["status"], "COMPLETED", "{e}");
    let mock_result = &e["results"][0];
    assert_eq!(mock_result["job"]["kind"], "EXPERIMENT");
    // Predicted: زینب کربلا حسین (right), فرات (spurious), عباس as PERSON (gold: LOCATION).
    assert_eq!(mock_result["predictions"], 5);
    assert_eq!(mock_result["goldEntities"], 5);
    for key in ["precision", "recall", "f1", "overlapPrecision", "overlapRecall", "overlapF1"] {
        assert!((mock_result[key].as_f64().unwrap() - 0.6).abs() < 1e-9, "{key}: {mock_result}");
    }
    let mut confusion: Vec<(String, String, u64)> = mock_result["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["gold"].as_str().unwrap().to_owned(),
                c["predicted"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    confusion.sort();
    let expected: Vec<(String, String, u64)> = [
        ("LOCATION", "LOCATION", 1),
        ("LOCATION", "PERSON", 1),
        ("PERSON", "MISSED", 1),
        ("PERSON", "PERSON", 2),
        ("SPURIOUS", "LOCATION", 1),
    ]
    .iter()
    .map(|(g, p, n)| (g.to_string(), p.to_string(), *n))
    .collect();
    assert_eq!(confusion, expected);
    // PERSON: زینب حسین right, عباس wrong; شمر missed.
    let person =
        mock_result["byType"].as_array().unwrap().iter().find(|t| t["entityType"]["name"] == "PERSON").unwrap();
    assert!((person["precision"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9, "{person}");
    assert!((person["recall"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9, "{person}");
    assert!((mock_result["meanConfidence"].as_f64().unwrap() - 0.9).abs() < 1e-9);
    let tokens = mock_result["tokensUsed"].as_u64().unwrap();
    assert!(tokens > 0 && mock_result["cost"].as_f64().unwrap() > 0.0, "{mock_result}");
    assert!(mock_result["durationMs"].as_u64().is_some());
    // The built-in model ran too (learning from the other document only), with no model calls.
    let builtin_result = &e["results"][1];
    assert_eq!(builtin_result["model"]["llmModel"]["provider"], "BUILTIN");
    assert_eq!(builtin_result["tokensUsed"], 0);
    assert!(builtin_result["f1"].as_f64().is_some());
    // Nothing reached the researchers' layer: the documents hold their gold alone.
    let q = "query($a: ID!, $b: ID!) { a: document(id: $a) { totalEntities } b: document(id: $b) { totalEntities } }";
    let d = app.ok(Some(&token), q, json!({"a": a, "b": b})).await;
    assert_eq!((d["a"]["totalEntities"].as_u64(), d["b"]["totalEntities"].as_u64()), (Some(4), Some(1)));
    // The experiment is over: the next training learns from its documents too.
    let job = app.ok(Some(&token), TRAIN, json!({"p": project})).await["trainProjectModel"]["id"].clone();
    assert_eq!(wait_for_job(&app, &token, job.as_str().unwrap()).await["status"], "COMPLETED");
    let model = app.ok(Some(&token), LEARNED, json!({"id": project})).await["project"]["learnedModel"].clone();
    assert_eq!(model["goldEntities"], gold.len() + 5);
    let list = "query($p: ID!) { experiments(projectId: $p, first: 5) { totalCount edges { node { id status } } } }";
    let listed = app.ok(Some(&token), list, json!({"p": project})).await["experiments"].clone();
    assert_eq!((listed["totalCount"].as_u64(), &listed["edges"][0]["node"]["id"]), (Some(1), &id));
}

async fn review_queue_asks_about_the_uncertain_first(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn_with(db, |s| s.auto_train = false).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Review", json!({})).await;
    let create = "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }";
    let mut ids = vec![];
    for name in ["first", "second"] {
        let model = json!({"i": {"name": name, "provider": "OPENAI", "modelName": "gpt-mock", "apiKey": "sk-mock-0123456789abcdefghijklmnopqrstuv", "apiBaseUrl": mock.base_url(Provider::OpenAi)}});
        ids.push(app.ok(Some(&token), create, model).await["createLlmModel"]["id"].clone());
    }
    let text = "حسین زینب کربلا فرات عباس";
    let doc = create_document(&app, &token, &project, "Verse", text).await;
    let answer = |entities: Value| Behaviour::entities(json!({"entities": entities}));
    // The first model: حسین sure, زینب near the threshold (0.5), کربلا and فرات as far from it.
    mock.push(answer(json!([
        {"text": "حسین", "type": "PERSON", "confidence": 0.95},
        {"text": "زینب", "type": "PERSON", "confidence": 0.55},
        {"text": "کربلا", "type": "LOCATION", "confidence": 0.62},
        {"text": "فرات", "type": "LOCATION", "confidence": 0.62},
        {"text": "عباس", "type": "PERSON", "confidence": 0.8},
    ])));
    // The second model calls کربلا a person: that decision settles a disagreement.
    mock.push(answer(json!([{"text": "کربلا", "type": "PERSON", "confidence": 0.9}])));
    for model in &ids {
        let job = app.ok(Some(&token), START, json!({"i": {"documentId": doc, "llmModelId": model}})).await;
        assert_eq!(
            wait_for_job(&app, &token, job["startProcessingJob"]["id"].as_str().unwrap()).await["status"],
            "COMPLETED"
        );
    }
    // A verified suggestion and a researcher's own entity are no longer in question.
    let types = entity_type_ids(&app).await;
    let q = "query($id: ID!) { document(id: $id) { entities(first: 20) { edges { node { id text entityType { name } } } } } }";
    let all = app.ok(Some(&token), q, json!({"id": doc})).await;
    let abbas =
        all["document"]["entities"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["text"] == "عباس").unwrap()
            ["node"]["id"]
            .clone();
    app.ok(Some(&token), "mutation($id: ID!) { verifyEntity(id: $id) { id } }", json!({"id": abbas})).await;
    let manual = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    app.ok(Some(&token), manual, json!({"i": {"documentId": doc, "entityTypeId": types["DESIGNATION"], "start": 0, "end": 4, "confidenceScore": 0.5}})).await;
    let queue = "query($p: ID!, $d: ID, $first: Int, $after: String) { reviewQueue(projectId: $p, documentId: $d, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { text confidenceScore entityType { name } } } } }";
    let order = |v: &Value| -> Vec<(String, String)> {
        v["reviewQueue"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["node"]["text"].as_str().unwrap().to_owned(),
                    e["node"]["entityType"]["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let expected: Vec<(String, String)> = [
        ("زینب", "PERSON"),   // 0.55: nearest 0.5
        ("کربلا", "LOCATION"), // 0.62, and the second model disagrees
        ("فرات", "LOCATION"), // 0.62, no disagreement
        ("کربلا", "PERSON"),   // 0.9
        ("حسین", "PERSON"),   // 0.95
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let whole = app.ok(Some(&token), queue, json!({"p": project, "d": doc, "first": 10})).await;
    assert_eq!(whole["reviewQueue"]["totalCount"], 5);
    assert_eq!(order(&whole), expected);
    // Paged, the same order; the project's queue is the document's here.
    let first = app.ok(Some(&token), queue, json!({"p": project, "d": doc, "first": 2})).await;
    assert_eq!(order(&first), expected[..2]);
    assert_eq!(first["reviewQueue"]["pageInfo"]["hasNextPage"], true);
    let after = first["reviewQueue"]["pageInfo"]["endCursor"].clone();
    let rest = app.ok(Some(&token), queue, json!({"p": project, "d": doc, "first": 10, "after": after})).await;
    assert_eq!(order(&rest), expected[2..]);
    assert_eq!(order(&app.ok(Some(&token), queue, json!({"p": project, "first": 10})).await), expected);
    // A document of another project is not found in this one.
    let other = app.create_project(&token, "Other", json!({})).await;
    let foreign = create_document(&app, &token, &other, "Elsewhere", "زینبؑ").await;
    let wrong = app.gql(Some(&token), queue, json!({"p": project, "d": foreign, "first": 10})).await;
    assert_eq!(error_code(&wrong), "NOT_FOUND");
}

/// Once the project has a learned model, the built-in extractor tags with it, and the
/// knowledge base's approved names and aliases are still found (researchers vouched for them),
/// even an alias the gold never holds and the tagger would not find on its own.
async fn approved_aliases_are_found_by_the_learned_model_too(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.auto_train = false).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    let (train_text, _) = train_document(&app, &token, &project).await;
    let job = app.ok(Some(&token), TRAIN, json!({"p": project})).await["trainProjectModel"]["id"].clone();
    assert_eq!(wait_for_job(&app, &token, job.as_str().unwrap()).await["status"], "COMPLETED");
    // Plain words, never an entity in the gold: the tagger alone does not take them for a name.
    let alias = "صبر و رضا";
    assert!(!train_text.contains(alias));
    let text = format!("وہ {alias} کا پیکر تھا");
    let types = entity_type_ids(&app).await;
    let create = "mutation($i: CreateKnowledgeItemInput!) { createKnowledgeItem(input: $i) { id } }";
    let input = json!({"projectId": project, "entityTypeId": types["PERSON"], "name": "حسینؑ", "aliases": [alias]});
    let item = app.ok(Some(&token), create, json!({"i": input})).await["createKnowledgeItem"]["id"].clone();
    let found_by = |found: &[(u32, u32, String, String, Option<f64>)]| {
        found.iter().any(|(s, e, t, _, _)| (*s, *e, t.as_str()) == (3, 3 + alias.chars().count() as u32, "PERSON"))
    };
    // Not yet approved: only the tagger speaks.
    let doc = create_document(&app, &token, &project, "Stanza", &text).await;
    assert!(!found_by(&run_builtin(&app, &token, &doc).await), "an unapproved entry's alias is not used");
    app.ok(Some(&token), "mutation($id: ID!) { approveKnowledgeItem(id: $id) { id } }", json!({"id": item})).await;
    let doc = create_document(&app, &token, &project, "Stanza, again", &format!("{text}\n")).await;
    let found = run_builtin(&app, &token, &doc).await;
    assert!(found_by(&found), "{found:?}");
}

on_both_databases!(
    approved_aliases_are_found_by_the_learned_model_too,
    learned_model_is_trained_versioned_and_used_by_the_builtin_extractor,
    who_may_train_and_experiment,
    verifying_at_once_queues_one_automatic_training,
    experiments_compare_models_on_the_gold_without_touching_entities,
    review_queue_asks_about_the_uncertain_first,
);
