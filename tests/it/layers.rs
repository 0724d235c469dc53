//! The layers of an INDEPENDENT project beyond the annotators' own (issue 12): the model's
//! layer a job's suggestions go to, pre-annotation (an annotator's layer starting as a copy of
//! it), imports and relationships per layer, and switching a project back to SHARED.

use crate::common;

use common::{Db, create_document, error_code, wait_for_job};
use serde_json::{Value, json};

const ADD: &str = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const MODE: &str = "mutation($id: ID!, $m: AnnotationMode!) { updateProject(id: $id, input: {annotationMode: $m}) { annotationMode } }";
const ASSIGN: &str = "mutation($i: AssignDocumentsInput!) { assignDocuments(input: $i) { id state } }";
const START: &str = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id llmModel { id } } }";
const LAYER: &str = "query($d: ID!, $l: LayerInput) { document(id: $d) { totalEntities entities(first: 100, layer: $l) { totalCount edges { node { id text isVerified source } } } } }";

/// Names the built-in extractor knows (its seeded examples): حسین, عباس, کربلا, فرات.
const TEXT: &str = "حسینؑ ابن علیؑ نے فرات کو دیکھا\nکربلا کی زمیں پر عباسؑ کا علم";

/// The common team with one annotator `a`.
struct Team {
    team: common::team::Team,
    /// (token, user id) of an annotator (RESEARCHER).
    a: (String, String),
}

impl std::ops::Deref for Team {
    type Target = common::team::Team;
    fn deref(&self) -> &common::team::Team {
        &self.team
    }
}

/// An INDEPENDENT project with one document assigned to one annotator.
async fn team(db: Db) -> Team {
    let team = common::team::Team::spawn(db, "Layers", TEXT, &["dabir"], &[]).await;
    team.mode("INDEPENDENT").await;
    let a = team.annotators[0].clone();
    team.assign(&[&team.doc], &[&a.1], None).await;
    Team { team, a }
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
    // The model's layer was kept: INDEPENDENT again, managers read it again.
    t.app.ok(Some(&t.owner), MODE, json!({"id": t.project, "m": "INDEPENDENT"})).await;
    assert_eq!(t.read(&t.owner, json!({"modelId": model})).await, (4, suggested(), 4));
}

const IMPORT: &str = "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: JSONL, data: $data) { created skipped relationshipsCreated } }";
const IMPORT_DOCS: &str =
    "mutation($p: ID!, $data: String!) { importDocuments(projectId: $p, format: JSONL, data: $data) { created } }";
const MINE: &str = "query($p: ID!) { myAssignments(projectId: $p, first: 10) { edges { node { id state } } } }";
const SET_STATE: &str = "mutation($id: ID!, $s: AssignmentState!) { setAssignmentState(id: $id, state: $s) { state } }";
const CREATE: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
const RELATE: &str = "mutation($i: CreateEntityRelationshipInput!) { createEntityRelationship(input: $i) { id } }";
const UNRELATE: &str = "mutation($id: ID!) { deleteEntityRelationship(id: $id) }";

impl Team {
    /// The annotator's one assignment: (id, state).
    async fn assignment(&self) -> (String, String) {
        let mine = self.app.ok(Some(&self.a.0), MINE, json!({"p": self.project})).await;
        let node = &mine["myAssignments"]["edges"][0]["node"];
        (node["id"].as_str().unwrap().to_owned(), node["state"].as_str().unwrap().to_owned())
    }
}

/// The document's text with two names, PERSON and LOCATION, and a relationship between them.
fn two_names() -> String {
    json!({"text": TEXT, "label": [[0, 5, "PERSON"], [32, 37, "LOCATION"]], "relations": [{"from": 0, "to": 1, "type": "LOCATED_IN"}]})
        .to_string()
}

async fn an_annotators_import_writes_their_own_layer(db: Db) {
    let t = team(db).await;
    assert_eq!(&TEXT.chars().skip(32).take(5).collect::<String>(), "کربلا");
    assert_eq!(t.assignment().await.1, "NEW");
    let imported = t.app.ok(Some(&t.a.0), IMPORT, json!({"d": t.doc, "data": two_names()})).await;
    assert_eq!(imported["importEntities"], json!({"created": 2, "skipped": 0, "relationshipsCreated": 1}));
    // Their layer holds it, counted; the gold does not; the import claimed the assignment.
    let mut names = vec!["حسینؑ".to_owned(), "کربلا".to_owned()];
    names.sort();
    assert_eq!(t.read(&t.a.0, Value::Null).await, (0, names.clone(), 2));
    assert_eq!(t.read(&t.owner, Value::Null).await, (0, vec![], 0));
    assert_eq!(t.read(&t.owner, json!({"annotatorId": t.a.1})).await, (0, names.clone(), 2));
    assert_eq!(t.assignment().await.1, "IN_PROGRESS");
    // Again: every span and the relationship are there already.
    let again = t.app.ok(Some(&t.a.0), IMPORT, json!({"d": t.doc, "data": two_names()})).await;
    assert_eq!(again["importEntities"], json!({"created": 0, "skipped": 2, "relationshipsCreated": 0}));
    // A manager imports into the curated layer.
    let gold = t.app.ok(Some(&t.owner), IMPORT, json!({"d": t.doc, "data": two_names()})).await;
    assert_eq!(gold["importEntities"]["created"], 2);
    assert_eq!(t.read(&t.owner, Value::Null).await, (2, names.clone(), 2));
    assert_eq!(t.read(&t.a.0, Value::Null).await, (2, names, 2));
    // A FINISHED layer takes no import (CONFLICT), nor does a document not assigned (FORBIDDEN).
    let (assignment, _) = t.assignment().await;
    t.app.ok(Some(&t.owner), SET_STATE, json!({"id": assignment, "s": "FINISHED"})).await;
    let late = t.app.gql(Some(&t.a.0), IMPORT, json!({"d": t.doc, "data": two_names()})).await;
    assert_eq!(error_code(&late), "CONFLICT");
    let other = create_document(&t.app, &t.owner, &t.project, "Other", "فرات پر عباسؑ").await;
    let data = json!({"text": "فرات پر عباسؑ", "label": [[0, 4, "LOCATION"]]}).to_string();
    let unassigned = t.app.gql(Some(&t.a.0), IMPORT, json!({"d": other, "data": data})).await;
    assert_eq!(error_code(&unassigned), "FORBIDDEN");
    assert_eq!(t.read(&t.owner, json!({"annotatorId": t.a.1})).await.2, 2, "nothing half-written");
    // New documents with entities are the gold: an annotator may not import them; a manager may.
    let doc = json!({"title": "New", "text": "عباسؑ علمدار", "label": [[0, 5, "PERSON"]]}).to_string();
    let refused = t.app.gql(Some(&t.a.0), IMPORT_DOCS, json!({"p": t.project, "data": doc})).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    let made = t.app.ok(Some(&t.owner), IMPORT_DOCS, json!({"p": t.project, "data": doc})).await;
    assert_eq!(made["importDocuments"]["created"], 1);
}

async fn relationships_in_an_annotators_layer_need_an_open_assignment(db: Db) {
    let t = team(db).await;
    let person = common::entity_type_ids(&t.app).await["PERSON"].clone();
    let mut ids = Vec::new();
    for (start, end) in [(0, 5), (10, 14)] {
        let e = t
            .app
            .ok(
                Some(&t.a.0),
                CREATE,
                json!({"i": {"documentId": t.doc, "entityTypeId": person, "start": start, "end": end}}),
            )
            .await;
        ids.push(e["createEntity"]["id"].as_str().unwrap().to_owned());
    }
    let relate = json!({"i": {"sourceEntityId": ids[0], "targetEntityId": ids[1], "relationshipType": "SAME_AS"}});
    let (assignment, _) = t.assignment().await;
    for state in ["FINISHED", "LOCKED"] {
        t.app.ok(Some(&t.owner), SET_STATE, json!({"id": assignment, "s": state})).await;
        assert_eq!(error_code(&t.app.gql(Some(&t.a.0), RELATE, relate.clone()).await), "CONFLICT", "{state}");
    }
    t.app.ok(Some(&t.owner), SET_STATE, json!({"id": assignment, "s": "IN_PROGRESS"})).await;
    let rel = t.app.ok(Some(&t.a.0), RELATE, relate.clone()).await["createEntityRelationship"]["id"].clone();
    // Deleting it is a change of the layer too.
    t.app.ok(Some(&t.owner), SET_STATE, json!({"id": assignment, "s": "FINISHED"})).await;
    assert_eq!(error_code(&t.app.gql(Some(&t.a.0), UNRELATE, json!({"id": rel})).await), "CONFLICT");
    // Reopened, the annotator deletes it.
    t.app.ok(Some(&t.owner), SET_STATE, json!({"id": assignment, "s": "IN_PROGRESS"})).await;
    assert_eq!(t.app.ok(Some(&t.a.0), UNRELATE, json!({"id": rel})).await["deleteEntityRelationship"], true);
}

async fn back_to_shared_is_refused_while_annotators_layers_hold_entities(db: Db) {
    let t = team(db).await;
    let person = common::entity_type_ids(&t.app).await["PERSON"].clone();
    let mark = json!({"i": {"documentId": t.doc, "entityTypeId": person, "start": 0, "end": 5}});
    let e = t.app.ok(Some(&t.a.0), CREATE, mark.clone()).await["createEntity"]["id"].clone();
    let refused = t.app.gql(Some(&t.owner), MODE, json!({"id": t.project, "m": "SHARED"})).await;
    assert_eq!(error_code(&refused), "CONFLICT");
    let q = "query($id: ID!) { project(id: $id) { annotationMode } }";
    assert_eq!(t.app.ok(Some(&t.owner), q, json!({"id": t.project})).await["project"]["annotationMode"], "INDEPENDENT");
    // Once the annotator's layer is empty, the switch goes through, and their layer is gone.
    t.app.ok(Some(&t.a.0), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": e})).await;
    t.app.ok(Some(&t.owner), MODE, json!({"id": t.project, "m": "SHARED"})).await;
    assert_eq!(t.read(&t.a.0, Value::Null).await, (0, vec![], 0));
    // Race: annotators' marks against the switch. Either a mark lands first (the switch is
    // CONFLICT and the project stays INDEPENDENT) or the switch does (the marks are CONFLICT,
    // or, read as SHARED, go to the curated layer): never an annotator's entity in a SHARED
    // project.
    for round in 0..3 {
        t.app.ok(Some(&t.owner), MODE, json!({"id": t.project, "m": "INDEPENDENT"})).await;
        let start = 20 + round * 2;
        let marks = (0..4).map(|i| {
            let body = json!({"i": {"documentId": t.doc, "entityTypeId": person, "start": start + i % 2, "end": start + 2 + i % 2}});
            let app = &t.app;
            let token = t.a.0.clone();
            async move { app.gql(Some(&token), CREATE, body).await }
        });
        let switch = t.app.gql(Some(&t.owner), MODE, json!({"id": t.project, "m": "SHARED"}));
        let (switched, marked) = tokio::join!(switch, futures_util::future::join_all(marks));
        let mode = t.app.ok(Some(&t.owner), q, json!({"id": t.project})).await["project"]["annotationMode"].clone();
        if switched.get("errors").is_some() {
            assert_eq!(error_code(&switched), "CONFLICT");
            assert_eq!(mode, "INDEPENDENT");
            let own = t.read(&t.owner, json!({"annotatorId": t.a.1})).await;
            assert!(own.2 > 0, "a mark landed first");
        } else {
            assert_eq!(mode, "SHARED");
            // Every mark is CONFLICT, or an entity of the curated layer.
            for m in &marked {
                if m.get("errors").is_some() {
                    assert_eq!(error_code(m), "CONFLICT", "{m}");
                }
            }
            t.app.ok(Some(&t.owner), MODE, json!({"id": t.project, "m": "INDEPENDENT"})).await;
            assert_eq!(
                t.read(&t.owner, json!({"annotatorId": t.a.1})).await.2,
                0,
                "no annotator's entity in a SHARED project"
            );
        }
        // Clean the annotator's layer for the next round.
        let page = t.app.ok(Some(&t.a.0), LAYER, json!({"d": t.doc, "l": Value::Null})).await;
        for edge in page["document"]["entities"]["edges"].as_array().unwrap() {
            t.app
                .ok(Some(&t.a.0), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": edge["node"]["id"]}))
                .await;
        }
    }
}

async fn pre_annotation_copies_the_models_layer_when_an_assignment_starts(db: Db) {
    let t = team(db).await;
    let q = "mutation($id: ID!) { updateProject(id: $id, input: {preAnnotate: true}) { preAnnotate } }";
    assert_eq!(error_code(&t.app.gql(Some(&t.a.0), q, json!({"id": t.project})).await), "FORBIDDEN");
    assert_eq!(t.app.ok(Some(&t.owner), q, json!({"id": t.project})).await["updateProject"]["preAnnotate"], true);
    let model = t.extract(&t.owner).await;
    // NEW: the layer is still empty.
    assert_eq!(t.read(&t.a.0, Value::Null).await, (0, vec![], 0));
    // The annotator's first changes, four at once (two spans, twice each; حسینؑ the model
    // suggested too): each span lands once. The first change to commit starts the assignment
    // and copies the model's layer after its own entity: حسینؑ is the annotator's when their
    // mark of it came first, the copy's otherwise (a later mark of it is CONFLICT).
    let person = common::entity_type_ids(&t.app).await["PERSON"].clone();
    let marks = [(0, 5), (0, 5), (10, 14), (10, 14)].map(|(start, end)| {
        let body = json!({"i": {"documentId": t.doc, "entityTypeId": person, "start": start, "end": end}});
        let (app, token) = (&t.app, t.a.0.clone());
        async move { app.gql(Some(&token), CREATE, body).await }
    });
    let answers = futures_util::future::join_all(marks).await;
    let made = |of: std::ops::Range<usize>| answers[of].iter().filter(|a| a.get("errors").is_none()).count();
    let (made_0, made_10) = (made(0..2), made(2..4));
    assert!(made_0 <= 1 && made_10 == 1, "{answers:?}");
    for a in answers.iter().filter(|a| a.get("errors").is_some()) {
        assert_eq!(error_code(a), "CONFLICT", "{a}");
    }
    let mut expected = suggested();
    expected.push("علیؑ".into());
    expected.sort();
    assert_eq!(t.read(&t.a.0, Value::Null).await, (0, expected.clone(), 5), "copied once, counted by delta");
    assert_eq!(t.assignment().await.1, "IN_PROGRESS");
    // The copies are unverified suggestions; the annotator's own marks are theirs.
    let d = t.app.ok(Some(&t.a.0), LAYER, json!({"d": t.doc, "l": Value::Null})).await;
    let nodes = d["document"]["entities"]["edges"].as_array().unwrap().clone();
    let llm = nodes.iter().filter(|e| e["node"]["source"] == "LLM").count();
    assert_eq!(llm, 5 - made_0 - made_10, "{nodes:?}");
    assert!(nodes.iter().all(|e| e["node"]["isVerified"] == false));
    // The model's layer and the gold are untouched.
    assert_eq!(t.read(&t.owner, json!({"modelId": model})).await, (0, suggested(), 4));
    assert_eq!(t.read(&t.owner, Value::Null).await, (0, vec![], 0));
    // A manager starting an assignment (NEW to IN_PROGRESS) copies too; a later start of the
    // same one (reopened) does not copy again.
    let b = t.app.register("mir").await;
    t.app.ok(Some(&t.owner), ADD, json!({"i": {"projectId": t.project, "userId": b.1, "role": "RESEARCHER"}})).await;
    let assigned = t
        .app
        .ok(
            Some(&t.owner),
            ASSIGN,
            json!({"i": {"projectId": t.project, "documentIds": [t.doc], "annotatorIds": [b.1]}}),
        )
        .await;
    let id = assigned["assignDocuments"][0]["id"].clone();
    assert_eq!(t.read(&b.0, Value::Null).await, (0, vec![], 0));
    t.app.ok(Some(&t.owner), SET_STATE, json!({"id": id, "s": "IN_PROGRESS"})).await;
    assert_eq!(t.read(&b.0, Value::Null).await, (0, suggested(), 4));
    t.app.ok(Some(&t.owner), SET_STATE, json!({"id": id, "s": "FINISHED"})).await;
    t.app.ok(Some(&t.owner), SET_STATE, json!({"id": id, "s": "IN_PROGRESS"})).await;
    assert_eq!(t.read(&b.0, Value::Null).await.2, 4);
    // Without pre-annotation, a layer starts empty.
    let off = "mutation($id: ID!) { updateProject(id: $id, input: {preAnnotate: false}) { preAnnotate } }";
    t.app.ok(Some(&t.owner), off, json!({"id": t.project})).await;
    let c = t.app.register("ghalib").await;
    t.app.ok(Some(&t.owner), ADD, json!({"i": {"projectId": t.project, "userId": c.1, "role": "RESEARCHER"}})).await;
    t.app
        .ok(
            Some(&t.owner),
            ASSIGN,
            json!({"i": {"projectId": t.project, "documentIds": [t.doc], "annotatorIds": [c.1]}}),
        )
        .await;
    t.app
        .ok(Some(&c.0), CREATE, json!({"i": {"documentId": t.doc, "entityTypeId": person, "start": 10, "end": 14}}))
        .await;
    assert_eq!(t.read(&c.0, Value::Null).await, (0, vec!["علیؑ".to_owned()], 1));
}

on_both_databases!(
    suggestions_of_an_independent_project_form_the_models_layer,
    pre_annotation_copies_the_models_layer_when_an_assignment_starts,
    an_annotators_import_writes_their_own_layer,
    relationships_in_an_annotators_layer_need_an_open_assignment,
    back_to_shared_is_refused_while_annotators_layers_hold_entities,
);
