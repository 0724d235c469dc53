//! Nested queries resolve their relations through DataLoaders: the number of SQL statements
//! for one request does not grow with the number of documents and entities.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Db, TestApp, entity_type_ids};
use serde_json::json;

const NESTED: &str = "query($id: ID) { project(id: $id) { name documentCount entityCount documents(first: 100) { totalCount edges { node { title totalEntities entities(first: 100) { totalCount edges { node { text start entityType { name color } verifiedBy { username } outgoingRelationships { relationshipType targetEntity { text } } incomingRelationships { relationshipType } } } } } } } } }";

/// Builds a project with `docs` documents of `per_doc` entities each (half verified, with a
/// relationship between neighbours) and counts the statements of one nested query.
async fn statements_for(db: Db, docs: usize, per_doc: usize) -> usize {
    let counter = Arc::new(AtomicUsize::new(0));
    // The query is legitimately large (up to 100 × 100 entities): the complexity limit is not
    // under test. The default batching (no waiting window) is. No job workers: their polling
    // would be counted too.
    let app = TestApp::spawn_counting(
        db,
        |s| {
            s.max_complexity = 1_000_000;
            s.workers = 0;
        },
        counter.clone(),
    )
    .await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let project = app.create_project(&token, "Loaders", json!({})).await;
    let word = "کربلا";
    for d in 0..docs {
        let content = format!("{} {d}", vec![word; per_doc].join(" "));
        let doc = common::create_document(&app, &token, &project, &format!("doc {d}"), &content).await;
        let n = app
            .ok(Some(&token), "mutation($d: ID!, $t: String!, $ty: ID!) { annotateAllOccurrences(documentId: $d, text: $t, entityTypeId: $ty) }", json!({"d": doc, "t": word, "ty": types["LOCATION"]}))
            .await;
        assert_eq!(n["annotateAllOccurrences"], per_doc);
        let ids: Vec<String> = app
            .ok(
                Some(&token),
                "query($id: ID!) { document(id: $id) { entities(first: 100) { edges { node { id } } } } }",
                json!({"id": doc}),
            )
            .await["document"]["entities"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        app.ok(
            Some(&token),
            "mutation($ids: [ID!]!) { verifyEntities(ids: $ids) { id } }",
            json!({"ids": ids[..per_doc / 2]}),
        )
        .await;
        app.ok(
            Some(&token),
            "mutation($i: CreateEntityRelationshipInput!) { createEntityRelationship(input: $i) { id } }",
            json!({"i": {"sourceEntityId": ids[0], "targetEntityId": ids[1], "relationshipType": "SAME_AS"}}),
        )
        .await;
    }
    counter.store(0, Ordering::SeqCst);
    let data = app.ok(Some(&token), NESTED, json!({"id": project})).await;
    let statements = counter.load(Ordering::SeqCst);
    let p = &data["project"];
    assert_eq!(p["documents"]["totalCount"], docs);
    assert_eq!(p["entityCount"], docs * per_doc);
    for edge in p["documents"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["entities"]["edges"].as_array().unwrap().len(), per_doc);
    }
    statements
}

async fn nested_query_statement_count_is_flat(db: Db) {
    let small = statements_for(db, 20, 50).await;
    let large = statements_for(db, 40, 100).await;
    eprintln!("{db:?}: {small} statements for 20×50 entities, {large} for 40×100");
    assert_eq!(small, large, "statements for 20×50 and 40×100 entities");
    assert!(small < 30, "{small} statements for one nested query");
}

on_both_databases!(nested_query_statement_count_is_flat);
