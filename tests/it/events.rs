//! Events that arrive, and access that ends: document activity and job progress across
//! replicas (PostgreSQL LISTEN/NOTIFY and its `bus_events` log), an event too large for a
//! NOTIFY, a listener that reconnects, a final event that never comes, imports that publish,
//! the errors of a refused subscription, and subscribers who sign out, whose session expires,
//! who are removed from the project or change role.

use crate::common;

use std::time::Duration;

use common::{Db, TestApp, WsClient, create_document, entity_type_ids, error_code};
use serde_json::{Value, json};

const ACTIVITY: &str =
    "subscription($d: ID!) { documentActivity(documentId: $d) { kind entityIds count version actorId } }";
const PROGRESS: &str = "subscription($id: ID!) { jobProgress(jobId: $id) { jobId status progress } }";
const CREATE: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
const ADD: &str = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const START: &str = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id status } }";

/// A project with a document, its owner and a viewer.
struct Shared {
    owner: String,
    viewer: String,
    viewer_id: String,
    project: String,
    doc: String,
    location: String,
}

async fn shared(app: &TestApp, content: &str) -> Shared {
    let (owner, _) = app.register("anis").await;
    let (viewer, viewer_id) = app.register("dabir").await;
    let project = app.create_project(&owner, "Together", json!({})).await;
    app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": viewer_id, "role": "VIEWER"}})).await;
    let doc = create_document(app, &owner, &project, "Shared", content).await;
    let location = entity_type_ids(app).await["LOCATION"].clone();
    Shared { owner, viewer, viewer_id, project, doc, location }
}

/// Marks `start..end` as a LOCATION; returns the entity's id.
async fn mark(app: &TestApp, s: &Shared, start: u32, end: u32) -> String {
    let data = app
        .ok(
            Some(&s.owner),
            CREATE,
            json!({"i": {"documentId": s.doc, "entityTypeId": s.location, "start": start, "end": end}}),
        )
        .await;
    data["createEntity"]["id"].as_str().unwrap().to_owned()
}

/// The next `next` of operation `id`, as its `data` field (panics on anything else).
async fn next_data(client: &mut WsClient, id: &str, field: &str) -> Value {
    let message = client.next().await.expect("the socket is open");
    assert_eq!((message["type"].as_str(), message["id"].as_str()), (Some("next"), Some(id)), "{message}");
    message["payload"]["data"][field].clone()
}

/// Subscribes and proves the subscription is live: the subscription starts asynchronously,
/// so the test marks (and unmarks) a span until an event of it is heard, then reads up to the
/// deletion.
async fn watch_activity(app: &TestApp, writer: &TestApp, s: &Shared, token: &str) -> WsClient {
    watch_activity_as(app, writer, s, Some(token)).await
}

async fn watch_activity_as(app: &TestApp, writer: &TestApp, s: &Shared, token: Option<&str>) -> WsClient {
    let mut client = WsClient::connect(app, token).await;
    client.subscribe("a", ACTIVITY, json!({"d": s.doc})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let id = mark(writer, s, 0, 5).await;
        writer.ok(Some(&s.owner), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": id})).await;
        match tokio::time::timeout(Duration::from_millis(500), client.next()).await {
            Ok(Some(m)) => {
                let mut kind = m["payload"]["data"]["documentActivity"]["kind"].clone();
                while kind != "ENTITY_DELETED" {
                    assert_eq!(kind, "ENTITY_CREATED", "{m}");
                    kind = next_data(&mut client, "a", "documentActivity").await["kind"].clone();
                }
                return client;
            }
            Ok(None) => panic!("the socket closed"),
            Err(_) => assert!(std::time::Instant::now() < deadline, "the subscription never heard an event"),
        }
    }
}

/// Two servers on one database: on PostgreSQL with their own buses (as real replicas), on
/// SQLite sharing one (one process).
async fn replicas(db: Db, configure: impl Fn(&mut nishan_api::config::Settings) + Copy) -> (TestApp, TestApp) {
    let a = TestApp::spawn_with(db, configure).await;
    let b = TestApp::spawn_on(&a, configure).await;
    (a, b)
}

/// Waits until the replica's listener is connected (PostgreSQL), and returns its state.
async fn bridge_connected(app: &TestApp) -> nishan_infrastructure::events::BridgeState {
    let mut bridge = app.state.events.bridge().expect("a PostgreSQL bus has a bridge");
    let state = tokio::time::timeout(Duration::from_secs(20), bridge.wait_for(|s| s.connected))
        .await
        .expect("the listener connects within 20 s")
        .unwrap();
    *state
}

async fn activity_reaches_a_subscriber_on_another_replica(db: Db) {
    let (a, b) = replicas(db, |s| s.workers = 0).await;
    if db == Db::Postgres {
        bridge_connected(&b).await;
    }
    let text = "کربلا میں حسینؑ";
    let s = shared(&a, text).await;
    let mut viewer = watch_activity(&b, &a, &s, &s.viewer).await;
    let created = mark(&a, &s, 0, 5).await;
    a.ok(Some(&s.owner), "mutation($id: ID!) { verifyEntity(id: $id) { id } }", json!({"id": created})).await;
    a.ok(Some(&s.owner), "mutation($id: ID!) { unverifyEntity(id: $id) { id } }", json!({"id": created})).await;
    a.ok(
        Some(&s.owner),
        "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c) { currentVersion } }",
        json!({"id": s.doc, "c": format!("{text} ابن علیؑ")}),
    )
    .await;
    let got = next_data(&mut viewer, "a", "documentActivity").await;
    assert_eq!((got["kind"].as_str(), got["entityIds"].clone()), (Some("ENTITY_CREATED"), json!([created])));
    let owner_id = a.ok(Some(&s.owner), "{ me { id } }", json!({})).await["me"]["id"].clone();
    assert_eq!(got["actorId"], owner_id, "the event names who did it");
    assert_eq!(next_data(&mut viewer, "a", "documentActivity").await["kind"], "ENTITY_VERIFIED");
    assert_eq!(next_data(&mut viewer, "a", "documentActivity").await["kind"], "ENTITY_UNVERIFIED");
    let version = next_data(&mut viewer, "a", "documentActivity").await;
    assert_eq!((version["kind"].as_str(), version["version"].as_u64()), (Some("VERSION_CREATED"), Some(2)));
}

/// An `annotateAllOccurrences` of 300 words sends 300 ids (about 12 KB of JSON): more than a
/// NOTIFY carries, so it crosses by reference.
async fn an_event_too_large_for_a_notify_crosses_replicas(db: Db) {
    let (a, b) = replicas(db, |s| s.workers = 0).await;
    if db == Db::Postgres {
        bridge_connected(&b).await;
    }
    let s = shared(&a, &vec!["کربلا"; 300].join(" ")).await;
    let mut viewer = watch_activity(&b, &a, &s, &s.viewer).await;
    let created = a
        .ok(
            Some(&s.owner),
            "mutation($d: ID!, $t: ID!) { annotateAllOccurrences(documentId: $d, text: \"کربلا\", entityTypeId: $t) }",
            json!({"d": s.doc, "t": s.location}),
        )
        .await;
    assert_eq!(created["annotateAllOccurrences"], 300);
    let got = next_data(&mut viewer, "a", "documentActivity").await;
    assert_eq!(got["kind"], "ENTITY_CREATED");
    assert_eq!(got["count"], 300);
    assert_eq!(got["entityIds"].as_array().unwrap().len(), 300);
    assert!(got.to_string().len() > 8000, "the event is larger than a NOTIFY payload");
    if db == Db::Postgres {
        assert!(a.count("SELECT id FROM bus_events WHERE octet_length(payload) > 8000").await >= 1);
    }
}

async fn imports_publish_activity(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let text = "کربلا میں حسینؑ";
    let s = shared(&app, text).await;
    let mut viewer = watch_activity(&app, &app, &s, &s.viewer).await;
    let data = json!({"text": text, "label": [[0, 5, "LOCATION"], [10, 15, "PERSON"]]}).to_string();
    let r = app
        .ok(
            Some(&s.owner),
            "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: JSONL, data: $data) { created } }",
            json!({"d": s.doc, "data": data}),
        )
        .await;
    assert_eq!(r["importEntities"]["created"], 2);
    let got = next_data(&mut viewer, "a", "documentActivity").await;
    assert_eq!((got["kind"].as_str(), got["count"].as_u64()), (Some("ENTITIES_IMPORTED"), Some(2)), "{got}");
    // A dry run stores nothing, and says nothing.
    app.ok(
        Some(&s.owner),
        "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: JSONL, data: $data, dryRun: true) { created } }",
        json!({"d": s.doc, "data": data}),
    )
    .await;
    mark(&app, &s, 6, 9).await;
    assert_eq!(next_data(&mut viewer, "a", "documentActivity").await["kind"], "ENTITY_CREATED");
}

/// The answer to a subscription that is refused at once: a `next` with the error, then
/// `complete`.
async fn refusal(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> String {
    let mut client = WsClient::connect(app, token).await;
    client.subscribe("1", query, variables).await;
    let answer = client.next().await.unwrap();
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(answer["payload"]["data"], Value::Null, "{answer}");
    assert_eq!(client.next().await.unwrap()["type"], "complete");
    answer["payload"]["errors"][0]["extensions"]["code"].as_str().unwrap().to_owned()
}

async fn refused_subscriptions_say_why(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let s = shared(&app, "کربلا میں حسینؑ").await;
    let (stranger, _) = app.register("stranger").await;
    let job = app.ok(Some(&s.owner), START, json!({"i": {"documentId": s.doc}})).await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = uuid::Uuid::new_v4().to_string();
    for (query, var, known) in [(PROGRESS, "id", job.as_str()), (ACTIVITY, "d", s.doc.as_str())] {
        // As `processingJob` and `document` answer: NOT_FOUND for what does not exist and
        // for what the caller may not read alike; UNAUTHENTICATED for an anonymous caller.
        assert_eq!(refusal(&app, Some(&stranger), query, json!({var: unknown})).await, "NOT_FOUND");
        assert_eq!(refusal(&app, Some(&stranger), query, json!({var: known})).await, "NOT_FOUND");
        assert_eq!(refusal(&app, None, query, json!({var: unknown})).await, "UNAUTHENTICATED");
        assert_eq!(refusal(&app, None, query, json!({var: known})).await, "UNAUTHENTICATED");
    }
    let q = app.gql(Some(&stranger), "query($id: ID!) { processingJob(id: $id) { id } }", json!({"id": unknown})).await;
    assert_eq!(error_code(&q), "NOT_FOUND");
}

/// When the last final event is lost (here: the job's row is finished behind the bus's
/// back, as by a worker whose event never went out), the subscription still ends, from the
/// row.
async fn a_lost_final_event_does_not_leave_the_subscriber_waiting(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.workers = 0;
        s.job_progress_recheck_ms = 200;
    })
    .await;
    let s = shared(&app, "کربلا میں حسینؑ").await;
    let job = app.ok(Some(&s.owner), START, json!({"i": {"documentId": s.doc}})).await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut client = WsClient::connect(&app, Some(&s.viewer)).await;
    client.subscribe("p", PROGRESS, json!({"id": job})).await;
    assert_eq!(next_data(&mut client, "p", "jobProgress").await["status"], "QUEUED");
    // The database's only job (ids are blobs on SQLite, text would not match them).
    app.execute("UPDATE processing_jobs SET status = 'COMPLETED', progress = 100 WHERE status = 'QUEUED'").await;
    let last = next_data(&mut client, "p", "jobProgress").await;
    assert_eq!((last["status"].as_str(), last["progress"].as_u64()), (Some("COMPLETED"), Some(100)), "{last}");
    assert_eq!(client.next().await.unwrap(), json!({"type": "complete", "id": "p"}));
}

/// PostgreSQL: the replica's listener loses its connection (its backend is terminated). What
/// is published meanwhile reaches its subscribers once it reconnects, read from the log; a
/// job that ends meanwhile ends its subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_reconnects_loses_no_event() {
    let (a, b) = replicas(Db::Postgres, |s| {
        s.workers = 0;
        // Long enough that the test publishes while the listener is away.
        s.events_reconnect_ms = 1500;
        // The job's row is not re-read on a timer within this test.
        s.job_progress_recheck_ms = 600_000;
    })
    .await;
    let before = bridge_connected(&b).await;
    let s = shared(&a, "کربلا میں حسینؑ ابن علیؑ").await;
    let mut viewer = watch_activity(&b, &a, &s, &s.viewer).await;
    let job = a.ok(Some(&s.owner), START, json!({"i": {"documentId": s.doc}})).await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut follower = WsClient::connect(&b, Some(&s.viewer)).await;
    follower.subscribe("p", PROGRESS, json!({"id": job})).await;
    assert_eq!(next_data(&mut follower, "p", "jobProgress").await["status"], "QUEUED");

    let mut bridge = b.state.events.bridge().unwrap();
    a.execute(&format!("SELECT pg_terminate_backend({})", before.backend_pid.unwrap())).await;
    tokio::time::timeout(Duration::from_secs(10), bridge.wait_for(|s| !s.connected))
        .await
        .expect("the replica notices its listener is gone")
        .unwrap();
    // Published while replica b does not listen.
    let created = mark(&a, &s, 0, 5).await;
    let cancelled = a
        .ok(Some(&s.owner), "mutation($id: ID!) { cancelProcessingJob(id: $id) { status } }", json!({"id": job}))
        .await;
    assert_eq!(cancelled["cancelProcessingJob"]["status"], "CANCELLED");
    assert!(!bridge.borrow().connected, "the events went out while the listener was away");

    let got = next_data(&mut viewer, "a", "documentActivity").await;
    assert_eq!((got["kind"].as_str(), got["entityIds"].clone()), (Some("ENTITY_CREATED"), json!([created])));
    assert_eq!(next_data(&mut follower, "p", "jobProgress").await["status"], "CANCELLED");
    assert_eq!(follower.next().await.unwrap(), json!({"type": "complete", "id": "p"}));
    let after = *bridge.borrow();
    assert!(after.connected && after.connections == before.connections + 1, "{after:?}");
    // And it goes on delivering.
    mark(&a, &s, 10, 15).await;
    assert_eq!(next_data(&mut viewer, "a", "documentActivity").await["kind"], "ENTITY_CREATED");
}

/// PostgreSQL: a listener away for longer than the events are kept (`NISHAN_EVENTS_RETENTION_SECS`)
/// may have lost some for good: after what it could read from the log, its subscribers are told
/// to re-read (`RESYNC`). Away for less, they are not (the test above: the next event after the
/// replayed one is the next entity).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_away_longer_than_the_retention_says_resync() {
    let (a, b) = replicas(Db::Postgres, |s| {
        s.workers = 0;
        s.events_reconnect_ms = 1500;
        s.events_retention_secs = 1;
    })
    .await;
    let before = bridge_connected(&b).await;
    let s = shared(&a, "کربلا میں حسینؑ ابن علیؑ").await;
    let mut viewer = watch_activity(&b, &a, &s, &s.viewer).await;

    let mut bridge = b.state.events.bridge().unwrap();
    a.execute(&format!("SELECT pg_terminate_backend({})", before.backend_pid.unwrap())).await;
    tokio::time::timeout(Duration::from_secs(10), bridge.wait_for(|s| !s.connected))
        .await
        .expect("the replica notices its listener is gone")
        .unwrap();
    let created = mark(&a, &s, 0, 5).await;

    // What the log still holds comes first (the event, unless a replica has pruned it by
    // now), then the cue to re-read.
    let mut got = next_data(&mut viewer, "a", "documentActivity").await;
    if got["kind"] == "ENTITY_CREATED" {
        assert_eq!(got["entityIds"], json!([created]));
        got = next_data(&mut viewer, "a", "documentActivity").await;
    }
    assert_eq!((got["kind"].as_str(), got["entityIds"].clone()), (Some("RESYNC"), json!([])), "{got}");
    assert!(bridge.borrow().connected);
    // Re-reading finds what may have been missed.
    let read = b
        .ok(
            Some(&s.viewer),
            "query($d: ID!) { document(id: $d) { entities { edges { node { id } } } } }",
            json!({"d": s.doc}),
        )
        .await;
    assert_eq!(read["document"]["entities"]["edges"][0]["node"]["id"].as_str(), Some(created.as_str()), "{read}");
    // And it goes on delivering.
    mark(&a, &s, 10, 15).await;
    let next = next_data(&mut viewer, "a", "documentActivity").await;
    assert_eq!(next["kind"], "ENTITY_CREATED", "{next} {:?} {before:?}", *bridge.borrow());
}

/// Linking a mention to a knowledge entry changes the mention (`Entity.knowledgeItem`): its
/// document's viewers hear it, whichever way it was linked.
async fn linking_mentions_is_activity(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = shared(&app, "کربلا میں حسینؑ ابن علیؑ").await;
    let mut viewer = watch_activity(&app, &app, &s, &s.viewer).await;
    let e = mark(&app, &s, 0, 5).await;
    assert_eq!(next_data(&mut viewer, "a", "documentActivity").await["kind"], "ENTITY_CREATED");
    let heard = |v: Value| (v["kind"].as_str().map(str::to_owned), v["entityIds"].clone());
    let updated = (Some("ENTITY_UPDATED".to_owned()), json!([e]));

    let from = "mutation($e: ID!) { createKnowledgeItemFromEntity(entityId: $e) { id } }";
    app.ok(Some(&s.owner), from, json!({"e": e})).await;
    assert_eq!(heard(next_data(&mut viewer, "a", "documentActivity").await), updated, "created from the mention");
    app.ok(Some(&s.owner), "mutation($e: ID!) { unlinkEntity(entityId: $e) { id } }", json!({"e": e})).await;
    assert_eq!(heard(next_data(&mut viewer, "a", "documentActivity").await), updated, "unlinked");
    let matching = "mutation($p: ID!) { linkMatchingMentions(projectId: $p) { linked } }";
    let linked = app.ok(Some(&s.owner), matching, json!({"p": s.project})).await;
    assert_eq!(linked["linkMatchingMentions"]["linked"], 1);
    assert_eq!(heard(next_data(&mut viewer, "a", "documentActivity").await), updated, "linked by its alias");
}

/// The message that ends an operation whose caller lost access (events sent before the change
/// may come first); then the operation is over: a query sent after it is answered, with
/// nothing more of the operation before the answer.
async fn ended(client: &mut WsClient, id: &str) -> String {
    let code = loop {
        let message = client.next().await.expect("the socket stays open");
        assert_eq!(message["id"], id, "{message}");
        match message["type"].as_str() {
            Some("next") => continue,
            Some("error") => break message["payload"][0]["extensions"]["code"].as_str().unwrap().to_owned(),
            _ => panic!("expected the operation's error: {message}"),
        }
    };
    client.subscribe("after", "{ __typename }", json!({})).await;
    let answer = client.next().await.unwrap();
    assert_eq!((answer["type"].as_str(), answer["id"].as_str()), (Some("next"), Some("after")), "{answer}");
    assert_eq!(client.next().await.unwrap(), json!({"type": "complete", "id": "after"}));
    code
}

/// Runs the access-ends scenario with subscribers on `watcher` and changes made on `writer`
/// (the same server, or another replica).
async fn access_ends(writer: &TestApp, watcher: &TestApp) {
    let s = shared(writer, "کربلا میں حسینؑ ابن علیؑ").await;
    let job = writer.ok(Some(&s.owner), START, json!({"i": {"documentId": s.doc}})).await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A role change that keeps access: the viewer's subscriptions go on.
    let mut viewer = watch_activity(watcher, writer, &s, &s.viewer).await;
    let mut progress = WsClient::connect(watcher, Some(&s.viewer)).await;
    progress.subscribe("p", PROGRESS, json!({"id": job})).await;
    assert_eq!(next_data(&mut progress, "p", "jobProgress").await["status"], "QUEUED");
    writer
        .ok(
            Some(&s.owner),
            "mutation($i: UpdateProjectMemberInput!) { updateProjectMember(input: $i) { role } }",
            json!({"i": {"projectId": s.project, "userId": s.viewer_id, "role": "RESEARCHER"}}),
        )
        .await;
    mark(writer, &s, 6, 9).await;
    assert_eq!(next_data(&mut viewer, "a", "documentActivity").await["kind"], "ENTITY_CREATED");
    writer
        .ok(Some(&s.owner), "mutation($id: ID!) { pauseProcessingJob(id: $id) { status } }", json!({"id": job}))
        .await;
    assert_eq!(next_data(&mut progress, "p", "jobProgress").await["status"], "PAUSED");

    // Removed from the project: both operations end with FORBIDDEN, at once (no further
    // event is needed), and nothing follows.
    writer
        .ok(
            Some(&s.owner),
            "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) }",
            json!({"p": s.project, "u": s.viewer_id}),
        )
        .await;
    assert_eq!(ended(&mut viewer, "a").await, "FORBIDDEN");
    assert_eq!(ended(&mut progress, "p").await, "FORBIDDEN");
    // Later activity is not sent either.
    mark(writer, &s, 16, 19).await;
    viewer.subscribe("after", "{ __typename }", json!({})).await;
    assert_eq!(viewer.next().await.unwrap()["id"], "after");

    // Signed out: a member watching from two sessions; logging out of one ends the operations
    // of that session only.
    let (member, member_id) = writer.register("mir").await;
    writer.ok(Some(&s.owner), ADD, json!({"i": {"projectId": s.project, "userId": member_id, "role": "VIEWER"}})).await;
    let (other_session, _) = {
        let r = writer
            .ok(
                None,
                "mutation($i: LoginInput!) { login(input: $i) { token } }",
                json!({"i": {"usernameOrEmail": "mir", "password": common::PASSWORD}}),
            )
            .await;
        (r["login"]["token"].as_str().unwrap().to_owned(), ())
    };
    let mut signed_out = watch_activity(watcher, writer, &s, &member).await;
    let mut still_in = watch_activity(watcher, writer, &s, &other_session).await;
    let mut progress = WsClient::connect(watcher, Some(&member)).await;
    progress.subscribe("p", PROGRESS, json!({"id": job})).await;
    assert_eq!(next_data(&mut progress, "p", "jobProgress").await["status"], "PAUSED");
    writer.ok(Some(&member), "mutation { logout }", json!({})).await;
    assert_eq!(ended(&mut signed_out, "a").await, "UNAUTHENTICATED");
    assert_eq!(ended(&mut progress, "p").await, "UNAUTHENTICATED");
    // The other session of the same user still hears the document.
    let id = mark(writer, &s, 10, 15).await;
    let got = next_data(&mut still_in, "a", "documentActivity").await;
    assert_eq!(got["entityIds"], json!([id]));
    // The connection stays open, but its token signs nothing in any more.
    signed_out.subscribe("me", "{ me { id } }", json!({})).await;
    let me = signed_out.next().await.unwrap();
    assert_eq!(me["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{me}");

    // A password change signs the user's other sessions out: their subscriptions end too.
    let (third_session, _) = {
        let r = writer
            .ok(
                None,
                "mutation($i: LoginInput!) { login(input: $i) { token } }",
                json!({"i": {"usernameOrEmail": "mir", "password": common::PASSWORD}}),
            )
            .await;
        (r["login"]["token"].as_str().unwrap().to_owned(), ())
    };
    writer
        .ok(
            Some(&third_session),
            "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }",
            json!({"i": {"currentPassword": common::PASSWORD, "newPassword": "a-new-marsiya-of-dabir-1875"}}),
        )
        .await;
    assert_eq!(ended(&mut still_in, "a").await, "UNAUTHENTICATED");
}

/// A project that turns private ends its anonymous subscribers' access; one that is deleted,
/// its members'.
async fn visibility_and_deletion_end_access(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (owner, _) = app.register("anis").await;
    let (member, member_id) = app.register("dabir").await;
    let project = app.create_project(&owner, "Open", json!({"isPublic": true, "allowPublicView": true})).await;
    app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": member_id, "role": "VIEWER"}})).await;
    let doc = create_document(&app, &owner, &project, "Open", "کربلا میں حسینؑ").await;
    let location = entity_type_ids(&app).await["LOCATION"].clone();
    let s = Shared {
        owner: owner.clone(),
        viewer: member.clone(),
        viewer_id: member_id,
        project: project.clone(),
        doc,
        location,
    };
    let mut anonymous = watch_activity_as(&app, &app, &s, None).await;
    let mut watcher = watch_activity(&app, &app, &s, &member).await;
    app.ok(
        Some(&owner),
        "mutation($id: ID!) { updateProject(id: $id, input: {isPublic: false}) { isPublic } }",
        json!({"id": project}),
    )
    .await;
    assert_eq!(ended(&mut anonymous, "a").await, "FORBIDDEN");
    // The member reads it still.
    mark(&app, &s, 6, 9).await;
    assert_eq!(next_data(&mut watcher, "a", "documentActivity").await["kind"], "ENTITY_CREATED");
    app.ok(Some(&owner), "mutation($id: ID!) { deleteProject(id: $id) }", json!({"id": project})).await;
    assert_eq!(ended(&mut watcher, "a").await, "FORBIDDEN");
}

/// A job's suggestions are activity without an actor; deleting a suggestion is a rejection.
async fn job_suggestions_and_rejections_are_activity(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = shared(&app, "کربلا میں حسینؑ").await;
    let mut viewer = watch_activity(&app, &app, &s, &s.viewer).await;
    let job = app.ok(Some(&s.owner), START, json!({"i": {"documentId": s.doc}})).await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    common::wait_for_job(&app, &s.owner, &job).await;
    let suggested = next_data(&mut viewer, "a", "documentActivity").await;
    assert_eq!(suggested["kind"], "ENTITY_CREATED", "{suggested}");
    assert_eq!(suggested["actorId"], Value::Null, "a job's suggestions have no actor");
    let first = suggested["entityIds"][0].as_str().unwrap().to_owned();
    app.ok(Some(&s.owner), "mutation($id: ID!) { deleteEntity(id: $id) }", json!({"id": first})).await;
    let rejected = next_data(&mut viewer, "a", "documentActivity").await;
    assert_eq!((rejected["kind"].as_str(), rejected["entityIds"].clone()), (Some("ENTITY_REJECTED"), json!([first])));
}

/// A session that expires ends its subscriptions at their next event (UNAUTHENTICATED); a
/// session still valid goes on hearing the document.
async fn an_expired_session_ends_its_subscriptions(db: Db) {
    let clock = nishan_api::clock::Clock::manual(chrono::Utc::now());
    let app = TestApp::spawn_with_clock(db, |s| s.workers = 0, clock.clone()).await;
    let s = shared(&app, "کربلا میں حسینؑ").await;
    let mut viewer = watch_activity(&app, &app, &s, &s.viewer).await;
    clock.advance(chrono::Duration::days(app.state.settings.session_ttl_days) - chrono::Duration::minutes(1));
    mark(&app, &s, 6, 9).await;
    assert_eq!(next_data(&mut viewer, "a", "documentActivity").await["kind"], "ENTITY_CREATED");
    clock.advance(chrono::Duration::minutes(2));
    mark(&app, &s, 10, 15).await;
    assert_eq!(ended(&mut viewer, "a").await, "UNAUTHENTICATED");
}

async fn access_that_ends_ends_the_subscription(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    access_ends(&app, &app).await;
}

/// PostgreSQL: the subscribers are on one replica, the changes made on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_that_ends_on_another_replica_ends_the_subscription() {
    let (a, b) = replicas(Db::Postgres, |s| s.workers = 0).await;
    bridge_connected(&b).await;
    access_ends(&a, &b).await;
}

/// Waits until the server's shared `documentActivity` renders have `members` subscribers in
/// `groups` groups (a subscriber joins its group as the server handles its `subscribe`).
async fn sharing(app: &TestApp, groups: usize, members: usize) {
    let hub = &app.state.activity;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while (hub.groups(), hub.members()) != (groups, members) {
        assert!(
            std::time::Instant::now() < deadline,
            "expected {members} subscribers in {groups} groups, found {} in {}",
            hub.members(),
            hub.groups()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A second session of the user.
async fn login(app: &TestApp, username: &str) -> String {
    let r = app
        .ok(
            None,
            "mutation($i: LoginInput!) { login(input: $i) { token } }",
            json!({"i": {"usernameOrEmail": username, "password": common::PASSWORD}}),
        )
        .await;
    r["login"]["token"].as_str().unwrap().to_owned()
}

/// Proves an operation sends nothing more: a query sent now is the next thing answered.
async fn nothing_more(client: &mut WsClient) {
    client.subscribe("later", "{ __typename }", json!({})).await;
    let answer = client.next().await.unwrap();
    assert_eq!((answer["type"].as_str(), answer["id"].as_str()), (Some("next"), Some("later")), "{answer}");
    assert_eq!(client.next().await.unwrap(), json!({"type": "complete", "id": "later"}));
}

/// A hundred subscribers of one user with the same operation share one render of each event:
/// each receives the same message, and the event is rendered once. Their access is still
/// their own: logging out of one of the user's two sessions ends that session's fifty
/// subscriptions, and the other fifty go on.
async fn one_render_reaches_a_hundred_subscribers(db: Db) {
    // A hundred open sockets from one address, and requests beside them: over the default
    // per-address cap of 100 connections (an open WebSocket holds its place).
    let app = TestApp::spawn_with(db, |s| {
        s.workers = 0;
        s.connections.max_connections_per_ip = 1_000;
    })
    .await;
    let s = shared(&app, "کربلا میں حسینؑ ابن علیؑ").await;
    let second = login(&app, "dabir").await;
    let mut clients = Vec::new();
    for i in 0..100 {
        let token = if i % 2 == 0 { &s.viewer } else { &second };
        let mut client = WsClient::connect(&app, Some(token)).await;
        client.subscribe("a", ACTIVITY, json!({"d": s.doc})).await;
        clients.push(client);
    }
    sharing(&app, 1, 100).await;
    let before = app.state.activity.renders();
    let id = mark(&app, &s, 0, 5).await;
    let mut first: Option<Value> = None;
    for client in &mut clients {
        let message = client.next().await.expect("the socket is open");
        assert_eq!(message["payload"]["data"]["documentActivity"]["entityIds"], json!([id]), "{message}");
        match &first {
            None => first = Some(message),
            Some(first) => assert_eq!(&message, first),
        }
    }
    assert_eq!(app.state.activity.renders() - before, 1, "one render for a hundred subscribers");

    app.ok(Some(&second), "mutation { logout }", json!({})).await;
    for client in clients.iter_mut().skip(1).step_by(2) {
        assert_eq!(ended(client, "a").await, "UNAUTHENTICATED");
    }
    sharing(&app, 1, 50).await;
    let id = mark(&app, &s, 6, 9).await;
    for client in clients.iter_mut().step_by(2) {
        assert_eq!(next_data(client, "a", "documentActivity").await["entityIds"], json!([id]));
    }
    for client in clients.iter_mut().skip(1).step_by(2) {
        nothing_more(client).await;
    }
    drop(clients);
    sharing(&app, 0, 0).await;
}

/// Subscribers share a render only with those who would receive the same bytes: the same
/// user (the key holds who they are and their access), the same operation. The owner, a viewer
/// on two connections and the viewer with another selection make three groups and three
/// renders of one event; the removed viewer's subscriptions end while the owner's goes on.
async fn renders_are_shared_only_by_like_subscribers(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let s = shared(&app, "کربلا میں حسینؑ ابن علیؑ").await;
    let mut owner = WsClient::connect(&app, Some(&s.owner)).await;
    owner.subscribe("a", ACTIVITY, json!({"d": s.doc})).await;
    let mut viewers = Vec::new();
    for _ in 0..2 {
        let mut viewer = WsClient::connect(&app, Some(&s.viewer)).await;
        viewer.subscribe("a", ACTIVITY, json!({"d": s.doc})).await;
        viewers.push(viewer);
    }
    let mut kinds = WsClient::connect(&app, Some(&s.viewer)).await;
    kinds
        .subscribe("a", "subscription($d: ID!) { documentActivity(documentId: $d) { kind } }", json!({"d": s.doc}))
        .await;
    sharing(&app, 3, 4).await;
    let before = app.state.activity.renders();
    let id = mark(&app, &s, 0, 5).await;
    let seen = next_data(&mut owner, "a", "documentActivity").await;
    assert_eq!(seen["entityIds"], json!([id]));
    let first = viewers[0].next().await.unwrap();
    assert_eq!(viewers[1].next().await.unwrap(), first);
    assert_eq!(first["payload"]["data"]["documentActivity"], seen);
    assert_eq!(next_data(&mut kinds, "a", "documentActivity").await, json!({"kind": "ENTITY_CREATED"}));
    assert_eq!(app.state.activity.renders() - before, 3, "one render per group");

    app.ok(
        Some(&s.owner),
        "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) }",
        json!({"p": s.project, "u": s.viewer_id}),
    )
    .await;
    for viewer in viewers.iter_mut().chain([&mut kinds]) {
        assert_eq!(ended(viewer, "a").await, "FORBIDDEN");
    }
    let id = mark(&app, &s, 6, 9).await;
    assert_eq!(next_data(&mut owner, "a", "documentActivity").await["entityIds"], json!([id]));
    for viewer in viewers.iter_mut().chain([&mut kinds]) {
        nothing_more(viewer).await;
    }
    sharing(&app, 1, 1).await;
}

/// The response limit bounds each event of a subscription, not their sum: a subscriber
/// whose events add up to many times the limit still receives every one.
async fn the_response_limit_bounds_each_event_not_their_sum(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.workers = 0;
        s.surface.max_response_bytes = 2_000;
    })
    .await;
    let s = shared(&app, &"کربلا ".repeat(100)).await;
    let mut client = watch_activity(&app, &app, &s, &s.owner).await;
    // About 200 bytes each: 40 events are four times the limit.
    let mut marked = Vec::new();
    for i in 0..40 {
        marked.push(mark(&app, &s, i * 6, i * 6 + 5).await);
    }
    for id in &marked {
        let message = client.next().await.expect("the socket is open");
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
        let event = &message["payload"]["data"]["documentActivity"];
        assert_eq!(event["kind"], "ENTITY_CREATED", "{message}");
        assert_eq!(event["entityIds"], json!([id]), "{message}");
    }
}

on_both_databases!(
    one_render_reaches_a_hundred_subscribers,
    renders_are_shared_only_by_like_subscribers,
    activity_reaches_a_subscriber_on_another_replica,
    an_event_too_large_for_a_notify_crosses_replicas,
    imports_publish_activity,
    refused_subscriptions_say_why,
    a_lost_final_event_does_not_leave_the_subscriber_waiting,
    access_that_ends_ends_the_subscription,
    visibility_and_deletion_end_access,
    job_suggestions_and_rejections_are_activity,
    linking_mentions_is_activity,
    an_expired_session_ends_its_subscriptions,
    the_response_limit_bounds_each_event_not_their_sum,
);
