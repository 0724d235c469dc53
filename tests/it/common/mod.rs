//! The test harness: a real Nishan server on 127.0.0.1:0 over a fresh database (a SQLite file
//! in a temporary directory, or a new database on the PostgreSQL server named by
//! `NISHAN_TEST_POSTGRES_URL`), a small GraphQL client, and a mock model server (`mock_llm`).
#![allow(dead_code)] // Each test binary uses its own part of the harness.

pub mod mock_llm;
pub mod python;
pub mod receiver;
pub mod team;

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

/// A fresh, empty database of the given kind, with a fresh data directory of its own (the
/// SQLite file lives there; so does the generated `secret.key`, so two tests never share one).
pub async fn fresh_database(db: Db) -> FreshDatabase {
    let dir = std::env::temp_dir().join(format!("nishan-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    match db {
        Db::Sqlite => {
            FreshDatabase { url: format!("sqlite://{}?mode=rwc", dir.join("nishan.db").display()), dir, pg_name: None }
        }
        Db::Postgres => {
            let admin_url = postgres_admin_url();
            let name = format!("nishan_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url).await.expect("connecting to the test PostgreSQL server");
            admin
                .execute_raw(Statement::from_string(admin.get_database_backend(), format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            admin.close().await.unwrap();
            let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap();
            FreshDatabase { url: format!("{base}/{name}"), dir, pg_name: Some(name) }
        }
    }
}

/// A database made for one test, removed (with its data directory) when the test is done.
pub struct FreshDatabase {
    pub url: String,
    pub dir: PathBuf,
    /// The PostgreSQL database to drop afterwards.
    pg_name: Option<String>,
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(name) = self.pg_name.take() {
            // Drop runs inside the test's runtime: drop the database from a thread of its own.
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let admin = Database::connect(&postgres_admin_url()).await?;
                    admin
                        .execute_raw(Statement::from_string(
                            admin.get_database_backend(),
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        ))
                        .await?;
                    admin.close().await
                })
            })
            .join();
            if let Ok(Err(e)) = dropped {
                eprintln!("could not drop a test database: {e}");
            }
        }
    }
}

fn postgres_admin_url() -> String {
    std::env::var("NISHAN_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()).expect(
        "NISHAN_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts a PostgreSQL for them",
    )
}

pub struct TestApp {
    pub state: nishan_api::state::AppState,
    pub addr: SocketAddr,
    pub db_url: String,
    pub db: Db,
    pub http: reqwest::Client,
    pub server: tokio::task::JoinHandle<()>,
    /// The data directory (shared by replicas of one database, as they share a secret key).
    pub data_dir: PathBuf,
    /// The test's own database, removed when this server is dropped (`None` for a replica).
    owned: Option<FreshDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        // The state's pool must close before its database can be dropped.
        drop(self.owned.take());
    }
}

/// Server logs of a test run go to the test's captured output (shown for a failing test).
fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
    });
}

/// Called with the SQL of every statement a server runs.
type OnStatement = Box<dyn Fn(&str) + Send + Sync>;

/// The settings tests run with: defaults, the given database and data directory.
pub fn test_settings(db_url: &str, data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings::defaults();
    settings.database_url = Some(db_url.to_owned());
    settings.db_max_connections = 5;
    settings.log = "warn".into();
    init_logs();
    settings.data_dir = data_dir.to_owned();
    settings.job_poll_ms = 100;
    // Automatic training follows the event bus (a subscriber, and statements of its own as
    // entities are verified): off but where a test turns it on (tests/it/learning.rs).
    settings.auto_train = false;
    // Webhook senders poll the outbox (statements a statement-counting test would see): off
    // but where a test turns them on (tests/it/webhooks.rs, settings.rs).
    settings.outbound.webhook_senders = 0;
    // Nor do servers read the runtime settings again on their own, but where a test asks
    // (tests/it/settings.rs): the server that changes them takes them up at once.
    settings.settings_refresh_ms = 3_600_000;
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
        let count = move |_: &str| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        };
        Self::spawn_full(db, configure, Some(Box::new(count))).await
    }

    /// A server that appends the SQL of every statement it runs to `log` (a test clears it
    /// and reads what one request ran).
    pub async fn spawn_recording(db: Db, log: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> Self {
        let record = move |sql: &str| log.lock().unwrap().push(sql.to_owned());
        Self::spawn_full(db, |_| {}, Some(Box::new(record))).await
    }

    /// A second server (replica) on the same database. On PostgreSQL it has its own event bus,
    /// bridged by LISTEN/NOTIFY as between real replicas; SQLite runs as one process, so there
    /// the two share one bus.
    pub async fn spawn_on(first: &TestApp, configure: impl FnOnce(&mut Settings)) -> Self {
        let events = (first.db == Db::Sqlite).then(|| first.state.events.clone());
        Self::start(
            first.db,
            first.db_url.clone(),
            first.data_dir.clone(),
            None,
            configure,
            None,
            nishan_api::Overrides { events, clock: Some(first.state.clock.clone()), ..Default::default() },
        )
        .await
    }

    /// A server on an existing database and data directory (a replica, or a server started
    /// again after a crash).
    pub async fn spawn_on_url(
        db: Db,
        db_url: String,
        data_dir: PathBuf,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        Self::start(db, db_url, data_dir, None, configure, None, Default::default()).await
    }

    /// A server whose rate limit and login throttle read `clock` (a manual one: the test moves
    /// time instead of waiting for it). Its restarts and replicas read the same clock.
    pub async fn spawn_with_clock(
        db: Db,
        configure: impl FnOnce(&mut Settings),
        clock: nishan_api::clock::Clock,
    ) -> Self {
        let fresh = fresh_database(db).await;
        let overrides = nishan_api::Overrides { clock: Some(clock), ..Default::default() };
        Self::start(db, fresh.url.clone(), fresh.dir.clone(), Some(fresh), configure, None, overrides).await
    }

    async fn spawn_full(db: Db, configure: impl FnOnce(&mut Settings), counter: Option<OnStatement>) -> Self {
        let fresh = fresh_database(db).await;
        Self::start(db, fresh.url.clone(), fresh.dir.clone(), Some(fresh), configure, counter, Default::default()).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn start(
        db: Db,
        db_url: String,
        data_dir: PathBuf,
        owned: Option<FreshDatabase>,
        configure: impl FnOnce(&mut Settings),
        counter: Option<OnStatement>,
        overrides: nishan_api::Overrides,
    ) -> Self {
        let mut settings = test_settings(&db_url, &data_dir);
        configure(&mut settings);
        let mut conn = nishan_api::connect(&settings).await.expect("database reachable");
        let mut overrides = overrides;
        if let Some(counter) = counter {
            let counter: std::sync::Arc<dyn Fn(&str) + Send + Sync> = std::sync::Arc::new(move |sql: &str| {
                if std::env::var_os("NISHAN_TEST_PRINT_SQL").is_some() {
                    eprintln!("SQL {}", sql.chars().take(90).collect::<String>());
                }
                counter(sql);
            });
            let on_read = counter.clone();
            conn.set_metric_callback(move |info| on_read(&info.statement.sql));
            // SQLite's writes go through a connection of their own: count them too.
            overrides.writer_statements = Some(counter);
        }
        let state = nishan_api::bootstrap_custom(settings, conn, overrides).await.expect("server starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = nishan_api::server::router(state.clone());
        let limits = nishan_api::server::ConnectionLimits::from_settings(&state.settings);
        let server = tokio::spawn(async move {
            nishan_api::server::serve(listener, app, limits).await.unwrap();
        });
        Self { state, addr, db_url, db, http: reqwest::Client::new(), server, data_dir, owned }
    }

    /// A second server on this server's database (as after a restart); the database stays
    /// this app's to clean up.
    pub async fn restart(&self, configure: impl FnOnce(&mut Settings)) -> Self {
        let overrides = nishan_api::Overrides { clock: Some(self.state.clock.clone()), ..Default::default() };
        Self::start(self.db, self.db_url.clone(), self.data_dir.clone(), None, configure, None, overrides).await
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

/// Asserts that the raw JSON text `raw` has the object keys `keys` in this order (as the
/// GraphQL specification orders a response: as the query asks). Read from the text, not from a
/// parsed map, which might order keys its own way.
pub fn assert_keys_in_order(raw: &str, keys: &[&str]) {
    let mut from = 0;
    for key in keys {
        let quoted = format!("\"{key}\":");
        let at = raw[from..].find(&quoted).unwrap_or_else(|| panic!("no {quoted} after byte {from} in {raw}"));
        from += at + quoted.len();
    }
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

/// Sends `query` (with variables `$p: ID!` the project and `$f: Upload!` the file) as a
/// multipart upload of `bytes` named `file_name`; returns the whole response.
pub async fn upload_query(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    project: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> Value {
    let operations = json!({"query": query, "variables": {"p": project, "f": null}});
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({"0": ["variables.f"]}).to_string())
        .part("0", reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()));
    let mut req = app.http.post(app.url("/graphql")).header("apollo-require-preflight", "true").multipart(form);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap().json().await.unwrap()
}

/// The Marsiya data, kept in the repository under `corpus/marsiya/`.
pub fn marsiya_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/marsiya");
    assert!(dir.is_dir(), "the Marsiya data is missing at {}", dir.display());
    dir
}

/// A `graphql-transport-ws` client for tests: connects, signs in with `connection_init`,
/// and reads the messages of one subscription.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl WsClient {
    pub async fn connect(app: &TestApp, token: Option<&str>) -> Self {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket connects");
        let mut client = Self { socket };
        let payload = token.map_or(json!({}), |t| json!({"Authorization": format!("Bearer {t}")}));
        client.socket.send(json!({"type": "connection_init", "payload": payload}).to_string().into()).await.unwrap();
        let ack = client.next().await.expect("an answer to connection_init");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        use futures_util::SinkExt;
        let msg = json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}});
        self.socket.send(msg.to_string().into()).await.unwrap();
    }

    /// The next JSON message (pings are answered and skipped); `None` when the socket closed.
    pub async fn next(&mut self) -> Option<Value> {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(30), self.socket.next())
                .await
                .expect("a websocket message within 30 s")?
                .ok()?;
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "ping" {
                        self.socket.send(json!({"type": "pong"}).to_string().into()).await.unwrap();
                        continue;
                    }
                    return Some(v);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }
}

/// Polls a job until it reaches a final status (or PAUSED), for at most 60 s.
pub async fn wait_for_job(app: &TestApp, token: &str, job: &str) -> Value {
    let query = "query($id: ID!) { processingJob(id: $id) { id status progress totalSteps currentStep entitiesFound entitiesDropped errorMessage errorDetails tokensUsed cost retryCount document { processingStatus totalEntities } } }";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let data = app.ok(Some(token), query, json!({"id": job})).await;
        let status = data["processingJob"]["status"].as_str().unwrap().to_owned();
        if matches!(status.as_str(), "COMPLETED" | "FAILED" | "CANCELLED" | "PAUSED") {
            return data["processingJob"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "job {job} still {status} after 60 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
