//! The test harness: a real Nishan server on 127.0.0.1:0 over a fresh database (a SQLite file
//! in a temporary directory, or a new database on the PostgreSQL server named by
//! `NISHAN_TEST_POSTGRES_URL`), and a small GraphQL client.
#![allow(dead_code)] // Each test binary uses its own part of the harness.

use std::net::SocketAddr;
use std::path::PathBuf;

use nishan_api::config::Settings;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs one async test body against SQLite and against PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Db::Postgres).await
            }
        }
    )*};
}

/// A fresh, empty database of the given kind; returns its URL.
pub async fn fresh_database(db: Db) -> (String, Option<PathBuf>) {
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(format!("nishan-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            (format!("sqlite://{}?mode=rwc", dir.join("nishan.db").display()), Some(dir))
        }
        Db::Postgres => {
            let admin_url = std::env::var("NISHAN_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()).expect(
                "NISHAN_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts a PostgreSQL for them",
            );
            let name = format!("nishan_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url).await.expect("connecting to the test PostgreSQL server");
            admin
                .execute_raw(Statement::from_string(admin.get_database_backend(), format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            admin.close().await.unwrap();
            let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap();
            (format!("{base}/{name}"), None)
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub db_url: String,
    pub db: Db,
    pub http: reqwest::Client,
    pub server: tokio::task::JoinHandle<()>,
    dir: Option<PathBuf>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The settings tests run with: defaults, and the given database.
pub fn test_settings(db_url: &str) -> Settings {
    let mut settings = Settings::defaults();
    settings.database_url = Some(db_url.to_owned());
    settings.db_max_connections = 5;
    settings.log = "warn".into();
    settings
}

impl TestApp {
    pub async fn spawn(db: Db) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: Db, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_full(db, configure, None).await
    }

    /// A server whose every SQL statement increments `counter`.
    pub async fn spawn_counting(
        db: Db,
        configure: impl FnOnce(&mut Settings),
        counter: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) -> Self {
        Self::spawn_full(db, configure, Some(counter)).await
    }

    async fn spawn_full(
        db: Db,
        configure: impl FnOnce(&mut Settings),
        counter: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
    ) -> Self {
        let (db_url, dir) = fresh_database(db).await;
        let mut settings = test_settings(&db_url);
        configure(&mut settings);
        let mut conn = nishan_api::connect(&settings).await.expect("database reachable");
        if let Some(counter) = counter {
            conn.set_metric_callback(move |info| {
                if std::env::var_os("NISHAN_TEST_PRINT_SQL").is_some() {
                    eprintln!("SQL {}", info.statement.sql.chars().take(90).collect::<String>());
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let state = nishan_api::bootstrap_with(settings, conn).await.expect("server starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = nishan_api::server::router(state);
        let server = tokio::spawn(async move {
            nishan_api::server::serve(listener, app).await.unwrap();
        });
        Self { addr, db_url, db, http: reqwest::Client::new(), server, dir }
    }

    /// A second server on this server's database (as after a restart); the database stays
    /// this app's to clean up.
    pub async fn restart(&self, configure: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = test_settings(&self.db_url);
        configure(&mut settings);
        let state = nishan_api::bootstrap(settings).await.expect("server starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = nishan_api::server::router(state);
        let server = tokio::spawn(async move {
            nishan_api::server::serve(listener, app).await.unwrap();
        });
        Self { addr, db_url: self.db_url.clone(), db: self.db, http: reqwest::Client::new(), server, dir: None }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends one GraphQL operation; returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self.http.post(self.url("/graphql")).json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        resp.json().await.expect("a JSON response")
    }

    /// Sends an operation that must succeed; returns its `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let resp = self.gql(token, query, variables).await;
        assert!(resp.get("errors").is_none(), "unexpected errors: {resp}");
        resp["data"].clone()
    }

    /// Registers a user; returns (token, user id).
    pub async fn register(&self, username: &str) -> (String, String) {
        let data = self
            .ok(
                None,
                "mutation($i: RegisterInput!) { register(input: $i) { token user { id } } }",
                json!({"i": {"username": username, "email": format!("{username}@example.org"), "password": PASSWORD}}),
            )
            .await;
        (
            data["register"]["token"].as_str().unwrap().to_owned(),
            data["register"]["user"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a project as `token`; returns its id.
    pub async fn create_project(&self, token: &str, name: &str, extra: Value) -> String {
        let mut input = json!({"name": name});
        input.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        let data = self
            .ok(
                Some(token),
                "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
                json!({"i": input}),
            )
            .await;
        data["createProject"]["id"].as_str().unwrap().to_owned()
    }

    /// A direct connection to the server's database, for checks a client cannot make.
    pub async fn database(&self) -> DatabaseConnection {
        Database::connect(&self.db_url).await.unwrap()
    }

    /// `SELECT COUNT(*)` of a query's rows.
    pub async fn count(&self, sql: &str) -> i64 {
        let db = self.database().await;
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM ({sql}) AS q"),
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        db.close().await.unwrap();
        n
    }

    /// Runs a statement directly on the database.
    pub async fn execute(&self, sql: &str) {
        let db = self.database().await;
        db.execute_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
        db.close().await.unwrap();
    }
}

pub const PASSWORD: &str = "marsiya-of-anis-1874";

/// The `extensions.code` of the first error of a response (panics when there is none).
pub fn error_code(resp: &Value) -> String {
    resp["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a code: {resp}"))
        .to_owned()
}

/// The seeded system entity types, by name.
pub async fn entity_type_ids(app: &TestApp) -> std::collections::HashMap<String, String> {
    let data = app.ok(None, "{ entityTypes { id name } }", json!({})).await;
    data["entityTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t["id"].as_str().unwrap().to_owned()))
        .collect()
}

/// Creates a document; returns its id.
pub async fn create_document(app: &TestApp, token: &str, project: &str, title: &str, content: &str) -> String {
    let data = app
        .ok(
            Some(token),
            "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }",
            json!({"i": {"projectId": project, "title": title, "content": content}}),
        )
        .await;
    data["createDocument"]["id"].as_str().unwrap().to_owned()
}

/// Uploads a file with the GraphQL multipart request spec; returns the whole response.
pub async fn upload(app: &TestApp, token: &str, project: &str, file_name: &str, bytes: Vec<u8>) -> Value {
    let operations = json!({
        "query": "mutation($p: ID!, $f: Upload!) { uploadDocument(projectId: $p, file: $f) { id title content encoding fileName fileSize characterCount wordCount lineCount direction } }",
        "variables": {"p": project, "f": null}
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({"0": ["variables.f"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()).mime_str("text/plain").unwrap(),
        );
    let resp = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

/// The path of the shared Marsiya data, which lies beside the repository.
pub fn marsiya_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/marsiya");
    assert!(dir.is_dir(), "the Marsiya data is missing at {}", dir.display());
    dir
}
