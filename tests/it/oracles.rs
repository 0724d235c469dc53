//! No oracles: nothing a caller gets back tells them about what they may not see. An entity of
//! a private project answers exactly as a random id does; a new project's slug does not depend
//! on projects hidden from its creator; an API key never comes back in a provider's error, in
//! any encoding, and provider error text reaches global admins only. And verifying entities of
//! two projects at once writes an audit row to each.

use crate::common;

use common::mock_llm::{Behaviour, MockLlm};
use common::{Db, TestApp, entity_type_ids, error_code};
use nishan_domain::llm::Provider;
use serde_json::{Value, json};

/// A private project of `owner` with one document holding one entity; (project, document,
/// entity).
async fn private_entity(app: &TestApp, owner: &str, name: &str) -> (String, String, String) {
    let project = app.create_project(owner, name, json!({})).await;
    let doc = common::create_document(app, owner, &project, "Stanza", &format!("حسینؑ کربلا میں {name}")).await;
    let types = entity_type_ids(app).await;
    let entity = app
        .ok(
            Some(owner),
            "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }",
            json!({"i": {"documentId": doc, "entityTypeId": types["PERSON"], "start": 0, "end": 5}}),
        )
        .await["createEntity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (project, doc, entity)
}

/// The variables of a probe, given the id it probes.
type Probe = Box<dyn Fn(&str) -> Value>;

/// The parts of an answer a client could tell apart.
fn visible(resp: &Value) -> (Value, Value, Value) {
    (resp["data"].clone(), resp["errors"][0]["message"].clone(), resp["errors"][0]["extensions"].clone())
}

async fn an_entity_one_cannot_see_is_a_random_id(db: Db) {
    let app = TestApp::spawn(db).await;
    let (owner, _) = app.register("owner").await;
    let (stranger, _) = app.register("stranger").await;
    let (hidden_project, hidden_document, hidden) = private_entity(&app, &owner, "Secret").await;
    let random = uuid::Uuid::new_v4().to_string();
    // The document and the project of it, too.
    for (query, id) in [
        ("query($id: ID!) { document(id: $id) { id } }", &hidden_document),
        ("query($id: ID) { project(id: $id) { id } }", &hidden_project),
    ] {
        for caller in [None, Some(stranger.as_str())] {
            let seen = app.gql(caller, query, json!({"id": id})).await;
            let unknown = app.gql(caller, query, json!({"id": random})).await;
            assert_eq!(error_code(&seen), "NOT_FOUND", "{query}: {seen}");
            assert_eq!(visible(&seen), visible(&unknown), "{query}");
        }
    }
    let types = entity_type_ids(&app).await;
    let probes: Vec<(&str, Probe)> = vec![
        ("mutation($id: ID!) { verifyEntity(id: $id) { id } }", Box::new(|id| json!({"id": id}))),
        ("mutation($id: ID!) { unverifyEntity(id: $id) { id } }", Box::new(|id| json!({"id": id}))),
        ("mutation($ids: [ID!]!) { verifyEntities(ids: $ids) { id } }", Box::new(|id| json!({"ids": [id]}))),
        (
            "mutation($id: ID!, $t: ID) { updateEntity(id: $id, input: {entityTypeId: $t}) { id } }",
            Box::new(move |id| json!({"id": id, "t": types["LOCATION"]})),
        ),
        ("mutation($id: ID!) { deleteEntity(id: $id) }", Box::new(|id| json!({"id": id}))),
        ("query($id: ID!) { entity(id: $id) { id } }", Box::new(|id| json!({"id": id}))),
    ];
    for (query, vars) in &probes {
        let seen = app.gql(Some(&stranger), query, vars(&hidden)).await;
        let unknown = app.gql(Some(&stranger), query, vars(&random)).await;
        assert_eq!(error_code(&seen), "NOT_FOUND", "{query}: {seen}");
        assert_eq!(visible(&seen), visible(&unknown), "{query}");
    }
    // Verifying a hidden entity together with one's own: the same answer as with a random id.
    let (_, _, mine) = private_entity(&app, &stranger, "Mine").await;
    let q = "mutation($ids: [ID!]!) { verifyEntities(ids: $ids) { id } }";
    let seen = app.gql(Some(&stranger), q, json!({"ids": [mine, hidden]})).await;
    let unknown = app.gql(Some(&stranger), q, json!({"ids": [mine, random]})).await;
    assert_eq!(visible(&seen), visible(&unknown));
    assert_eq!(app.count("SELECT id FROM entities WHERE is_verified").await, 0, "nothing was verified");
}

const CREATE: &str = "mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }";

async fn slug_of(app: &TestApp, token: &str, input: Value) -> (String, String) {
    let data = app.ok(Some(token), CREATE, json!({"i": input})).await;
    (
        data["createProject"]["id"].as_str().unwrap().to_owned(),
        data["createProject"]["slug"].as_str().unwrap().to_owned(),
    )
}

async fn a_slug_tells_nothing_of_hidden_projects(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_admin, _) = app.register("admin").await;
    let (owner, _) = app.register("owner").await;
    let (stranger, stranger_user) = app.register("stranger").await;
    let (secret, slug) = slug_of(&app, &owner, json!({"name": "Secret A"})).await;
    assert_eq!(slug, "secret-a");
    // The stranger gets the slug they would get if the owner's project did not exist.
    let (theirs, slug) = slug_of(&app, &stranger, json!({"name": "Secret A"})).await;
    assert_eq!(slug, "secret-a", "the hidden project does not show");
    let (_, slug) = slug_of(&app, &stranger, json!({"name": "Secret A"})).await;
    assert_eq!(slug, "secret-a-2", "their own project is theirs to see");
    // A slug names the project the caller can see.
    let by_slug = "query($s: String) { project(slug: $s) { id } }";
    assert_eq!(app.ok(Some(&owner), by_slug, json!({"s": "secret-a"})).await["project"]["id"], secret.as_str());
    assert_eq!(app.ok(Some(&stranger), by_slug, json!({"s": "secret-a"})).await["project"]["id"], theirs.as_str());
    let (third, _) = app.register("third").await;
    assert_eq!(error_code(&app.gql(Some(&third), by_slug, json!({"s": "secret-a"})).await), "NOT_FOUND");
    // Someone who comes to see two projects of one slug reaches the older one by it.
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { role } }";
    app.ok(Some(&owner), add, json!({"i": {"projectId": secret, "userId": stranger_user, "role": "VIEWER"}})).await;
    assert_eq!(app.ok(Some(&stranger), by_slug, json!({"s": "secret-a"})).await["project"]["id"], secret.as_str());
    let remove = "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) }";
    app.ok(Some(&owner), remove, json!({"p": secret, "u": stranger_user})).await;
    // Public projects are everyone's to see, so they count for everyone.
    let (_, slug) = slug_of(&app, &owner, json!({"name": "Open", "isPublic": true})).await;
    assert_eq!(slug, "open");
    let (_, slug) = slug_of(&app, &stranger, json!({"name": "Open"})).await;
    assert_eq!(slug, "open-2");
    // A project made public takes a free slug among public projects.
    let update = "mutation($id: ID!) { updateProject(id: $id, input: {isPublic: true}) { slug } }";
    let (_, slug) = slug_of(&app, &third, json!({"name": "Secret A", "isPublic": true})).await;
    assert_eq!(slug, "secret-a");
    let made_public = app.ok(Some(&owner), update, json!({"id": secret})).await;
    assert_eq!(made_public["updateProject"]["slug"], "secret-a-2");
    // One user creating many projects of one name at once: every slug distinct.
    let racing = (0..8).map(|_| {
        let (app, owner) = (&app, &owner);
        async move { slug_of(app, owner, json!({"name": "Race"})).await.1 }
    });
    let mut slugs = futures_util::future::join_all(racing).await;
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), 8, "{slugs:?}");
}

const SECRET_KEY: &str = "sk-SECRETkey0123456789abcdefZZ3456";

/// Each way providers were seen to echo a key, and the pieces of it that must not survive.
fn echoes() -> Vec<String> {
    vec![
        "Incorrect API key provided: key=sk-SECR****3456.".to_owned(),
        r#"bad request {"key":"sk-SECR…"}"#.to_owned(),
        "invalid key:\nsk-SECR****3456".to_owned(),
        format!("KEY {} REVOKED", SECRET_KEY.to_uppercase()),
        "see https://example.org/v1?key=sk-SECR%2A%2A%2A%2A3456".to_owned(),
        format!("echo {SECRET_KEY}"),
    ]
}

fn assert_no_fragment(text: &str) {
    let lower = text.to_lowercase();
    for piece in ["sk-secr", "secretkey", "3456", "zz34"] {
        assert!(!lower.contains(piece), "{piece:?} survives in {text:?}");
    }
}

async fn provider_errors_never_carry_the_key(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (admin, _) = app.register("admin").await;
    let (user, _) = app.register("user").await;
    let model = app
        .ok(
            Some(&admin),
            "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }",
            json!({"i": {"name": "gpt", "provider": "OPENAI", "modelName": "m", "apiKey": SECRET_KEY,
                          "apiBaseUrl": mock.base_url(Provider::OpenAi), "timeoutSecs": 5}}),
        )
        .await["createLlmModel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let test = "mutation($id: ID!) { testLlmModel(id: $id) { validationStatus validationError } }";
    for message in echoes() {
        mock.push(Behaviour::Error { status: 401, message: message.clone() });
        let tested = app.ok(Some(&admin), test, json!({"id": model})).await;
        assert_eq!(tested["testLlmModel"]["validationStatus"], "ERROR");
        let shown = tested["testLlmModel"]["validationError"].as_str().expect("admins see the provider's text");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert_no_fragment(shown);
        // Everyone else sees that it failed, not what the provider said.
        let listed = app.ok(Some(&user), "{ llmModels { id validationStatus validationError } }", json!({})).await;
        let mine = listed["llmModels"].as_array().unwrap().iter().find(|m| m["id"] == model.as_str()).unwrap();
        assert_eq!(mine["validationStatus"], "ERROR");
        assert!(mine["validationError"].is_null(), "{mine}");
    }
    // Nor does the key reach the model-call records.
    let db = app.database().await;
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT error FROM model_calls WHERE error IS NOT NULL",
        ))
        .await
        .unwrap();
    assert!(rows.len() >= echoes().len(), "{} calls recorded", rows.len());
    for row in rows {
        let error: String = row.try_get("", "error").unwrap();
        assert_no_fragment(&error);
    }
}

async fn verifying_across_projects_audits_each_project(db: Db) {
    let app = TestApp::spawn(db).await;
    let (owner, _) = app.register("owner").await;
    let (p1, _, e1) = private_entity(&app, &owner, "First").await;
    let (p2, _, e2) = private_entity(&app, &owner, "Second").await;
    app.ok(Some(&owner), "mutation($ids: [ID!]!) { verifyEntities(ids: $ids) { id } }", json!({"ids": [e1, e2]})).await;
    for (project, entity) in [(&p1, &e1), (&p2, &e2)] {
        let log = app
            .ok(
                Some(&owner),
                "query($f: AuditLogFilter) { auditLog(filter: $f, first: 10) { edges { node { projectId resourceId changes } } } }",
                json!({"f": {"projectId": project, "actions": ["entity.verify"]}}),
            )
            .await;
        let rows = log["auditLog"]["edges"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "one row for {project}: {log}");
        let row = &rows[0]["node"];
        assert_eq!(row["projectId"], project.as_str());
        assert_eq!(row["resourceId"], entity.as_str());
        assert_eq!(row["changes"]["ids"], json!([entity]));
    }
}

on_both_databases!(
    an_entity_one_cannot_see_is_a_random_id,
    a_slug_tells_nothing_of_hidden_projects,
    provider_errors_never_carry_the_key,
    verifying_across_projects_audits_each_project,
);
