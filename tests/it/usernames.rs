//! Usernames are unique regardless of case ("OWNER" and "owner" are one name), logins find
//! them in any case, and the migration that made it so resolves accounts that already clash.

use crate::common;

use common::{Db, PASSWORD, TestApp, error_code};
use nishan_migration::{Migrator, MigratorTrait};
use serde_json::json;

const REGISTER: &str = "mutation($i: RegisterInput!) { register(input: $i) { user { username } } }";
const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { user { username } } }";

async fn one_name_in_any_case(db: Db) {
    let app = TestApp::spawn(db).await;
    app.register("owner").await;
    let resp = app
        .gql(None, REGISTER, json!({"i": {"username": "OWNER", "email": "other@example.org", "password": PASSWORD}}))
        .await;
    assert_eq!(error_code(&resp), "CONFLICT", "{resp}");
    // Concurrent registrations of one name in two cases: exactly one account.
    let attempts = ["Ghalib", "GHALIB", "ghalib", "gHaLiB"].map(|name| {
        let app = &app;
        async move {
            let vars = json!({"i": {"username": name, "email": format!("{name}@example.net"), "password": PASSWORD}});
            app.gql(None, REGISTER, vars).await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    assert_eq!(answers.iter().filter(|a| a.get("errors").is_none()).count(), 1, "{answers:?}");
    assert_eq!(app.count("SELECT id FROM users WHERE lower(username) = 'ghalib'").await, 1);
    let data = app.ok(None, LOGIN, json!({"i": {"usernameOrEmail": "OWNER", "password": PASSWORD}})).await;
    assert_eq!(data["login"]["user"]["username"], "owner");
}

async fn the_migration_renames_later_accounts_that_clash(db: Db) {
    let app = TestApp::spawn(db).await;
    app.register("owner").await;
    app.register("dabir").await;
    app.server.abort();
    let conn = app.database().await;
    let migrations = Migrator::migrations();
    let position = migrations
        .iter()
        .position(|m| m.name() == "m20261201_040002_usernames_unique_ignoring_case")
        .expect("the migration is registered");
    let later = u32::try_from(migrations.len() - position).unwrap();
    Migrator::down(&conn, Some(later)).await.unwrap();
    // Before the migration two accounts could differ only in case.
    app.execute("UPDATE users SET username = 'OWNER' WHERE username = 'dabir'").await;
    Migrator::up(&conn, None).await.unwrap();
    assert_eq!(app.count("SELECT id FROM users WHERE username = 'owner'").await, 1, "the oldest keeps its name");
    assert_eq!(app.count("SELECT id FROM users WHERE username = 'OWNER-2'").await, 1);
    assert_eq!(
        app.count("SELECT id FROM audit_logs WHERE action = 'user.rename' AND resource_name = 'OWNER-2'").await,
        1
    );
    let restarted = app.restart(|_| {}).await;
    let data = restarted.ok(None, LOGIN, json!({"i": {"usernameOrEmail": "owner-2", "password": PASSWORD}})).await;
    assert_eq!(data["login"]["user"]["username"], "OWNER-2");
    conn.close().await.unwrap();
}

on_both_databases!(one_name_in_any_case, the_migration_renames_later_accounts_that_clash);
