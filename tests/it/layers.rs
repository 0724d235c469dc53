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
    // A dry run compares with the layer it would write: the annotator's holds both spans, the
    // gold neither.
    let dry = "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: JSONL, data: $data, dryRun: true) { created skipped } }";
    let mine = t.app.ok(Some(&t.a.0), dry, json!({"d": t.doc, "data": two_names()})).await;
    assert_eq!(mine["importEntities"], json!({"created": 0, "skipped": 2}));
    let gold = t.app.ok(Some(&t.owner), dry, json!({"d": t.doc, "data": two_names()})).await;
    assert_eq!(gold["importEntities"], json!({"created": 2, "skipped": 0}));
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

const EXPORT_DOC: &str =
    "query($d: ID!, $f: ExchangeFormat!, $l: LayerInput) { exportDocument(documentId: $d, format: $f, layer: $l) }";
const EXPORT_PROJECT: &str =
    "query($p: ID!, $f: ExchangeFormat!, $l: LayerInput) { exportProject(projectId: $p, format: $f, layer: $l) }";
const PROJECT_STATS: &str = "query($p: ID!, $l: LayerInput) { projectStatistics(projectId: $p, layer: $l) { totalEntities verifiedEntities entitiesByType { entityType { name } total } } }";
const DOC_STATS: &str = "query($d: ID!, $l: LayerInput) { document(id: $d) { statistics(layer: $l) { totalEntities entitiesByType { entityType { name } total } } } }";
const FORMATS: [&str; 7] = ["JSONL", "CONLL", "CONLL_COMMENTED", "INLINE_TAGS", "CSV", "TEI", "WEB_ANNOTATION"];

impl Team {
    /// The JSONL export of the document's `layer` as `token`: its labels `(start, end, type)`
    /// and how many relations it holds.
    async fn exported(&self, token: &str, layer: Value) -> (Vec<(u64, u64, String)>, usize) {
        let d = self.app.ok(Some(token), EXPORT_DOC, json!({"d": self.doc, "f": "JSONL", "l": layer})).await;
        let line: Value = serde_json::from_str(d["exportDocument"].as_str().unwrap().trim()).unwrap();
        let labels = line["label"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l[0].as_u64().unwrap(), l[1].as_u64().unwrap(), l[2].as_str().unwrap().to_owned()))
            .collect();
        (labels, line["relations"].as_array().map_or(0, Vec::len))
    }

    /// The project's and the document's statistics of `layer` as `token`: (project total,
    /// project's types with their totals, document total).
    async fn counted(&self, token: &str, layer: Value) -> (u64, Vec<(String, u64)>, u64) {
        let p = self.app.ok(Some(token), PROJECT_STATS, json!({"p": self.project, "l": layer})).await;
        let d = self.app.ok(Some(token), DOC_STATS, json!({"d": self.doc, "l": layer})).await;
        let p = &p["projectStatistics"];
        let mut types: Vec<(String, u64)> = p["entitiesByType"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["entityType"]["name"].as_str().unwrap().to_owned(), t["total"].as_u64().unwrap()))
            .collect();
        types.sort();
        (p["totalEntities"].as_u64().unwrap(), types, d["document"]["statistics"]["totalEntities"].as_u64().unwrap())
    }
}

async fn exports_and_statistics_read_the_curated_layer_unless_one_is_named(db: Db) {
    let t = team(db).await;
    let person = common::entity_type_ids(&t.app).await["PERSON"].clone();
    let location = common::entity_type_ids(&t.app).await["LOCATION"].clone();
    let b = t.app.register("mir").await;
    let viewer = t.app.register("ghalib").await;
    for (id, role) in [(&b.1, "RESEARCHER"), (&viewer.1, "VIEWER")] {
        t.app.ok(Some(&t.owner), ADD, json!({"i": {"projectId": t.project, "userId": id, "role": role}})).await;
    }
    t.app
        .ok(
            Some(&t.owner),
            ASSIGN,
            json!({"i": {"projectId": t.project, "documentIds": [t.doc], "annotatorIds": [b.1]}}),
        )
        .await;
    // The gold: two names and their relationship. The annotator's layer: the same, and علیؑ
    // (10..14); the second annotator's: فرات (18..22) only.
    t.app.ok(Some(&t.owner), IMPORT, json!({"d": t.doc, "data": two_names()})).await;
    t.app.ok(Some(&t.a.0), IMPORT, json!({"d": t.doc, "data": two_names()})).await;
    let mark = |ty: &str, start: u32, end: u32| json!({"i": {"documentId": t.doc, "entityTypeId": ty, "start": start, "end": end}});
    t.app.ok(Some(&t.a.0), CREATE, mark(&person, 10, 14)).await;
    t.app.ok(Some(&b.0), CREATE, mark(&location, 18, 22)).await;
    let gold = vec![(0, 5, "PERSON".to_owned()), (32, 37, "LOCATION".to_owned())];
    let a_layer = vec![(0, 5, "PERSON".to_owned()), (10, 14, "PERSON".to_owned()), (32, 37, "LOCATION".to_owned())];
    let b_layer = vec![(18, 22, "LOCATION".to_owned())];
    let own_a = json!({"annotatorId": t.a.1});
    let own_b = json!({"annotatorId": b.1});

    // Exports: the gold by default, for annotators too; their own layer when they name it; any
    // layer for the managers; another annotator's layer is FORBIDDEN.
    for token in [&t.owner, &t.a.0, &b.0] {
        assert_eq!(t.exported(token, Value::Null).await, (gold.clone(), 1));
        assert_eq!(t.exported(token, json!({"curated": true})).await, (gold.clone(), 1));
    }
    assert_eq!(t.exported(&t.a.0, own_a.clone()).await, (a_layer.clone(), 1), "relationships per layer");
    assert_eq!(t.exported(&b.0, own_b.clone()).await, (b_layer.clone(), 0));
    assert_eq!(t.exported(&t.owner, own_a.clone()).await, (a_layer.clone(), 1));
    assert_eq!(t.exported(&t.owner, own_b.clone()).await, (b_layer.clone(), 0));
    for (token, other) in [(&t.a.0, &own_b), (&b.0, &own_a)] {
        for (q, vars) in [
            (EXPORT_DOC, json!({"d": t.doc, "f": "JSONL", "l": other})),
            (EXPORT_PROJECT, json!({"p": t.project, "f": "CSV", "l": other})),
            (PROJECT_STATS, json!({"p": t.project, "l": other})),
            (DOC_STATS, json!({"d": t.doc, "l": other})),
        ] {
            assert_eq!(error_code(&t.app.gql(Some(token), q, vars).await), "FORBIDDEN", "{q}");
        }
    }
    // Every format: an annotator's own export is the one the managers get of their layer, not
    // the other annotator's; their default export is the gold the managers get.
    for f in FORMATS {
        let export = |token: &str, layer: &Value| {
            let vars = json!({"p": t.project, "f": f, "l": layer});
            let app = &t.app;
            let token = token.to_owned();
            async move { app.ok(Some(&token), EXPORT_PROJECT, vars).await["exportProject"].as_str().unwrap().to_owned() }
        };
        let b_own = export(&b.0, &own_b).await;
        assert_eq!(b_own, export(&t.owner, &own_b).await, "{f}");
        assert_ne!(b_own, export(&t.owner, &own_a).await, "{f}");
        assert_eq!(export(&t.a.0, &own_a).await, export(&t.owner, &own_a).await, "{f}");
        assert_eq!(export(&b.0, &Value::Null).await, export(&t.owner, &Value::Null).await, "{f}");
        assert_ne!(export(&t.owner, &Value::Null).await, export(&t.owner, &own_a).await, "{f}");
    }

    // Statistics: the same rule.
    let counted = |names: &[(&str, u64)]| names.iter().map(|(n, c)| (n.to_string(), *c)).collect::<Vec<_>>();
    let gold_stats = (2, counted(&[("LOCATION", 1), ("PERSON", 1)]), 2);
    for token in [&t.owner, &t.a.0, &b.0, &viewer.0] {
        assert_eq!(t.counted(token, Value::Null).await, gold_stats, "the gold by default");
        assert_eq!(t.counted(token, json!({"curated": true})).await, gold_stats);
    }
    let a_stats = (3, counted(&[("LOCATION", 1), ("PERSON", 2)]), 3);
    let b_stats = (1, counted(&[("LOCATION", 1)]), 1);
    assert_eq!(t.counted(&t.a.0, own_a.clone()).await, a_stats);
    assert_eq!(t.counted(&b.0, own_b.clone()).await, b_stats);
    assert_eq!(t.counted(&t.owner, own_a.clone()).await, a_stats);
    assert_eq!(t.counted(&t.owner, own_b.clone()).await, b_stats);
    // A VIEWER reads the gold only (and exports nothing).
    for layer in [&own_a, &own_b] {
        let asked = t.app.gql(Some(&viewer.0), PROJECT_STATS, json!({"p": t.project, "l": layer})).await;
        assert_eq!(error_code(&asked), "FORBIDDEN");
    }
    let export = t.app.gql(Some(&viewer.0), EXPORT_DOC, json!({"d": t.doc, "f": "JSONL", "l": Value::Null})).await;
    assert_eq!(error_code(&export), "FORBIDDEN");
    // The export of a named layer is audited with it.
    let audit = "query($p: ID!) { auditLog(filter: {projectId: $p, actions: [\"document.export\"]}, first: 100) { edges { node { changes } } } }";
    let log = t.app.ok(Some(&t.owner), audit, json!({"p": t.project})).await;
    let layers: Vec<String> = log["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["changes"]["layer"].as_str().unwrap().to_owned())
        .collect();
    assert!(layers.contains(&format!("annotator:{}", b.1)) && layers.contains(&"curated".to_owned()), "{layers:?}");
    // A SHARED project has one layer: naming an annotator's is BAD_USER_INPUT.
    let shared = t.app.create_project(&t.owner, "Shared", json!({})).await;
    let asked = t.app.gql(Some(&t.owner), PROJECT_STATS, json!({"p": shared, "l": own_a})).await;
    assert_eq!(error_code(&asked), "BAD_USER_INPUT");
}

const ACTIVITY: &str = "subscription($d: ID!) { documentActivity(documentId: $d) { kind entityIds actorId } }";
const DELETE: &str = "mutation($id: ID!) { deleteEntity(id: $id) }";

impl Team {
    /// A subscription of `token` to the document's activity, proven live: the owner marks and
    /// unmarks a curated span (6..9) until the subscriber hears it.
    async fn live(&self, token: &str) -> common::WsClient {
        let person = common::entity_type_ids(&self.app).await["PERSON"].clone();
        let mut client = common::WsClient::connect(&self.app, Some(token)).await;
        client.subscribe("a", ACTIVITY, json!({"d": self.doc})).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let probe = json!({"i": {"documentId": self.doc, "entityTypeId": person, "start": 6, "end": 9}});
            let probe = self.app.ok(Some(&self.owner), CREATE, probe).await["createEntity"]["id"].clone();
            self.app.ok(Some(&self.owner), DELETE, json!({"id": probe})).await;
            match tokio::time::timeout(std::time::Duration::from_millis(500), client.next()).await {
                Ok(Some(m)) => {
                    let mut kind = m["payload"]["data"]["documentActivity"]["kind"].clone();
                    while kind != "ENTITY_DELETED" {
                        kind = client.next().await.unwrap()["payload"]["data"]["documentActivity"]["kind"].clone();
                    }
                    return client;
                }
                Ok(None) => panic!("the socket closed"),
                Err(_) => assert!(std::time::Instant::now() < deadline, "the subscription never heard an event"),
            }
        }
    }

    /// The kinds a live subscriber hears until the owner's next curated marker (a PERSON at
    /// 6..9, made and deleted here): what it heard of everything done before, but the owner's
    /// curated probes and markers (the owner marks nothing else in these tests).
    async fn heard(&self, client: &mut common::WsClient) -> Vec<String> {
        let person = common::entity_type_ids(&self.app).await["PERSON"].clone();
        let me = self.app.ok(Some(&self.owner), "{ me { id } }", json!({})).await["me"]["id"].clone();
        let marker = json!({"i": {"documentId": self.doc, "entityTypeId": person, "start": 6, "end": 9}});
        let marker = self.app.ok(Some(&self.owner), CREATE, marker).await["createEntity"]["id"].clone();
        self.app.ok(Some(&self.owner), DELETE, json!({"id": marker})).await;
        let mut kinds = Vec::new();
        loop {
            let m = client.next().await.expect("the socket is open");
            let a = &m["payload"]["data"]["documentActivity"];
            if a["entityIds"][0] == marker {
                assert_eq!(a["kind"], "ENTITY_CREATED", "{m}");
                let deleted = client.next().await.unwrap();
                assert_eq!(deleted["payload"]["data"]["documentActivity"]["kind"], "ENTITY_DELETED");
                return kinds;
            }
            if a["actorId"] == me && (a["kind"] == "ENTITY_CREATED" || a["kind"] == "ENTITY_DELETED") {
                continue;
            }
            kinds.push(a["kind"].as_str().unwrap().to_owned());
        }
    }
}

/// The pre-annotation copy is announced in the annotator's layer (`ENTITIES_IMPORTED`): the
/// annotator and the managers hear it, another annotator does not. It happens once per
/// assignment: one abandoned and started again gets no second copy, so a suggestion the
/// annotator deleted stays deleted.
async fn pre_annotation_is_announced_in_its_layer_and_copied_once(db: Db) {
    let t = team(db).await;
    let on = "mutation($id: ID!) { updateProject(id: $id, input: {preAnnotate: true, abandonAfterHours: 1}) { preAnnotate } }";
    t.app.ok(Some(&t.owner), on, json!({"id": t.project})).await;
    let model = t.extract(&t.owner).await;
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
    let b_assignment = assigned["assignDocuments"][0]["id"].clone();
    let mut a_hears = t.live(&t.a.0).await;
    let mut b_hears = t.live(&b.0).await;
    let mut owner_hears = t.live(&t.owner).await;

    // The annotator's first change: their mark, then the copy.
    let person = common::entity_type_ids(&t.app).await["PERSON"].clone();
    let mark =
        |start: u32, end: u32| json!({"i": {"documentId": t.doc, "entityTypeId": person, "start": start, "end": end}});
    t.app.ok(Some(&t.a.0), CREATE, mark(10, 14)).await;
    assert_eq!(t.heard(&mut a_hears).await, ["ENTITY_CREATED", "ENTITIES_IMPORTED"]);
    assert_eq!(t.heard(&mut owner_hears).await, ["ENTITY_CREATED", "ENTITIES_IMPORTED"]);
    assert_eq!(t.heard(&mut b_hears).await, Vec::<String>::new(), "another annotator's layer is never heard");
    let mut expected = suggested();
    expected.push("علیؑ".into());
    expected.sort();
    assert_eq!(t.read(&t.a.0, Value::Null).await.1, expected);
    // A later change copies nothing more and announces only itself.
    t.app.ok(Some(&t.a.0), CREATE, mark(15, 17)).await;
    assert_eq!(t.heard(&mut a_hears).await, ["ENTITY_CREATED"]);

    // A manager starting the second annotator's assignment: announced to them, not to the first.
    t.app.ok(Some(&t.owner), SET_STATE, json!({"id": b_assignment, "s": "IN_PROGRESS"})).await;
    assert_eq!(t.heard(&mut b_hears).await, ["ENTITIES_IMPORTED"]);
    assert_eq!(t.heard(&mut a_hears).await, Vec::<String>::new());
    assert_eq!(t.read(&b.0, Value::Null).await.1, suggested());

    // The first annotator deletes a suggestion (فرات), leaves the assignment, and it is
    // abandoned back to NEW; starting it again copies nothing: فرات stays deleted.
    let page = t.app.ok(Some(&t.a.0), LAYER, json!({"d": t.doc, "l": Value::Null})).await;
    let furat =
        page["document"]["entities"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["text"] == "فرات").unwrap()
            ["node"]["id"]
            .clone();
    t.app.ok(Some(&t.a.0), DELETE, json!({"id": furat})).await;
    // The rejection is the annotator's layer's: not the gold's, not the other annotator's.
    let rejected = |token: String, layer: Value| {
        let q = "query($p: ID!, $l: LayerInput) { projectStatistics(projectId: $p, layer: $l) { modelQuality { rejected } } }";
        let (app, project) = (&t.app, t.project.clone());
        async move {
            let r = app.ok(Some(&token), q, json!({"p": project, "l": layer})).await;
            r["projectStatistics"]["modelQuality"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["rejected"].as_u64().unwrap())
                .sum::<u64>()
        }
    };
    assert_eq!(rejected(t.a.0.clone(), json!({"annotatorId": t.a.1})).await, 1);
    assert_eq!(rejected(t.owner.clone(), json!({"annotatorId": t.a.1})).await, 1);
    assert_eq!(rejected(t.owner.clone(), Value::Null).await, 0, "the gold's model quality");
    assert_eq!(rejected(b.0.clone(), json!({"annotatorId": b.1})).await, 0);
    let later = chrono::Utc::now() + chrono::Duration::minutes(61);
    let swept = nishan_api::retention::sweep(&t.app.state, later).await.unwrap();
    assert_eq!(swept.abandoned_assignments, 2, "both annotators' assignments were left");
    assert_eq!(t.assignment().await.1, "NEW");
    t.app.ok(Some(&t.a.0), CREATE, mark(23, 25)).await;
    assert_eq!(t.assignment().await.1, "IN_PROGRESS");
    let mut kept: Vec<String> = expected.into_iter().filter(|n| n.as_str() != "فرات").collect();
    kept.extend(["نے".to_owned(), "کو".to_owned()]);
    kept.sort();
    assert_eq!(t.read(&t.a.0, Value::Null).await, (0, kept.clone(), kept.len() as u64), "no second copy");
    assert_eq!(t.heard(&mut a_hears).await, ["ENTITY_REJECTED", "ENTITY_CREATED"], "no second ENTITIES_IMPORTED");
    assert_eq!(t.read(&t.owner, json!({"modelId": model})).await.2, 4, "the model's layer is untouched");
}

on_both_databases!(
    pre_annotation_is_announced_in_its_layer_and_copied_once,
    exports_and_statistics_read_the_curated_layer_unless_one_is_named,
    suggestions_of_an_independent_project_form_the_models_layer,
    pre_annotation_copies_the_models_layer_when_an_assignment_starts,
    an_annotators_import_writes_their_own_layer,
    relationships_in_an_annotators_layer_need_an_open_assignment,
    back_to_shared_is_refused_while_annotators_layers_hold_entities,
);
