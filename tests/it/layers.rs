//! The layers of an INDEPENDENT project beyond the annotators' own (issue 12): the model's
//! layer a job's suggestions go to, pre-annotation (an annotator's layer starting as a copy of
//! it), imports and relationships per layer, and switching a project back to SHARED.

use crate::common;

use common::{Db, TestApp, create_document, error_code, wait_for_job};
use serde_json::{Value, json};

const ADD: &str = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const MODE: &str = "mutation($id: ID!, $m: AnnotationMode!) { updateProject(id: $id, input: {annotationMode: $m}) { annotationMode } }";
const ASSIGN: &str = "mutation($i: AssignDocumentsInput!) { assignDocuments(input: $i) { id state } }";
const START: &str = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id llmModel { id } } }";
const LAYER: &str = "query($d: ID!, $l: LayerInput) { document(id: $d) { totalEntities entities(first: 100, layer: $l) { totalCount edges { node { id text isVerified source } } } } }";

/// Names the built-in extractor knows (its seeded examples): حسین, عباس, کربلا, فرات.
const TEXT: &str = "حسینؑ ابن علیؑ نے فرات کو دیکھا\nکربلا کی زمیں پر عباسؑ کا علم";

struct Team {
    app: TestApp,
    owner: String,
    /// (token, user id) of an annotator (RESEARCHER).
    a: (String, String),
    project: String,
    doc: String,
}

/// An INDEPENDENT project with one document assigned to one annotator.
async fn team(db: Db) -> Team {
    let app = TestApp::spawn(db).await;
    let (owner, _) = app.register("anis").await;
    let a = app.register("dabir").await;
    let project = app.create_project(&owner, "Layers", json!({})).await;
    app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": a.1, "role": "RESEARCHER"}})).await;
    let doc = create_document(&app, &owner, &project, "Marsiya", TEXT).await;
    app.ok(Some(&owner), MODE, json!({"id": project, "m": "INDEPENDENT"})).await;
    app.ok(Some(&owner), ASSIGN, json!({"i": {"projectId": project, "documentIds": [doc], "annotatorIds": [a.1]}}))
        .await;
    Team { app, owner, a, project, doc }
}

impl Team {
    /// Runs the built-in extractor on the document as `token`; the model's id.
    async fn extract(&self, token: &str) -> String {
        let started = self.app.ok(Some(token), START, json!({"i": {"documentId": self.doc}})).await;
        let job = started["startProcessingJob"]["id"].as_str().unwrap().to_owned();
        let done = wait_for_job(&self.app, token, &job).await;
        assert_eq!(done["status"], "COMPLETED", "{done}");
        started["startProcessingJob"]["llmModel"]["id"].as_str().unwrap().to_owned()
    }

    /// (document's totalEntities, the layer's sorted texts, the layer's totalCount).
    async fn read(&self, token: &str, layer: Value) -> (u64, Vec<String>, u64) {
        let d = self.app.ok(Some(token), LAYER, json!({"d": self.doc, "l": layer})).await;
        let doc = &d["document"];
        let mut texts: Vec<String> = doc["entities"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["text"].as_str().unwrap().to_owned())
            .collect();
        texts.sort();
        (doc["totalEntities"].as_u64().unwrap(), texts, doc["entities"]["totalCount"].as_u64().unwrap())
    }
}

fn suggested() -> Vec<String> {
    let mut v: Vec<String> = ["حسینؑ", "عباسؑ", "فرات", "کربلا"].iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

async fn suggestions_of_an_independent_project_form_the_models_layer(db: Db) {
    let t = team(db).await;
    let model = t.extract(&t.owner).await;
    // The gold is untouched; the suggestions are the model's layer, which managers read.
    assert_eq!(t.read(&t.owner, Value::Null).await, (0, vec![], 0));
    assert_eq!(t.read(&t.owner, json!({"modelId": model})).await, (0, suggested(), 4));
    // An annotator's layer starts empty (no pre-annotation), and the model's layer is not theirs.
    assert_eq!(t.read(&t.a.0, Value::Null).await, (0, vec![], 0));
    let asked = t.app.gql(Some(&t.a.0), LAYER, json!({"d": t.doc, "l": {"modelId": model}})).await;
    assert_eq!(error_code(&asked), "FORBIDDEN");
    // A researcher's job writes the model's layer too, never the gold: the same spans again
    // are skipped, and the curated layer stays empty.
    assert_eq!(t.extract(&t.a.0).await, model);
    assert_eq!(t.read(&t.owner, json!({"modelId": model})).await, (0, suggested(), 4));
    assert_eq!(t.read(&t.owner, json!({"curated": true})).await, (0, vec![], 0));
    // Naming two layers at once is refused.
    let both = t.app.gql(Some(&t.owner), LAYER, json!({"d": t.doc, "l": {"modelId": model, "curated": true}})).await;
    assert_eq!(error_code(&both), "BAD_USER_INPUT");
    // Switched back to SHARED (no annotator's layer holds an entity), the next job writes the
    // curated layer as before.
    t.app.ok(Some(&t.owner), MODE, json!({"id": t.project, "m": "SHARED"})).await;
    t.extract(&t.owner).await;
    assert_eq!(t.read(&t.owner, Value::Null).await, (4, suggested(), 4));
    let shared = t.app.gql(Some(&t.owner), LAYER, json!({"d": t.doc, "l": {"modelId": model}})).await;
    assert_eq!(error_code(&shared), "BAD_USER_INPUT");
}

on_both_databases!(suggestions_of_an_independent_project_form_the_models_layer);
