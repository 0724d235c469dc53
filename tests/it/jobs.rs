//! Processing jobs with the built-in extractor: the whole run, live progress over
//! `graphql-transport-ws`, the state machine and permissions (document activity is in
//! `events`).

use crate::common;

use common::{Db, TestApp, WsClient, create_document, entity_type_ids, error_code, wait_for_job};
use serde_json::{Value, json};

const START: &str =
    "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id status llmModel { provider } } }";
const ENTITIES: &str = "query($id: ID!) { document(id: $id) { processingStatus totalEntities entities(first: 100) { edges { node { text source isVerified confidenceScore entityType { name } } } } } }";

/// A Marsiya stanza naming seeded examples (حسین, عباس, کربلا, فرات, امام, شاہ, علمدار), some
/// twice, with honorifics and a zer written after them.
const TEXT: &str = "جب کربلا میں داخلۂ شاہِ دیں ہوا\nحسینؑ ابن علیؑ نے فرات کو دیکھا\n\nعباسؑ علمدار امام کے ساتھ تھے\nکربلا کی زمیں پر عباسؑ کا علم";

async fn start(app: &TestApp, token: &str, doc: &str) -> String {
    let job = app.ok(Some(token), START, json!({"i": {"documentId": doc}})).await;
    assert_eq!(job["startProcessingJob"]["status"], "QUEUED");
    assert_eq!(job["startProcessingJob"]["llmModel"]["provider"], "BUILTIN", "the built-in extractor is the default");
    job["startProcessingJob"]["id"].as_str().unwrap().to_owned()
}

fn texts(doc: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = doc["entities"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["text"].as_str().unwrap().to_owned(),
                e["node"]["entityType"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn builtin_job_runs_to_completion_without_duplicates(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Jobs", json!({})).await;
    let doc = create_document(&app, &token, &project, "Stanza", TEXT).await;
    let job = wait_for_job(&app, &token, &start(&app, &token, &doc).await).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["progress"], 100);
    assert_eq!(job["document"]["processingStatus"], "COMPLETED");
    let d = app.ok(Some(&token), ENTITIES, json!({"id": doc})).await;
    let found = texts(&d["document"]);
    let expected: Vec<(String, String)> = [
        ("امام", "DESIGNATION"),
        ("حسینؑ", "PERSON"),
        ("شاہِ", "DESIGNATION"),
        ("عباسؑ", "PERSON"),
        ("عباسؑ", "PERSON"),
        ("علمدار", "DESIGNATION"),
        ("فرات", "LOCATION"),
        ("کربلا", "LOCATION"),
        ("کربلا", "LOCATION"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(found, expected);
    assert_eq!(job["entitiesFound"], expected.len());
    for e in d["document"]["entities"]["edges"].as_array().unwrap() {
        assert_eq!(e["node"]["source"], "LLM");
        assert_eq!(e["node"]["isVerified"], false, "suggestions wait for a researcher");
    }
    // A second run finds the same spans and stores none of them again.
    let again = wait_for_job(&app, &token, &start(&app, &token, &doc).await).await;
    assert_eq!(again["status"], "COMPLETED");
    assert_eq!(again["entitiesFound"], 0);
    assert_eq!(app.ok(Some(&token), ENTITIES, json!({"id": doc})).await["document"]["totalEntities"], expected.len());
}

async fn verified_entities_grow_the_gazetteer(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let project = app.create_project(&token, "Gazetteer", json!({})).await;
    let first = create_document(&app, &token, &project, "One", "زینبؑ نے کہا").await;
    let e = app
        .ok(
            Some(&token),
            "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }",
            json!({"i": {"documentId": first, "entityTypeId": types["PERSON"], "start": 0, "end": 6}}),
        )
        .await;
    app.ok(Some(&token), "mutation($id: ID!) { verifyEntity(id: $id) { id } }", json!({"id": e["createEntity"]["id"]}))
        .await;
    let second = create_document(&app, &token, &project, "Two", "شام میں زینبؑ کا خطبہ").await;
    let job = wait_for_job(&app, &token, &start(&app, &token, &second).await).await;
    assert_eq!(job["status"], "COMPLETED");
    let found = texts(&app.ok(Some(&token), ENTITIES, json!({"id": second})).await["document"]);
    assert!(found.contains(&("زینبؑ".to_owned(), "PERSON".to_owned())), "{found:?}");
}

async fn job_state_machine_and_permissions(db: Db) {
    // No workers: jobs stay where the test puts them.
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    app.register("root").await;
    let (owner, _) = app.register("owner").await;
    let (viewer, viewer_id) = app.register("viewer").await;
    let (stranger, _) = app.register("stranger").await;
    let project = app.create_project(&owner, "States", json!({})).await;
    app.ok(
        Some(&owner),
        "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }",
        json!({"i": {"projectId": project, "userId": viewer_id, "role": "VIEWER"}}),
    )
    .await;
    let doc = create_document(&app, &owner, &project, "Doc", TEXT).await;
    assert_eq!(error_code(&app.gql(Some(&viewer), START, json!({"i": {"documentId": doc}})).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(Some(&stranger), START, json!({"i": {"documentId": doc}})).await), "NOT_FOUND");
    let job = start(&app, &owner, &doc).await;
    let act = |name: &str| format!("mutation($id: ID!) {{ {name}(id: $id) {{ status retryCount }} }}");
    let run = |token: String, name: &'static str| {
        let app = &app;
        let q = act(name);
        let job = job.clone();
        async move { app.gql(Some(&token), &q, json!({"id": job})).await }
    };
    assert_eq!(error_code(&run(viewer.clone(), "cancelProcessingJob").await), "FORBIDDEN");
    let status = |r: &Value, m: &str| r["data"][m]["status"].as_str().unwrap_or("").to_owned();
    assert_eq!(status(&run(owner.clone(), "pauseProcessingJob").await, "pauseProcessingJob"), "PAUSED");
    assert_eq!(error_code(&run(owner.clone(), "pauseProcessingJob").await), "CONFLICT");
    assert_eq!(status(&run(owner.clone(), "resumeProcessingJob").await, "resumeProcessingJob"), "QUEUED");
    assert_eq!(error_code(&run(owner.clone(), "retryProcessingJob").await), "CONFLICT", "a queued job is not retried");
    assert_eq!(status(&run(owner.clone(), "cancelProcessingJob").await, "cancelProcessingJob"), "CANCELLED");
    assert_eq!(error_code(&run(owner.clone(), "resumeProcessingJob").await), "CONFLICT", "a cancelled job is retried");
    let doc_status = app.ok(Some(&owner), ENTITIES, json!({"id": doc})).await;
    assert_eq!(doc_status["document"]["processingStatus"], "CANCELLED", "the document follows its job");
    for n in 1..=3 {
        let r = run(owner.clone(), "retryProcessingJob").await;
        assert_eq!(r["data"]["retryProcessingJob"]["retryCount"], n, "{r}");
        run(owner.clone(), "cancelProcessingJob").await;
    }
    assert_eq!(error_code(&run(owner.clone(), "retryProcessingJob").await), "CONFLICT", "maxRetries reached");
    let listed = app
        .ok(Some(&owner), "{ processingJobs(first: 10) { totalCount edges { node { id status } } } }", json!({}))
        .await;
    assert_eq!(listed["processingJobs"]["totalCount"], 1);
    let none = app.ok(Some(&stranger), "{ processingJobs { totalCount } }", json!({})).await;
    assert_eq!(none["processingJobs"]["totalCount"], 0);
    // start, pause, resume, cancel, then three retry-and-cancel rounds; refusals write nothing.
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action LIKE 'job.%'").await, 1 + 1 + 1 + 1 + 3 * 2);
}

async fn subscribers_see_the_job_live_to_its_end(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (token, _) = app.register("anis").await;
    let (stranger, _) = app.register("stranger").await;
    let project = app.create_project(&token, "Live", json!({})).await;
    // A long text: many chunks, so there is progress to follow.
    let long: String = (0..60).map(|i| format!("کربلا میں حسینؑ {i}\nعباسؑ فرات پر {i}\n\n")).collect();
    let doc = create_document(&app, &token, &project, "Long", &long).await;
    let config = app
        .ok(
            Some(&token),
            "mutation { createProcessingConfig(input: {name: \"small chunks\", chunkSize: 300, chunkOverlap: 0}) { id } }",
            json!({}),
        )
        .await["createProcessingConfig"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = app.ok(Some(&token), START, json!({"i": {"documentId": doc, "processingConfigId": config}})).await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = "subscription($id: ID!) { jobProgress(jobId: $id) { jobId status progress currentStep entitiesFound } }";
    let mut refused = WsClient::connect(&app, Some(&stranger)).await;
    refused.subscribe("1", sub, json!({"id": job})).await;
    // A refusal by the resolver is an execution error: a `next` with errors, then `complete`.
    let answer = refused.next().await.unwrap();
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND");
    assert_eq!(answer["payload"]["data"], Value::Null);
    assert_eq!(refused.next().await.unwrap()["type"], "complete");

    let mut client = WsClient::connect(&app, Some(&token)).await;
    client.subscribe("1", sub, json!({"id": job})).await;
    let first = client.next().await.unwrap();
    assert_eq!(first["payload"]["data"]["jobProgress"]["status"], "QUEUED", "the current state comes first: {first}");
    // Now let a worker run it: a second server on the same database.
    let worker = TestApp::spawn_on(&app, |_| {}).await;
    let mut events = vec![];
    while let Some(msg) = client.next().await {
        if msg["type"] == "complete" {
            break;
        }
        assert_eq!(msg["type"], "next", "{msg}");
        events.push(msg["payload"]["data"]["jobProgress"].clone());
    }
    let statuses: Vec<&str> = events.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(*statuses.last().unwrap(), "COMPLETED", "{statuses:?}");
    assert!(statuses.contains(&"PROCESSING"));
    let progress: Vec<u64> = events.iter().map(|e| e["progress"].as_u64().unwrap()).collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "progress never goes back: {progress:?}");
    assert!(
        events.iter().any(|e| e["currentStep"].as_str().is_some_and(|s| s.starts_with("chunk ") && s.contains(" of ")))
    );
    drop(worker);
}

/// Kinds and targets: EXTRACTION (the default) works on a document; a kind without a handler
/// on this server is refused with BAD_USER_INPUT, as are a target or params the kind cannot
/// take; `postProcessing` takes only the options it implements.
async fn job_kinds_targets_and_options_are_checked(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Kinds", json!({})).await;
    let doc = create_document(&app, &token, &project, "Doc", TEXT).await;
    let start = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id kind params projectId document { id } } }";
    let field = |r: &Value| r["errors"][0]["extensions"]["field"].as_str().unwrap_or("").to_owned();
    for (input, expected_field) in [
        (json!({"kind": "INGESTION", "projectId": project}), "sourceId"),
        (json!({"kind": "EMBEDDING", "projectId": project, "params": {"x": 1}}), "params"),
        (json!({"kind": "TRAINING", "projectId": project, "params": {"deep": true}}), "params"),
        (json!({"kind": "EXTRACTION", "projectId": project}), "documentId"),
        (json!({}), "documentId"),
        (json!({"documentId": doc, "params": {"deep": true}}), "params"),
    ] {
        let r = app.gql(Some(&token), start, json!({"i": input})).await;
        assert_eq!((error_code(&r).as_str(), field(&r).as_str()), ("BAD_USER_INPUT", expected_field), "{input}: {r}");
    }
    let job = app.ok(Some(&token), start, json!({"i": {"documentId": doc}})).await;
    let job = &job["startProcessingJob"];
    assert_eq!((job["kind"].as_str(), &job["params"]), (Some("EXTRACTION"), &json!({})));
    assert_eq!(
        (job["projectId"].as_str(), job["document"]["id"].as_str()),
        (Some(project.as_str()), Some(doc.as_str()))
    );
    let listed = |kind: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.ok(
                Some(&token),
                "query($k: JobKind) { processingJobs(filter: {kind: $k}) { totalCount } }",
                json!({"k": kind}),
            )
            .await["processingJobs"]["totalCount"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!((listed("EXTRACTION").await, listed("LINKING").await), (1, 0));
    // postProcessing: the seeded default merges overlapping suggestions; unknown options are refused.
    let configs = app.ok(Some(&token), "{ processingConfigs { isDefault postProcessing } }", json!({})).await;
    let default =
        configs["processingConfigs"].as_array().unwrap().iter().find(|c| c["isDefault"] == true).unwrap().clone();
    assert_eq!(default["postProcessing"], json!({"mergeOverlapping": true}));
    let create =
        "mutation($p: JSON) { createProcessingConfig(input: {name: \"pp\", postProcessing: $p}) { postProcessing } }";
    let r = app.gql(Some(&token), create, json!({"p": {"dropUnplaced": true}})).await;
    assert_eq!((error_code(&r).as_str(), field(&r).as_str()), ("BAD_USER_INPUT", "postProcessing"), "{r}");
    let made = app.ok(Some(&token), create, json!({"p": {"mergeOverlapping": false}})).await;
    assert_eq!(made["createProcessingConfig"]["postProcessing"], json!({"mergeOverlapping": false}));
}

on_both_databases!(
    job_kinds_targets_and_options_are_checked,
    builtin_job_runs_to_completion_without_duplicates,
    verified_entities_grow_the_gazetteer,
    job_state_machine_and_permissions,
    subscribers_see_the_job_live_to_its_end,
);
