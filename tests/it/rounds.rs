//! Annotation rounds (issue 12) over GraphQL: a project's annotation mode, the layers of a
//! document (each annotator's own, the curated one), who reads and writes which, the
//! duplicate-span rule and the counts per layer, and `documentActivity` per layer.

use crate::common;

use std::time::Duration;

use common::team::Team;
use common::{Db, WsClient, create_document, error_code};
use serde_json::{Value, json};

const MODE: &str = "mutation($id: ID!, $m: AnnotationMode!) { updateProject(id: $id, input: {annotationMode: $m}) { annotationMode } }";
const CREATE: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id text } }";
const LAYER: &str = "query($d: ID!, $l: LayerInput) { document(id: $d) { totalEntities entities(first: 100, layer: $l) { totalCount edges { node { id text } } } } }";
const ASSIGN: &str = "mutation($i: AssignDocumentsInput!) { assignDocuments(input: $i) { id state document { id } annotator { id } startedAt finishedAt } }";
const ACTIVITY: &str = "subscription($d: ID!) { documentActivity(documentId: $d) { kind entityIds } }";

const TEXT: &str = "حسینؑ ابن علیؑ کربلا میں عباسؑ";

/// The common team (an owner, two annotators `a` and `b`, a viewer, the document), with
/// the members by name.
struct Round {
    team: Team,
    /// (token, user id) of two annotators (RESEARCHER) and a VIEWER.
    a: (String, String),
    b: (String, String),
    viewer: (String, String),
}

impl std::ops::Deref for Round {
    type Target = Team;
    fn deref(&self) -> &Team {
        &self.team
    }
}

async fn round(db: Db) -> Round {
    let team = Team::spawn(db, "Round", TEXT, &["dabir", "mir"], &["ghalib"]).await;
    let (a, b, viewer) = (team.annotators[0].clone(), team.annotators[1].clone(), team.viewers[0].clone());
    Round { team, a, b, viewer }
}

impl Round {
    async fn mark(&self, token: &str, start: u32, end: u32) -> Value {
        self.mark_as(token, &self.doc, &self.person, start, end).await
    }

    fn layer_of(&self, who: &(String, String)) -> Value {
        json!({"annotatorId": who.1})
    }

    /// Switches the project to INDEPENDENT and assigns the document to both annotators.
    async fn independent(&self) {
        self.mode("INDEPENDENT").await;
        self.assign(&[&self.doc], &[&self.a.1, &self.b.1], None).await;
    }
}

fn id(v: &Value) -> String {
    v["data"]["createEntity"]["id"].as_str().unwrap().to_owned()
}

async fn switching_to_independent_keeps_the_entities_as_the_curated_layer(db: Db) {
    let r = round(db).await;
    let q = "query($id: ID!) { project(id: $id) { annotationMode } }";
    assert_eq!(r.app.ok(Some(&r.owner), q, json!({"id": r.project})).await["project"]["annotationMode"], "SHARED");
    // SHARED: everyone who edits writes the one layer.
    id(&r.mark(&r.owner, 0, 5).await);
    id(&r.mark(&r.a.0, 10, 14).await);
    assert_eq!(r.read(&r.b.0, Value::Null).await, (2, vec!["حسینؑ".into(), "علیؑ".into()], 2));
    // A SHARED project has no annotator's layer to ask for.
    let asked = r.app.gql(Some(&r.owner), LAYER, json!({"d": r.doc, "l": r.layer_of(&r.a)})).await;
    assert_eq!(error_code(&asked), "BAD_USER_INPUT");
    // Only managers switch the mode.
    let refused = r.app.gql(Some(&r.a.0), MODE, json!({"id": r.project, "m": "INDEPENDENT"})).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    let switched = r.app.ok(Some(&r.owner), MODE, json!({"id": r.project, "m": "INDEPENDENT"})).await;
    assert_eq!(switched["updateProject"]["annotationMode"], "INDEPENDENT");
    // The two entities are the curated layer now: managers and viewers read it by default,
    // annotators by asking; an annotator's own layer starts empty.
    let curated = (2, vec!["حسینؑ".to_owned(), "علیؑ".to_owned()], 2);
    assert_eq!(r.read(&r.owner, Value::Null).await, curated);
    assert_eq!(r.read(&r.viewer.0, Value::Null).await, curated);
    assert_eq!(r.read(&r.a.0, json!({"curated": true})).await, curated);
    assert_eq!(r.read(&r.a.0, Value::Null).await, (2, vec![], 0));
    let audit = "query($p: ID!) { auditLog(filter: {projectId: $p, actions: [\"project.update\"]}, first: 50) { edges { node { action changes } } } }";
    let logs = r.app.ok(Some(&r.owner), audit, json!({"p": r.project})).await;
    let update = logs["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["action"] == "project.update")
        .expect("the switch is audited")
        .clone();
    assert_eq!(update["node"]["changes"]["annotationMode"], "INDEPENDENT");
}

async fn each_annotator_reads_and_writes_their_own_layer(db: Db) {
    let r = round(db).await;
    id(&r.mark(&r.owner, 0, 5).await);
    r.independent().await;
    // The same span and type in two layers: no duplicate; twice in one layer: CONFLICT.
    let a1 = id(&r.mark(&r.a.0, 0, 5).await);
    let b1 = id(&r.mark(&r.b.0, 0, 5).await);
    assert_eq!(error_code(&r.mark(&r.a.0, 0, 5).await), "CONFLICT");
    let a2 = id(&r.mark(&r.a.0, 10, 14).await);
    // Each layer counts its own; the document's counts are the curated layer's.
    assert_eq!(r.read(&r.a.0, Value::Null).await, (1, vec!["حسینؑ".into(), "علیؑ".into()], 2));
    assert_eq!(r.read(&r.b.0, Value::Null).await, (1, vec!["حسینؑ".into()], 1));
    assert_eq!(r.read(&r.owner, Value::Null).await, (1, vec!["حسینؑ".into()], 1));
    // Managers read every layer; an annotator never another annotator's, a viewer none.
    assert_eq!(r.read(&r.owner, r.layer_of(&r.a)).await, (1, vec!["حسینؑ".into(), "علیؑ".into()], 2));
    for (token, layer) in
        [(&r.b.0, r.layer_of(&r.a)), (&r.viewer.0, r.layer_of(&r.a)), (&r.viewer.0, r.layer_of(&r.viewer))]
    {
        let refused = r.app.gql(Some(token), LAYER, json!({"d": r.doc, "l": layer})).await;
        assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    }
    let both =
        r.app.gql(Some(&r.owner), LAYER, json!({"d": r.doc, "l": {"annotatorId": r.a.1, "curated": true}})).await;
    assert_eq!(error_code(&both), "BAD_USER_INPUT");
    // Another annotator's entity is as unknown as a random id, to read or to change.
    let one = "query($id: ID!) { entity(id: $id) { id } }";
    assert_eq!(error_code(&r.app.gql(Some(&r.b.0), one, json!({"id": a1})).await), "NOT_FOUND");
    for (m, vars) in [
        ("mutation($id: ID!) { verifyEntity(id: $id) { id } }", json!({"id": a1})),
        ("mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": a1})),
        ("mutation($id: ID!) { updateEntity(id: $id, input: {notes: \"x\"}) { id } }", json!({"id": a1})),
    ] {
        assert_eq!(error_code(&r.app.gql(Some(&r.b.0), m, vars).await), "NOT_FOUND");
    }
    // An annotator writes only their own layer.
    let curated = r
        .app
        .gql(
            Some(&r.a.0),
            CREATE,
            json!({"i": {"documentId": r.doc, "entityTypeId": r.person, "start": 10, "end": 14, "layer": {"curated": true}}}),
        )
        .await;
    assert_eq!(error_code(&curated), "FORBIDDEN");
    // Relationships stay within a layer.
    let relate = "mutation($i: CreateEntityRelationshipInput!) { createEntityRelationship(input: $i) { id } }";
    let across = r
        .app
        .gql(
            Some(&r.owner),
            relate,
            json!({"i": {"sourceEntityId": a1, "targetEntityId": b1, "relationshipType": "RELATED_TO"}}),
        )
        .await;
    assert_eq!(error_code(&across), "BAD_USER_INPUT", "{across}");
    r.app
        .ok(
            Some(&r.a.0),
            relate,
            json!({"i": {"sourceEntityId": a1, "targetEntityId": a2, "relationshipType": "RELATED_TO"}}),
        )
        .await;
    // Verification and deletion move the layer's counts only.
    let verify = "mutation($id: ID!) { verifyEntity(id: $id) { isVerified } }";
    r.app.ok(Some(&r.a.0), verify, json!({"id": a2})).await;
    let verified = "query($d: ID!, $l: LayerInput) { document(id: $d) { verifiedEntities entities(layer: $l, filter: {isVerified: true}) { totalCount } } }";
    let v = r.app.ok(Some(&r.a.0), verified, json!({"d": r.doc, "l": null})).await;
    assert_eq!(
        (v["document"]["verifiedEntities"].as_u64(), v["document"]["entities"]["totalCount"].as_u64()),
        (Some(0), Some(1))
    );
    r.app.ok(Some(&r.a.0), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": a2})).await;
    assert_eq!(r.read(&r.a.0, Value::Null).await, (1, vec!["حسینؑ".into()], 1));
    // A manager changes an annotator's layer.
    r.app.ok(Some(&r.owner), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": a1})).await;
    assert_eq!(r.read(&r.a.0, Value::Null).await, (1, vec![], 0));
    assert_eq!(r.read(&r.b.0, Value::Null).await, (1, vec!["حسینؑ".into()], 1));
    // An edit of the content moves (and drops) the entities of every layer, each layer's
    // counts with them.
    let edit = "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c) { currentVersion } }";
    r.app.ok(Some(&r.owner), edit, json!({"id": r.doc, "c": "ابن علیؑ کربلا میں عباسؑ"})).await;
    assert_eq!(r.read(&r.b.0, Value::Null).await, (0, vec![], 0));
    let again = id(&r.mark(&r.b.0, 4, 8).await);
    assert!(!again.is_empty());
    assert_eq!(r.read(&r.b.0, Value::Null).await, (0, vec!["علیؑ".into()], 1));
}

/// Many marks of one span at once: exactly one lands in each layer, and each layer's count is
/// what its rows hold.
async fn concurrent_marks_land_once_per_layer(db: Db) {
    let r = round(db).await;
    r.independent().await;
    let tokens: Vec<String> =
        [&r.a.0, &r.b.0, &r.owner].iter().flat_map(|t| std::iter::repeat_n((*t).clone(), 6)).collect();
    let results = futures_util::future::join_all(tokens.iter().map(|t| r.mark(t, 15, 20))).await;
    let mut landed = std::collections::HashMap::<&str, usize>::new();
    for (token, res) in tokens.iter().zip(&results) {
        if res.get("errors").is_none() {
            *landed.entry(token.as_str()).or_default() += 1;
        } else {
            assert_eq!(error_code(res), "CONFLICT", "{res}");
        }
    }
    for t in [&r.a.0, &r.b.0, &r.owner] {
        assert_eq!(landed.get(t.as_str()), Some(&1));
        let (_, texts, total) = r.read(t, Value::Null).await;
        assert_eq!((texts.len(), total), (1, 1));
    }
    assert_eq!(r.read(&r.owner, Value::Null).await.0, 1, "the curated layer holds the owner's one");
}

/// `documentActivity`: an annotator hears the curated layer and their own, never another
/// annotator's layer; a manager hears every layer.
async fn activity_of_a_layer_reaches_only_its_readers(db: Db) {
    let r = round(db).await;
    r.independent().await;
    let probes = std::sync::Mutex::new(std::collections::HashSet::new());
    let mut b = live(&r, &r.b.0, &probes).await;
    let mut owner = live(&r, &r.owner, &probes).await;
    let probes = probes.into_inner().unwrap();
    let mine = id(&r.mark(&r.a.0, 0, 5).await);
    let curated = id(&r.mark(&r.owner, 10, 14).await);
    let theirs = id(&r.mark(&r.b.0, 25, 30).await);
    let heard_by_b = [next_created(&mut b, &probes).await, next_created(&mut b, &probes).await];
    assert_eq!(heard_by_b, [curated.clone(), theirs.clone()], "b never hears a's layer");
    let mut heard_by_owner = Vec::new();
    for _ in 0..3 {
        heard_by_owner.push(next_created(&mut owner, &probes).await);
    }
    assert_eq!(heard_by_owner, [mine, curated, theirs]);
}

/// Subscribes `token` to the document's activity and proves the subscription live: the
/// owner marks and unmarks a curated span until the subscriber hears it.
async fn live(r: &Round, token: &str, probes: &std::sync::Mutex<std::collections::HashSet<String>>) -> WsClient {
    let mut client = WsClient::connect(&r.app, Some(token)).await;
    client.subscribe("a", ACTIVITY, json!({"d": r.doc})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let probe = id(&r.mark(&r.owner, 6, 9).await);
        probes.lock().unwrap().insert(probe.clone());
        r.app.ok(Some(&r.owner), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": probe})).await;
        match tokio::time::timeout(Duration::from_millis(500), client.next()).await {
            Ok(Some(m)) => {
                let mut kind = m["payload"]["data"]["documentActivity"]["kind"].clone();
                while kind != "ENTITY_DELETED" {
                    assert_eq!(kind, "ENTITY_CREATED", "{m}");
                    kind = client.next().await.unwrap()["payload"]["data"]["documentActivity"]["kind"].clone();
                }
                return client;
            }
            Ok(None) => panic!("the socket closed"),
            Err(_) => assert!(std::time::Instant::now() < deadline, "the subscription never heard an event"),
        }
    }
}

/// The id of the next ENTITY_CREATED event that is not a probe's (skipping the probes).
async fn next_created(client: &mut WsClient, probes: &std::collections::HashSet<String>) -> String {
    loop {
        let m = client.next().await.expect("the socket is open");
        let a = &m["payload"]["data"]["documentActivity"];
        let entity = a["entityIds"][0].as_str().unwrap().to_owned();
        if probes.contains(&entity) {
            continue;
        }
        assert_eq!(a["kind"], "ENTITY_CREATED", "{m}");
        return entity;
    }
}

const FINISH: &str = "mutation($id: ID!) { finishAssignment(id: $id) { id state startedAt finishedAt } }";
const SET_STATE: &str =
    "mutation($id: ID!, $s: AssignmentState!) { setAssignmentState(id: $id, state: $s) { id state finishedAt } }";
const MINE: &str = "query($p: ID!) { myAssignments(projectId: $p, first: 10) { totalCount edges { node { id state startedAt document { id } } } } }";
const COUNTS: &str = "query($p: ID!) { assignmentCounts(projectId: $p) { annotatorId state count } }";

impl Round {
    async fn mark_in(&self, token: &str, doc: &str, start: u32, end: u32) -> Value {
        self.mark_as(token, doc, &self.person, start, end).await
    }

    /// (document id, state) of `token`'s assignments, oldest first.
    async fn mine(&self, token: &str) -> Vec<(String, String)> {
        let d = self.app.ok(Some(token), MINE, json!({"p": self.project})).await;
        d["myAssignments"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["node"]["document"]["id"].as_str().unwrap().to_owned(),
                    e["node"]["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

fn assignment_of(list: &Value, doc: &str, annotator: &str) -> String {
    list.as_array()
        .unwrap()
        .iter()
        .find(|a| a["document"]["id"] == doc && a["annotator"]["id"] == annotator)
        .unwrap_or_else(|| panic!("no assignment of {doc} to {annotator} in {list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn assignments_move_through_their_states(db: Db) {
    let r = round(db).await;
    let doc2 = create_document(&r.app, &r.owner, &r.project, "Two", "عباسؑ علمدار").await;
    let doc3 = create_document(&r.app, &r.owner, &r.project, "Three", "فرات پر علمدار").await;
    let docs = json!([r.doc, doc2, doc3]);
    let spread = json!({"i": {"projectId": r.project, "documentIds": docs, "annotatorIds": [r.a.1, r.b.1], "annotatorsPerDocument": 1}});
    // Only an INDEPENDENT project is assigned, only by a manager, only to annotators.
    assert_eq!(error_code(&r.app.gql(Some(&r.owner), ASSIGN, spread.clone()).await), "BAD_USER_INPUT");
    r.app.ok(Some(&r.owner), MODE, json!({"id": r.project, "m": "INDEPENDENT"})).await;
    assert_eq!(error_code(&r.app.gql(Some(&r.a.0), ASSIGN, spread.clone()).await), "FORBIDDEN");
    let to_viewer = json!({"i": {"projectId": r.project, "documentIds": [r.doc], "annotatorIds": [r.viewer.1]}});
    assert_eq!(error_code(&r.app.gql(Some(&r.owner), ASSIGN, to_viewer).await), "BAD_USER_INPUT");
    let too_many = json!({"i": {"projectId": r.project, "documentIds": [r.doc], "annotatorIds": [r.a.1], "annotatorsPerDocument": 2}});
    assert_eq!(error_code(&r.app.gql(Some(&r.owner), ASSIGN, too_many).await), "BAD_USER_INPUT");
    // A spread, balanced and in order: a gets the first and third, b the second.
    let made = r.app.ok(Some(&r.owner), ASSIGN, spread.clone()).await["assignDocuments"].clone();
    assert_eq!(made.as_array().unwrap().len(), 3);
    assert!(made.as_array().unwrap().iter().all(|a| a["state"] == "NEW" && a["startedAt"].is_null()));
    assert_eq!(r.mine(&r.a.0).await, [(r.doc.clone(), "NEW".into()), (doc3.clone(), "NEW".into())]);
    assert_eq!(r.mine(&r.b.0).await, [(doc2.clone(), "NEW".into())]);
    // Spreading again adds nothing: every document has its one annotator.
    let again = r.app.ok(Some(&r.owner), ASSIGN, spread).await["assignDocuments"].clone();
    assert_eq!(again, made);
    let mine = assignment_of(&made, &r.doc, &r.a.1);
    // Only an assigned annotator edits their layer; the first change starts the assignment.
    assert_eq!(error_code(&r.mark_in(&r.a.0, &doc2, 0, 5).await), "FORBIDDEN");
    id(&r.mark_in(&r.a.0, &r.doc, 0, 5).await);
    assert_eq!(r.mine(&r.a.0).await[0].1, "IN_PROGRESS");
    // Finished: the layer refuses edits, the annotator's and the managers' alike.
    assert_eq!(error_code(&r.app.gql(Some(&r.b.0), FINISH, json!({"id": mine})).await), "NOT_FOUND");
    let done = r.app.ok(Some(&r.a.0), FINISH, json!({"id": mine})).await["finishAssignment"].clone();
    assert_eq!(done["state"], "FINISHED");
    assert!(done["startedAt"].is_string() && done["finishedAt"].is_string());
    assert_eq!(error_code(&r.mark_in(&r.a.0, &r.doc, 10, 14).await), "CONFLICT");
    let owner_into_a = r
        .app
        .gql(
            Some(&r.owner),
            CREATE,
            json!({"i": {"documentId": r.doc, "entityTypeId": r.person, "start": 10, "end": 14, "layer": {"annotatorId": r.a.1}}}),
        )
        .await;
    assert_eq!(error_code(&owner_into_a), "CONFLICT");
    assert_eq!(error_code(&r.app.gql(Some(&r.a.0), FINISH, json!({"id": mine})).await), "CONFLICT");
    // Managers reopen, lock and ignore; annotators do not.
    assert_eq!(
        error_code(&r.app.gql(Some(&r.a.0), SET_STATE, json!({"id": mine, "s": "IN_PROGRESS"})).await),
        "FORBIDDEN"
    );
    let reopened = r.app.ok(Some(&r.owner), SET_STATE, json!({"id": mine, "s": "IN_PROGRESS"})).await;
    assert_eq!(reopened["setAssignmentState"]["finishedAt"], Value::Null);
    id(&r.mark_in(&r.a.0, &r.doc, 10, 14).await);
    r.app.ok(Some(&r.owner), SET_STATE, json!({"id": mine, "s": "LOCKED"})).await;
    assert_eq!(error_code(&r.mark_in(&r.a.0, &r.doc, 15, 20).await), "CONFLICT");
    // Counts by annotator and state, for managers.
    let counts = r.app.ok(Some(&r.owner), COUNTS, json!({"p": r.project})).await["assignmentCounts"].clone();
    let mut got: Vec<(String, String, u64)> = counts
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["annotatorId"].as_str().unwrap().to_owned(),
                c["state"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (r.a.1.clone(), "LOCKED".to_owned(), 1),
        (r.a.1.clone(), "NEW".to_owned(), 1),
        (r.b.1.clone(), "NEW".to_owned(), 1),
    ];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(error_code(&r.app.gql(Some(&r.a.0), COUNTS, json!({"p": r.project})).await), "FORBIDDEN");
    // Every change is audited; finishing raises `assignment.finished` through its audit row.
    let audit = "query($p: ID!) { auditLog(filter: {projectId: $p, actions: [\"assignment.assign\", \"assignment.finish\", \"assignment.set_state\"]}, first: 50) { edges { node { action } } } }";
    let logs = r.app.ok(Some(&r.owner), audit, json!({"p": r.project})).await;
    let mut actions: Vec<String> = logs["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap().to_owned())
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        ["assignment.assign", "assignment.assign", "assignment.finish", "assignment.set_state", "assignment.set_state"]
    );
    assert_eq!(
        nishan_domain::webhook::WebhookEvent::of_action("assignment.finish").map(|e| e.as_str()),
        Some("assignment.finished")
    );
}

/// An IN_PROGRESS assignment untouched for the project's `abandonAfterHours` goes back to NEW
/// at the next sweep; a touched one, a NEW one and one of a project without the setting stay.
async fn untouched_assignments_are_abandoned(db: Db) {
    let r = round(db).await;
    let doc2 = create_document(&r.app, &r.owner, &r.project, "Two", "عباسؑ علمدار").await;
    r.app.ok(Some(&r.owner), MODE, json!({"id": r.project, "m": "INDEPENDENT"})).await;
    let set =
        "mutation($id: ID!, $h: Int) { updateProject(id: $id, input: {abandonAfterHours: $h}) { abandonAfterHours } }";
    assert_eq!(error_code(&r.app.gql(Some(&r.owner), set, json!({"id": r.project, "h": 0})).await), "BAD_USER_INPUT");
    let hours = r.app.ok(Some(&r.owner), set, json!({"id": r.project, "h": 2})).await;
    assert_eq!(hours["updateProject"]["abandonAfterHours"], 2);
    let both = json!({"i": {"projectId": r.project, "documentIds": [r.doc, doc2], "annotatorIds": [r.a.1]}});
    r.app.ok(Some(&r.owner), ASSIGN, both).await;
    id(&r.mark_in(&r.a.0, &r.doc, 0, 5).await);
    let now = chrono::Utc::now();
    let swept = nishan_api::retention::sweep(&r.app.state, now + chrono::Duration::minutes(119)).await.unwrap();
    assert_eq!(swept.abandoned_assignments, 0);
    assert_eq!(r.mine(&r.a.0).await, [(r.doc.clone(), "IN_PROGRESS".into()), (doc2.clone(), "NEW".into())]);
    let swept = nishan_api::retention::sweep(&r.app.state, now + chrono::Duration::minutes(121)).await.unwrap();
    assert_eq!(swept.abandoned_assignments, 1);
    assert_eq!(r.mine(&r.a.0).await, [(r.doc.clone(), "NEW".into()), (doc2, "NEW".into())]);
    // Its layer is kept; the next change starts it again.
    assert_eq!(r.read(&r.a.0, Value::Null).await.1, ["حسینؑ"]);
    id(&r.mark_in(&r.a.0, &r.doc, 10, 14).await);
    assert_eq!(r.mine(&r.a.0).await[0].1, "IN_PROGRESS");
    r.app.ok(Some(&r.owner), set, json!({"id": r.project, "h": null})).await;
    let swept = nishan_api::retention::sweep(&r.app.state, now + chrono::Duration::days(30)).await.unwrap();
    assert_eq!(swept.abandoned_assignments, 0);
}

/// Two spreads at once plan one after the other: every document gets its one annotator once,
/// and the load stays balanced.
async fn concurrent_spreads_assign_each_pair_once(db: Db) {
    let r = round(db).await;
    r.app.ok(Some(&r.owner), MODE, json!({"id": r.project, "m": "INDEPENDENT"})).await;
    let mut docs = vec![r.doc.clone()];
    for (i, text) in ["عباسؑ علمدار", "فرات پر علمدار", "کربلا کربلا"].into_iter().enumerate()
    {
        docs.push(create_document(&r.app, &r.owner, &r.project, &format!("D{i}"), text).await);
    }
    let spread = json!({"i": {"projectId": r.project, "documentIds": docs, "annotatorIds": [r.a.1, r.b.1], "annotatorsPerDocument": 1}});
    let runs = futures_util::future::join_all((0..4).map(|_| r.app.gql(Some(&r.owner), ASSIGN, spread.clone()))).await;
    for run in &runs {
        assert!(run.get("errors").is_none(), "{run}");
        assert_eq!(run["data"]["assignDocuments"].as_array().unwrap().len(), 4, "{run}");
    }
    let (a, b) = (r.mine(&r.a.0).await, r.mine(&r.b.0).await);
    assert_eq!((a.len(), b.len()), (2, 2));
    let mut all: Vec<String> = a.into_iter().chain(b).map(|(d, _)| d).collect();
    all.sort();
    docs.sort();
    assert_eq!(all, docs);
}

/// Edits racing `finishAssignment`: each edit lands before FINISHED or is refused with
/// CONFLICT; none lands after, and none that answered success is missing.
async fn an_edit_racing_finish_lands_before_it_or_not_at_all(db: Db) {
    let r = round(db).await;
    r.independent().await;
    let made = r
        .app
        .ok(
            Some(&r.owner),
            ASSIGN,
            json!({"i": {"projectId": r.project, "documentIds": [r.doc], "annotatorIds": [r.a.1]}}),
        )
        .await["assignDocuments"]
        .clone();
    let mine = assignment_of(&made, &r.doc, &r.a.1);
    let spans = [(0, 5), (6, 9), (10, 14), (15, 20), (21, 24), (25, 30)];
    let edits = futures_util::future::join_all(spans.iter().map(|(s, e)| r.mark(&r.a.0, *s, *e)));
    let finish = r.app.gql(Some(&r.a.0), FINISH, json!({"id": mine}));
    let (edits, finish) = tokio::join!(edits, finish);
    assert!(finish.get("errors").is_none(), "{finish}");
    let finished_at: chrono::DateTime<chrono::Utc> =
        finish["data"]["finishAssignment"]["finishedAt"].as_str().unwrap().parse().unwrap();
    let mut landed = 0;
    for e in &edits {
        if e.get("errors").is_none() {
            landed += 1;
        } else {
            assert_eq!(error_code(e), "CONFLICT", "{e}");
        }
    }
    let q = "query($d: ID!) { document(id: $d) { entities(first: 100) { totalCount edges { node { createdAt } } } } }";
    let d = r.app.ok(Some(&r.a.0), q, json!({"d": r.doc})).await;
    let layer = &d["document"]["entities"];
    assert_eq!(layer["totalCount"].as_u64(), Some(landed));
    assert_eq!(layer["edges"].as_array().unwrap().len() as u64, landed);
    for e in layer["edges"].as_array().unwrap() {
        let at: chrono::DateTime<chrono::Utc> = e["node"]["createdAt"].as_str().unwrap().parse().unwrap();
        assert!(at <= finished_at, "an entity created at {at} after the finish at {finished_at}");
    }
    assert_eq!(error_code(&r.mark(&r.a.0, 0, 5).await), "CONFLICT");
}

on_both_databases!(
    switching_to_independent_keeps_the_entities_as_the_curated_layer,
    each_annotator_reads_and_writes_their_own_layer,
    concurrent_marks_land_once_per_layer,
    activity_of_a_layer_reaches_only_its_readers,
    assignments_move_through_their_states,
    untouched_assignments_are_abandoned,
    concurrent_spreads_assign_each_pair_once,
    an_edit_racing_finish_lands_before_it_or_not_at_all,
);
