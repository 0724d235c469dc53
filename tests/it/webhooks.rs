//! Webhooks: deliveries signed per Standard Webhooks (checked by its reference verifier),
//! written to the outbox in the transaction of the change (and rolled back with it), retried
//! with the same `webhook-id`, delivered once by two replicas, kept off private addresses
//! unless allowed, disabled after failing in a row; who may manage them.

use crate::common;

use std::time::{Duration, Instant};

use common::receiver::{Received, Receiver};
use common::{Db, TestApp, create_document, error_code};
use serde_json::{Value, json};

const CREATE: &str =
    "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id url events isActive } secret } }";
const DELIVERIES: &str = "query($p: ID!) { webhooks(projectId: $p) { id isActive consecutiveFailures deliveries(first: 100) { totalCount edges { node { id event status statusCode attempt deliveredAt nextAttemptAt attempts { attempt statusCode latencyMs error nextAttemptAt attemptedAt } } } } } }";

/// A server that may deliver to 127.0.0.1, retrying after `retry_ms`, polling often.
async fn app_for_hooks(db: Db, retry_ms: u64) -> TestApp {
    TestApp::spawn_with(db, |s| {
        s.outbound.allow_private_addresses = true;
        s.outbound.webhook_retry_base_ms = retry_ms;
        s.outbound.webhook_poll_ms = 20;
        s.outbound.webhook_senders = 2;
    })
    .await
}

async fn create_hook(app: &TestApp, token: &str, project: &str, url: &str, events: &[&str]) -> (String, String) {
    let data = app.ok(Some(token), CREATE, json!({"i": {"projectId": project, "url": url, "events": events}})).await;
    let w = &data["createWebhook"];
    (w["webhook"]["id"].as_str().unwrap().to_owned(), w["secret"].as_str().unwrap().to_owned())
}

/// Runs the Standard Webhooks verifier over `got` with each secret; returns its lines.
fn verify(got: &[Received], secrets: &[&str]) -> Vec<String> {
    let input: Vec<Value> = got.iter().map(|r| json!({"headers": r.headers, "body": r.body})).collect();
    let out = common::python::run("verify_webhooks.py", secrets, &serde_json::to_string(&input).unwrap());
    out.stdout.lines().map(str::to_owned).collect()
}

/// Polls the project's first webhook until `done` holds of it (at most 30 s).
async fn wait_hook(app: &TestApp, token: &str, project: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let data = app.ok(Some(token), DELIVERIES, json!({"p": project})).await;
        let hook = data["webhooks"][0].clone();
        if done(&hook) {
            return hook;
        }
        assert!(Instant::now() < deadline, "the webhook did not get there in 30 s: {hook}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deliveries carry the Standard Webhooks headers and signature (the reference verifier
/// accepts them), for the events the webhook subscribes to and no others; a test delivery;
/// after a rotation both the new and the old secret verify.
async fn deliveries_are_signed_per_standard_webhooks(db: Db) {
    let app = app_for_hooks(db, 5_000).await;
    let receiver = Receiver::start().await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya hooks", json!({})).await;
    let (hook, secret) =
        create_hook(&app, &token, &project, &receiver.url, &["document.created", "document.deleted"]).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let doc = create_document(&app, &token, &project, "مرثیہ", "سلام اس پر").await;
    // An update is not subscribed to: no delivery.
    app.ok(
        Some(&token),
        "mutation($id: ID!) { updateDocument(id: $id, input: {title: \"نیا\"}) { id } }",
        json!({"id": doc}),
    )
    .await;
    app.ok(Some(&token), "mutation($id: ID!) { deleteDocument(id: $id) }", json!({"id": doc})).await;
    let got = receiver.wait_for(2).await;
    let lines = verify(&got, &[&secret]);
    assert_eq!(
        lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect::<Vec<_>>(),
        ["document.created", "document.deleted"]
    );
    let first: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(first["data"]["resourceId"], doc.as_str());
    assert_eq!(first["data"]["projectId"], project.as_str());
    assert_eq!(got[0].headers["content-type"], "application/json");
    assert!(got[0].id().starts_with("msg_"));
    let ts: i64 = got[0].headers["webhook-timestamp"].parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 300);
    // A wrong secret fails the verifier.
    let input = json!([{"headers": got[0].headers, "body": got[0].body}]).to_string();
    let wrong = std::process::Command::new(common::python::interpreter())
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/verify_webhooks.py"))
        .arg("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        wrong.stdin.as_ref().unwrap().write_all(input.as_bytes()).unwrap();
    }
    assert!(!wrong.wait_with_output().unwrap().status.success(), "a wrong secret must not verify");
    // The deliveries are listed, delivered, newest first.
    let listed = wait_hook(&app, &token, &project, |h| h["deliveries"]["totalCount"] == 2).await;
    let nodes: Vec<&Value> = listed["deliveries"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    assert_eq!(nodes[0]["event"], "document.deleted");
    assert_eq!(nodes[1]["id"], got[0].id());
    for n in &nodes {
        assert_eq!(n["status"], "DELIVERED");
        assert_eq!(n["statusCode"], 200);
        assert_eq!(n["attempt"], 1);
        assert!(n["deliveredAt"].is_string());
        assert_eq!(n["attempts"][0]["statusCode"], 200);
    }
    // A test delivery, then a rotation: the next delivery verifies under both secrets.
    let test = app
        .ok(Some(&token), "mutation($id: ID!) { testWebhook(id: $id) { id event status } }", json!({"id": hook}))
        .await;
    assert_eq!(test["testWebhook"]["event"], "webhook.test");
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].id(), test["testWebhook"]["id"].as_str().unwrap());
    verify(&got[2..], &[&secret]);
    let rotated = app
        .ok(
            Some(&token),
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { webhook { id } secret } }",
            json!({"id": hook}),
        )
        .await;
    let new_secret = rotated["rotateWebhookSecret"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    app.ok(Some(&token), "mutation($id: ID!) { testWebhook(id: $id) { id } }", json!({"id": hook})).await;
    let got = receiver.wait_for(4).await;
    assert_eq!(got[3].headers["webhook-signature"].split(' ').count(), 2, "signed with both secrets");
    verify(&got[3..], &[&new_secret]);
    verify(&got[3..], &[&secret]);
    // Deleted: no more deliveries, and it is gone.
    app.ok(Some(&token), "mutation($id: ID!) { deleteWebhook(id: $id) }", json!({"id": hook})).await;
    create_document(&app, &token, &project, "دوسرا", "متن").await;
    let data = app.ok(Some(&token), DELIVERIES, json!({"p": project})).await;
    assert_eq!(data["webhooks"], json!([]));
    assert_eq!(app.count("SELECT id FROM webhook_deliveries").await, 0);
}

/// A receiver that fails twice then succeeds gets the same message id three times, the
/// attempts are logged with their status codes and next tries, and the waits double.
async fn failed_deliveries_are_retried_with_the_same_id(db: Db) {
    let app = app_for_hooks(db, 200).await;
    let receiver = Receiver::start().await;
    receiver.script.lock().unwrap().extend([500, 503]);
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Retries", json!({})).await;
    let (_, secret) = create_hook(&app, &token, &project, &receiver.url, &["document.created"]).await;
    create_document(&app, &token, &project, "مرثیہ", "متن").await;
    let got = receiver.wait_for(3).await;
    assert!(got.iter().all(|r| r.id() == got[0].id()), "one webhook-id through the retries: {got:?}");
    verify(&got, &[&secret]);
    let hook =
        wait_hook(&app, &token, &project, |h| h["deliveries"]["edges"][0]["node"]["status"] == "DELIVERED").await;
    let node = &hook["deliveries"]["edges"][0]["node"];
    assert_eq!(node["attempt"], 3);
    let attempts = node["attempts"].as_array().unwrap();
    let codes: Vec<&Value> = attempts.iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(codes, [&json!(500), &json!(503), &json!(200)]);
    assert!(attempts[0]["error"].as_str().unwrap().contains("500"));
    assert!(attempts[2]["nextAttemptAt"].is_null());
    // The first retry waits the base (200 ms), the second twice as long.
    let time = |i: usize, key: &str| chrono::DateTime::parse_from_rfc3339(attempts[i][key].as_str().unwrap()).unwrap();
    let waits: Vec<i64> =
        (0..2).map(|i| (time(i, "nextAttemptAt") - time(i, "attemptedAt")).num_milliseconds()).collect();
    assert_eq!(waits, [200, 400]);
    assert_eq!(hook["consecutiveFailures"], 0, "a delivery resets the count");
}

/// The outbox row is written in the transaction of the change: when that transaction fails
/// after the delivery was queued, neither the change nor the delivery remains.
async fn the_outbox_rolls_back_with_its_change(db: Db) {
    let app = app_for_hooks(db, 5_000).await;
    let receiver = Receiver::start().await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Rollback", json!({})).await;
    create_hook(&app, &token, &project, &receiver.url, &["document.created"]).await;
    // The audit row is written after the delivery is queued; refusing it fails the transaction.
    match db {
        Db::Sqlite => {
            app.execute(
                "CREATE TRIGGER refuse_document_audit BEFORE INSERT ON audit_logs WHEN NEW.action = 'document.create' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            )
            .await
        }
        Db::Postgres => {
            app.execute(
                "CREATE FUNCTION refuse_document_audit() RETURNS trigger AS $$ BEGIN \
                 IF NEW.action = 'document.create' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql",
            )
            .await;
            app.execute(
                "CREATE TRIGGER refuse_document_audit BEFORE INSERT ON audit_logs FOR EACH ROW \
                 EXECUTE FUNCTION refuse_document_audit()",
            )
            .await
        }
    }
    let q = "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }";
    let failed = app.gql(Some(&token), q, json!({"i": {"projectId": project, "title": "t", "content": "متن"}})).await;
    assert_eq!(error_code(&failed), "INTERNAL", "{failed}");
    assert_eq!(app.count("SELECT id FROM documents").await, 0);
    assert_eq!(app.count("SELECT id FROM webhook_deliveries").await, 0, "the delivery rolled back");
    match db {
        Db::Sqlite => app.execute("DROP TRIGGER refuse_document_audit").await,
        Db::Postgres => app.execute("DROP TRIGGER refuse_document_audit ON audit_logs").await,
    }
    create_document(&app, &token, &project, "t", "متن").await;
    assert_eq!(app.count("SELECT id FROM webhook_deliveries").await, 1);
    assert_eq!(receiver.wait_for(1).await.len(), 1);
}

/// Two replicas on one database, twenty documents created at once: every event arrives once
/// (senders of both replicas claim from the one outbox), none twice.
async fn two_replicas_deliver_each_event_once(db: Db) {
    let app = app_for_hooks(db, 5_000).await;
    let configure = |s: &mut nishan_api::config::Settings| {
        s.outbound.allow_private_addresses = true;
        s.outbound.webhook_poll_ms = 20;
        s.outbound.webhook_senders = 4;
    };
    let other = TestApp::spawn_on(&app, configure).await;
    let receiver = Receiver::start().await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Replicas", json!({})).await;
    create_hook(&app, &token, &project, &receiver.url, &["document.created"]).await;
    let creations = (0..20).map(|i| {
        let (app, token, project) = (if i % 2 == 0 { &app } else { &other }, token.clone(), project.clone());
        async move { create_document(app, &token, &project, &format!("مرثیہ {i}"), &format!("متن {i}")).await }
    });
    let docs = futures_util::future::join_all(creations).await;
    let got = receiver.wait_for(20).await;
    // Wait out a possible duplicate: until every delivery is recorded as delivered.
    wait_hook(&app, &token, &project, |h| {
        h["deliveries"]["edges"].as_array().unwrap().iter().filter(|e| e["node"]["status"] == "DELIVERED").count() == 20
    })
    .await;
    let got_after = receiver.received();
    assert_eq!(got_after.len(), 20, "each event once: {got:?}");
    let mut ids: Vec<&str> = got_after.iter().map(Received::id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    let mut resources: Vec<String> = got_after
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["data"]["resourceId"].as_str().unwrap().to_owned())
        .collect();
    resources.sort();
    let mut docs = docs;
    docs.sort();
    assert_eq!(resources, docs);
}

/// Without `NISHAN_ALLOW_PRIVATE_ADDRESSES`, a webhook on 127.0.0.1 is never called: the
/// attempt is logged as refused by the address guard.
async fn private_addresses_are_refused_by_default(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.outbound.webhook_poll_ms = 20;
        s.outbound.webhook_retry_base_ms = 60_000;
        s.outbound.webhook_senders = 2;
    })
    .await;
    let receiver = Receiver::start().await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Guarded", json!({})).await;
    let (hook, _) = create_hook(&app, &token, &project, &receiver.url, &["document.created"]).await;
    app.ok(Some(&token), "mutation($id: ID!) { testWebhook(id: $id) { id } }", json!({"id": hook})).await;
    let listed = wait_hook(&app, &token, &project, |h| h["deliveries"]["edges"][0]["node"]["attempt"] == 1).await;
    let node = &listed["deliveries"]["edges"][0]["node"];
    assert_eq!(node["status"], "PENDING", "retried later: {node}");
    assert!(node["statusCode"].is_null());
    let error = node["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("private"), "{error}");
    assert!(node["attempts"][0]["nextAttemptAt"].is_string());
    assert!(receiver.received().is_empty());
}

/// A webhook failing `DISABLE_AFTER_FAILURES` (30) attempts in a row is disabled, and its
/// deliveries end FAILED; each delivery gives up after 12 attempts.
async fn a_failing_webhook_is_disabled(db: Db) {
    let app = app_for_hooks(db, 1).await;
    let receiver = Receiver::start().await;
    *receiver.fallback.lock().unwrap() = 500;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Failing", json!({})).await;
    let (hook, _) = create_hook(&app, &token, &project, &receiver.url, &["document.created"]).await;
    for _ in 0..3 {
        app.ok(Some(&token), "mutation($id: ID!) { testWebhook(id: $id) { id } }", json!({"id": hook})).await;
    }
    let done = wait_hook(&app, &token, &project, |h| {
        h["isActive"] == false
            && h["deliveries"]["edges"].as_array().unwrap().iter().all(|e| e["node"]["status"] == "FAILED")
    })
    .await;
    let failures = disabled_after(&done);
    let attempts: Vec<u64> = done["deliveries"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["attempt"].as_u64().unwrap())
        .collect();
    assert!(attempts.iter().all(|&a| a <= 12), "{attempts:?}");
    assert_eq!(attempts.iter().sum::<u64>(), failures, "no attempt after the webhook was disabled: {attempts:?}");
    assert_eq!(receiver.received().len() as u64, failures);
}

/// The failure count of a webhook that was just disabled: `DISABLE_AFTER_FAILURES` (30), plus
/// at most one attempt per other sender that was already in flight when the 30th failure
/// disabled it (the tests run two senders).
fn disabled_after(hook: &Value) -> u64 {
    let failures = hook["consecutiveFailures"].as_u64().unwrap();
    assert!((30..=31).contains(&failures), "30 failures, and at most one in flight: {hook}");
    failures
}

/// `job.completed` reaches a subscribed webhook when a job ends.
async fn job_endings_are_delivered(db: Db) {
    let app = app_for_hooks(db, 5_000).await;
    let receiver = Receiver::start().await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Jobs", json!({})).await;
    create_hook(&app, &token, &project, &receiver.url, &["job.completed", "job.failed"]).await;
    let doc = create_document(&app, &token, &project, "مرثیہ", "حسین کربلا میں").await;
    let q = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id } }";
    let job = app.ok(Some(&token), q, json!({"i": {"documentId": doc}})).await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(common::wait_for_job(&app, &token, &job).await["status"], "COMPLETED");
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].event(), "job.completed");
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["data"]["jobId"], job.as_str());
    assert_eq!(body["data"]["documentId"], doc.as_str());
}

/// Owners and admins manage webhooks; researchers are refused, outsiders learn nothing;
/// bad events and URLs are BAD_USER_INPUT.
async fn only_owners_and_admins_manage_webhooks(db: Db) {
    let app = app_for_hooks(db, 5_000).await;
    let (owner, _) = app.register("anis").await;
    let (researcher, _) = app.register("baqir").await;
    let (outsider, _) = app.register("dabir").await;
    let project = app.create_project(&owner, "Access", json!({})).await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    app.ok(Some(&owner), add, json!({"i": {"projectId": project, "username": "baqir", "role": "RESEARCHER"}})).await;
    let input = |url: &str, events: Value| json!({"i": {"projectId": project, "url": url, "events": events}});
    let ok = input("https://example.org/hook", json!(["document.created"]));
    assert_eq!(error_code(&app.gql(Some(&researcher), CREATE, ok.clone()).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(Some(&outsider), CREATE, ok.clone()).await), "NOT_FOUND");
    assert_eq!(error_code(&app.gql(None, CREATE, ok.clone()).await), "UNAUTHENTICATED");
    for bad in [
        input("https://example.org/hook", json!(["document.exploded"])),
        input("https://example.org/hook", json!([])),
        input("ftp://example.org/hook", json!(["document.created"])),
        input("https://user:pw@example.org/hook", json!(["document.created"])),
    ] {
        assert_eq!(error_code(&app.gql(Some(&owner), CREATE, bad.clone()).await), "BAD_USER_INPUT", "{bad}");
    }
    let data = app.ok(Some(&owner), CREATE, ok).await;
    let hook = data["createWebhook"]["webhook"]["id"].as_str().unwrap().to_owned();
    assert_eq!(data["createWebhook"]["webhook"]["events"], json!(["document.created"]));
    let list = "query($p: ID!) { webhooks(projectId: $p) { id } }";
    assert_eq!(error_code(&app.gql(Some(&researcher), list, json!({"p": project})).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(Some(&outsider), list, json!({"p": project})).await), "NOT_FOUND");
    for m in ["testWebhook(id: $id) { id }", "rotateWebhookSecret(id: $id) { secret }", "deleteWebhook(id: $id)"] {
        let q = format!("mutation($id: ID!) {{ {m} }}");
        assert_eq!(error_code(&app.gql(Some(&outsider), &q, json!({"id": hook})).await), "NOT_FOUND", "{m}");
        assert_eq!(error_code(&app.gql(Some(&researcher), &q, json!({"id": hook})).await), "FORBIDDEN", "{m}");
    }
    // The secret is never readable afterwards: Webhook has no such field.
    let q = "query($p: ID!) { webhooks(projectId: $p) { secret } }";
    assert_eq!(error_code(&app.gql(Some(&owner), q, json!({"p": project})).await), "GRAPHQL_VALIDATION_FAILED");
}

/// A delivery claimed by a sender that died (its lease expired) is sent by another, with
/// the same `webhook-id`.
async fn a_dead_senders_claim_is_taken_up(db: Db) {
    let quiet = TestApp::spawn_with(db, |s| s.outbound.webhook_senders = 0).await;
    let receiver = Receiver::start().await;
    let (token, _) = quiet.register("anis").await;
    let project = quiet.create_project(&token, "Leases", json!({})).await;
    let (hook, secret) = create_hook(&quiet, &token, &project, &receiver.url, &["document.created"]).await;
    let queued =
        quiet.ok(Some(&token), "mutation($id: ID!) { testWebhook(id: $id) { id } }", json!({"id": hook})).await;
    let id = queued["testWebhook"]["id"].as_str().unwrap().to_owned();
    quiet
        .execute(&format!(
            "UPDATE webhook_deliveries SET lease_owner = 'a-dead-sender', lease_expires_at = '2026-01-01 00:00:00+00' WHERE id = '{id}'"
        ))
        .await;
    let sender = TestApp::spawn_on(&quiet, |s| {
        s.outbound.allow_private_addresses = true;
        s.outbound.webhook_senders = 2;
        s.outbound.webhook_poll_ms = 20;
    })
    .await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].id(), id);
    verify(&got, &[&secret]);
    let hook =
        wait_hook(&sender, &token, &project, |h| h["deliveries"]["edges"][0]["node"]["status"] == "DELIVERED").await;
    assert_eq!(hook["deliveries"]["edges"][0]["node"]["attempt"], 1);
}

const UPDATE: &str = "mutation($i: UpdateWebhookInput!) { updateWebhook(input: $i) { id url events description isActive consecutiveFailures } }";

/// Changes of different fields of one webhook at once all stay: each writes only its own
/// field, never the whole row it read (a change read before another's commit would undo it).
async fn concurrent_changes_of_a_webhook_all_stay(db: Db) {
    let app = app_for_hooks(db, 60_000).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "At once", json!({})).await;
    let (hook, _) = create_hook(&app, &token, &project, "http://127.0.0.1:9/first", &["document.created"]).await;
    for round in 0..3 {
        let url = format!("http://127.0.0.1:9/round-{round}");
        let description = format!("round {round}");
        let events = if round % 2 == 0 { json!(["document.deleted"]) } else { json!(["document.created"]) };
        let active = round % 2 == 1;
        let changes = [
            json!({"id": hook, "url": url}),
            json!({"id": hook, "description": description}),
            json!({"id": hook, "events": events}),
            json!({"id": hook, "isActive": active}),
        ];
        let answers =
            futures_util::future::join_all(changes.iter().map(|i| app.gql(Some(&token), UPDATE, json!({"i": i}))))
                .await;
        for answer in &answers {
            assert!(answer.get("errors").is_none(), "{answer}");
        }
        let read = "query($p: ID!) { webhooks(projectId: $p) { url description events isActive } }";
        let stored = app.ok(Some(&token), read, json!({"p": project})).await["webhooks"][0].clone();
        assert_eq!(stored["url"], url.as_str(), "round {round}: {stored}");
        assert_eq!(stored["description"], description.as_str(), "round {round}: {stored}");
        assert_eq!(stored["events"], events, "round {round}: {stored}");
        assert_eq!(stored["isActive"], active, "round {round}: {stored}");
    }
    let audits = "SELECT id FROM audit_logs WHERE action = 'webhook.update'";
    assert_eq!(app.count(audits).await, 12, "one audit row a change");
}

/// A webhook disabled after its failures is enabled again with `updateWebhook`: its failure
/// count starts at 0 and it delivers again; a new URL and new events take effect at once; bad
/// input is BAD_USER_INPUT and changes nothing; only its managers may change it; each change is
/// one audit row.
async fn a_disabled_webhook_enabled_again_delivers(db: Db) {
    let app = app_for_hooks(db, 1).await;
    let failing = Receiver::start().await;
    *failing.fallback.lock().unwrap() = 500;
    let (token, _) = app.register("anis").await;
    let (researcher, _) = app.register("baqir").await;
    let (outsider, _) = app.register("dabir").await;
    let project = app.create_project(&token, "Again", json!({})).await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    app.ok(Some(&token), add, json!({"i": {"projectId": project, "username": "baqir", "role": "RESEARCHER"}})).await;
    let (hook, secret) = create_hook(&app, &token, &project, &failing.url, &["document.created"]).await;
    for _ in 0..3 {
        app.ok(Some(&token), "mutation($id: ID!) { testWebhook(id: $id) { id } }", json!({"id": hook})).await;
    }
    let disabled = wait_hook(&app, &token, &project, |h| {
        h["isActive"] == false
            && h["deliveries"]["edges"].as_array().unwrap().iter().all(|e| e["node"]["status"] == "FAILED")
    })
    .await;
    let failures = disabled_after(&disabled);
    // A disabled webhook gets nothing queued.
    create_document(&app, &token, &project, "Unheard", "سلام ۱").await;
    assert_eq!(wait_hook(&app, &token, &project, |_| true).await["deliveries"]["totalCount"], 3);

    // Refusals change nothing.
    let receiver = Receiver::start().await;
    let change = |fields: Value| {
        let mut i = json!({"id": hook});
        i.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        json!({"i": i})
    };
    let enable =
        change(json!({"isActive": true, "url": receiver.url, "events": ["document.created", "document.deleted"]}));
    assert_eq!(error_code(&app.gql(Some(&researcher), UPDATE, enable.clone()).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(Some(&outsider), UPDATE, enable.clone()).await), "NOT_FOUND");
    assert_eq!(error_code(&app.gql(None, UPDATE, enable.clone()).await), "UNAUTHENTICATED");
    for bad in [
        change(json!({"isActive": true, "url": "ftp://example.org/hook"})),
        change(json!({"isActive": true, "url": "https://user:pw@example.org/hook"})),
        change(json!({"isActive": true, "events": []})),
        change(json!({"isActive": true, "events": ["document.exploded"]})),
    ] {
        assert_eq!(error_code(&app.gql(Some(&token), UPDATE, bad.clone()).await), "BAD_USER_INPUT", "{bad}");
    }
    let unchanged = wait_hook(&app, &token, &project, |_| true).await;
    assert_eq!(unchanged["isActive"], false);
    assert_eq!(unchanged["consecutiveFailures"], failures);
    let audits = "SELECT id FROM audit_logs WHERE action = 'webhook.update'";
    assert_eq!(app.count(audits).await, 0);

    // Enabled again, at a new address, for one more event.
    let updated = app.ok(Some(&token), UPDATE, enable).await;
    let w = &updated["updateWebhook"];
    assert_eq!(w["isActive"], true);
    assert_eq!(w["consecutiveFailures"], 0, "the failure count starts again");
    assert_eq!(w["url"], receiver.url.as_str());
    assert_eq!(w["events"], json!(["document.created", "document.deleted"]));
    let doc = create_document(&app, &token, &project, "Heard", "سلام ۲").await;
    app.ok(Some(&token), "mutation($id: ID!) { deleteDocument(id: $id) }", json!({"id": doc})).await;
    let got = receiver.wait_for(2).await;
    let events: Vec<String> = got.iter().map(Received::event).collect();
    assert_eq!(events, ["document.created", "document.deleted"]);
    verify(&got, &[&secret]);
    assert_eq!(failing.received().len() as u64, failures, "nothing more reached the old address");
    let after = wait_hook(&app, &token, &project, |h| {
        h["deliveries"]["edges"].as_array().unwrap().iter().filter(|e| e["node"]["status"] == "DELIVERED").count() == 2
    })
    .await;
    assert_eq!(after["consecutiveFailures"], 0);
    // A description, then none; a webhook switched off gets nothing.
    let described = app.ok(Some(&token), UPDATE, change(json!({"description": "  the indexer  "}))).await;
    assert_eq!(described["updateWebhook"]["description"], "the indexer");
    assert_eq!(described["updateWebhook"]["url"], receiver.url.as_str(), "fields left out stay");
    let cleared = app.ok(Some(&token), UPDATE, change(json!({"description": "", "isActive": false}))).await;
    assert!(cleared["updateWebhook"]["description"].is_null());
    assert_eq!(cleared["updateWebhook"]["isActive"], false);
    create_document(&app, &token, &project, "Switched off", "سلام ۳").await;
    assert_eq!(wait_hook(&app, &token, &project, |_| true).await["deliveries"]["totalCount"], 5);
    assert_eq!(app.count(audits).await, 3, "one audit row a change");
}

/// The retention sweep removes delivered and failed deliveries (and their attempts) older than
/// `NISHAN_WEBHOOK_RETENTION_DAYS`; recent ones and pending ones stay.
async fn old_deliveries_are_pruned_and_recent_ones_kept(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.outbound.allow_private_addresses = true;
        s.outbound.webhook_retry_base_ms = 3_600_000;
        // A delivery's one attempt must not time out on a busy machine: its retry is an hour away.
        s.outbound.webhook_timeout_ms = 60_000;
        s.outbound.webhook_poll_ms = 20;
        s.outbound.webhook_senders = 2;
        s.outbound.webhook_retention_days = 30;
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.script.lock().unwrap().extend([200, 200]);
    *receiver.fallback.lock().unwrap() = 500;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Kept", json!({})).await;
    let (hook, _) = create_hook(&app, &token, &project, &receiver.url, &["document.created"]).await;
    let test = "mutation($id: ID!) { testWebhook(id: $id) { id } }";
    for _ in 0..2 {
        app.ok(Some(&token), test, json!({"id": hook})).await;
        receiver.wait_for(receiver.received().len() + 1).await;
    }
    app.ok(Some(&token), test, json!({"id": hook})).await;
    let hook_state = wait_hook(&app, &token, &project, |h| {
        let edges = h["deliveries"]["edges"].as_array().unwrap();
        edges.len() == 3 && edges.iter().all(|e| e["node"]["attempt"] == 1)
    })
    .await;
    let statuses: Vec<&str> = hook_state["deliveries"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["PENDING", "DELIVERED", "DELIVERED"], "newest first");
    // One old failed delivery, queued 40 days ago, with its attempt.
    let now = chrono::Utc::now();
    let old = (now - chrono::Duration::days(40)).format("%Y-%m-%d %H:%M:%S+00:00");
    app.execute(&format!(
        "INSERT INTO webhook_deliveries (id, webhook_id, event, payload, status, attempt, created_at) \
         SELECT 'msg_old_failed', webhook_id, event, payload, 'FAILED', 1, '{old}' FROM webhook_deliveries LIMIT 1"
    ))
    .await;
    app.execute(&format!(
        "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, attempted_at) \
         VALUES ('msg_old_failed', 1, 500, 3, '{old}')"
    ))
    .await;
    let deliveries = "SELECT id FROM webhook_deliveries";
    let attempts = "SELECT id FROM webhook_attempts";
    assert_eq!(app.count(deliveries).await, 4);
    assert_eq!(app.count(attempts).await, 4);
    // Now the old failed one goes, with its attempt; the recent ones stay.
    let swept = nishan_api::retention::sweep(&app.state, now).await.unwrap();
    assert_eq!(swept.webhook_deliveries, 1);
    assert_eq!(app.count("SELECT id FROM webhook_deliveries WHERE id = 'msg_old_failed'").await, 0);
    assert_eq!(app.count("SELECT id FROM webhook_attempts WHERE delivery_id = 'msg_old_failed'").await, 0);
    assert_eq!(app.count(deliveries).await, 3);
    // At 29 days the others are still recent.
    let swept = nishan_api::retention::sweep(&app.state, now + chrono::Duration::days(29)).await.unwrap();
    assert_eq!(swept.webhook_deliveries, 0);
    assert_eq!(app.count(deliveries).await, 3);
    // At 31 days the two delivered go with their attempts; the pending one stays.
    let swept = nishan_api::retention::sweep(&app.state, now + chrono::Duration::days(31)).await.unwrap();
    assert_eq!(swept.webhook_deliveries, 2);
    assert_eq!(app.count(deliveries).await, 1);
    assert_eq!(app.count("SELECT id FROM webhook_deliveries WHERE status = 'PENDING'").await, 1);
    assert_eq!(app.count(attempts).await, 1, "the pending delivery's attempt");
    // Retention 0 keeps them forever.
    let mut settings = common::test_settings(&app.db_url, &app.data_dir);
    settings.outbound.webhook_retention_days = 0;
    settings.outbound.webhook_senders = 0;
    let state = nishan_api::bootstrap(settings).await.unwrap();
    app.execute("UPDATE webhook_deliveries SET status = 'FAILED'").await;
    let swept = nishan_api::retention::sweep(&state, now + chrono::Duration::days(10_000)).await.unwrap();
    assert_eq!(swept.webhook_deliveries, 0);
    assert_eq!(app.count(deliveries).await, 1);
}

crate::on_both_databases!(
    deliveries_are_signed_per_standard_webhooks,
    failed_deliveries_are_retried_with_the_same_id,
    the_outbox_rolls_back_with_its_change,
    two_replicas_deliver_each_event_once,
    private_addresses_are_refused_by_default,
    a_failing_webhook_is_disabled,
    job_endings_are_delivered,
    only_owners_and_admins_manage_webhooks,
    a_dead_senders_claim_is_taken_up,
    a_disabled_webhook_enabled_again_delivers,
    concurrent_changes_of_a_webhook_all_stay,
    old_deliveries_are_pruned_and_recent_ones_kept,
);
