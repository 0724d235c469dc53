//! The server as a whole: schema file in sync, health, GraphiQL (and `/` leading there), query
//! limits.

use crate::common;

use common::{Db, TestApp, error_code};
use serde_json::json;

#[test]
fn schema_file_matches_the_served_schema() {
    let sdl = nishan_api::graphql::sdl();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &sdl).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == sdl,
        "schema.graphql is stale: run `UPDATE_SCHEMA=1 cargo test --test it schema` (or `nishan schema > schema.graphql`)"
    );
    for name in [
        "register",
        "login",
        "logout",
        "me",
        "updateMe",
        "changePassword",
        "createProject",
        "project",
        "projects",
        "updateProject",
        "deleteProject",
        "addProjectMember",
        "updateProjectMember",
        "removeProjectMember",
    ] {
        assert!(
            sdl.contains(&format!("\t{name}(")) || sdl.contains(&format!("\t{name}:")),
            "the contract's `{name}` is missing"
        );
    }
}

async fn health_reports_the_database(db: Db) {
    let app = TestApp::spawn(db).await;
    let resp = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap(), json!({"status": "ok", "database": "ok"}));
    if db == Db::Postgres {
        // Take the database away from under the server: health must say so.
        let name = app.db_url.rsplit('/').next().unwrap().to_owned();
        let admin_url = std::env::var("NISHAN_TEST_POSTGRES_URL").unwrap();
        let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
        use sea_orm::ConnectionTrait;
        admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
        let resp = app.http.get(app.url("/health")).send().await.unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.json::<serde_json::Value>().await.unwrap()["database"], "unreachable");
    }
}

async fn browsers_get_graphiql(db: Db) {
    let app = TestApp::spawn(db).await;
    let resp =
        app.http.get(app.url("/graphql")).header("accept", "text/html,application/xhtml+xml").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = resp.text().await.unwrap();
    assert!(page.contains("graphiql") || page.contains("GraphiQL"));
    // Without HTML in Accept, GET runs a query from the query string.
    let resp = app.http.get(app.url("/graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D")).send().await.unwrap();
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap(), json!({"data": {"me": null}}));
}

async fn the_root_sends_a_browser_to_graphiql(db: Db) {
    let app = TestApp::spawn(db).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = no_redirects.get(app.url("/")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(resp.headers()["location"], "/graphql");
    // A browser following it lands on GraphiQL.
    let resp = app.http.get(app.url("/")).header("accept", "text/html,application/xhtml+xml").send().await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.url().path()), (200, "/graphql"));
    assert!(resp.text().await.unwrap().contains("GraphiQL"));
    // In production there is no GraphiQL to send anyone to.
    let production = TestApp::spawn_on(&app, |s| s.surface.production = true).await;
    let resp = no_redirects.get(production.url("/")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

async fn deep_and_costly_queries_are_refused(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.max_depth = 6).await;
    let deep = "{ projects { edges { node { members { edges { node { project { name } } } } } } } }";
    let resp = app.gql(None, deep, json!({})).await;
    assert!(resp["errors"][0]["message"].as_str().unwrap().contains("nested too deep"), "{resp}");
    let too_many = app.gql(None, "{ projects(first: 101) { totalCount } }", json!({})).await;
    assert_eq!(error_code(&too_many), "BAD_USER_INPUT");
    assert_eq!(too_many["errors"][0]["extensions"]["field"], "first");

    let app = TestApp::spawn_with(db, |s| s.max_complexity = 500).await;
    let costly = "{ projects(first: 100) { edges { node { members(first: 100) { edges { node { role } } } } } } }";
    let resp = app.gql(None, costly, json!({})).await;
    assert!(resp["errors"][0]["message"].as_str().unwrap().contains("too complex"), "{resp}");
    let cheap = "{ projects(first: 5) { edges { node { members(first: 5) { edges { node { role } } } } } } }";
    assert!(app.gql(None, cheap, json!({})).await.get("errors").is_none());
}

async fn malformed_ids_are_bad_input(db: Db) {
    let app = TestApp::spawn(db).await;
    let resp = app.gql(None, "{ project(id: \"not-a-uuid\") { id } }", json!({})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT");
    let resp =
        app.gql(None, "{ project(id: \"01a2071d-887c-72bb-9531-5b36ca460d83\", slug: \"x\") { id } }", json!({})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT");
    let resp = app.gql(None, "{ projects(after: \"garbage\") { totalCount } }", json!({})).await;
    assert_eq!(resp["errors"][0]["extensions"]["field"], "after");
}

on_both_databases!(
    health_reports_the_database,
    browsers_get_graphiql,
    the_root_sends_a_browser_to_graphiql,
    deep_and_costly_queries_are_refused,
    malformed_ids_are_bad_input
);
