//! Nishan's API: the GraphQL schema over axum, its configuration and the server binary's
//! commands. Resolvers are thin: they parse input, call a domain service and map the result.

pub mod auth;
pub mod chat_streams;
pub mod clock;
pub mod commands;
pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod learning;
pub mod llm;
pub mod logging;
pub mod metrics;
pub mod proxy;
pub mod rate_limit;
pub mod retention;
pub mod runtime_settings;
pub mod server;
pub mod state;
pub mod ws;

/// Every program built on the API (the server, its tests and benchmarks) allocates with
/// mimalloc: a response of 10,000 entities makes hundreds of thousands of small allocations,
/// and glibc's malloc spent a third of such a request consolidating its free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use anyhow::Context as _;
use nishan_domain::service::processing::experiment::Experiments;
use nishan_domain::service::processing::extraction::Extraction;
use nishan_domain::service::processing::ingestion::Ingestion;
use nishan_domain::service::processing::training::Training;
use nishan_infrastructure::Store;
use nishan_infrastructure::crypto::SecretBox;
use nishan_infrastructure::db::{self, DbConfig};
use nishan_infrastructure::events::EventBus;
use nishan_infrastructure::jobs::{JobRunner, ServerHandlers, WorkerConfig};
use nishan_infrastructure::net::fetch::HttpFetcher;
use nishan_infrastructure::password::Argon2Hasher;
use nishan_infrastructure::tokens::RandomTokens;

use crate::config::Settings;
use crate::state::AppState;

/// Opens the database (creating the embedded SQLite file's directory when needed).
pub async fn connect(settings: &Settings) -> anyhow::Result<sea_orm_conn::DatabaseConnection> {
    let url = settings.database_url();
    if let Some(path) = commands::sqlite_path(&url)
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let config = DbConfig { url, max_connections: settings.db_max_connections, busy_timeout: BUSY_TIMEOUT };
    db::connect(&config).await.context("connecting to the database")
}

/// The one connection SQLite writes go through.
async fn open_writer(settings: &Settings) -> anyhow::Result<sea_orm_conn::DatabaseConnection> {
    let config = DbConfig { url: settings.database_url(), max_connections: 1, busy_timeout: BUSY_TIMEOUT };
    db::connect(&config).await.context("connecting the database writer")
}

/// How long a SQLite statement waits for another process's write lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Connects, applies pending migrations and builds the shared state.
pub async fn bootstrap(settings: Settings) -> anyhow::Result<AppState> {
    let conn = connect(&settings).await?;
    bootstrap_with(settings, conn).await
}

/// As `bootstrap`, over a connection the caller opened (tests attach a statement counter).
pub async fn bootstrap_with(settings: Settings, conn: sea_orm_conn::DatabaseConnection) -> anyhow::Result<AppState> {
    bootstrap_custom(settings, conn, Overrides::default()).await
}

/// Parts a caller may supply instead of the ones `bootstrap` builds (tests: a bus shared by
/// two servers in one process).
#[derive(Default)]
pub struct Overrides {
    pub events: Option<EventBus>,
    /// The clock of the rate limit and the login throttle (tests: a manual one).
    pub clock: Option<clock::Clock>,
    /// Called with each SQL statement of SQLite's writer connection (tests: counting statements
    /// on a connection `bootstrap` opens itself; the caller's own connection has its callback).
    pub writer_statements: Option<OnStatement>,
}

/// A callback given each SQL statement's text.
pub type OnStatement = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// The job kinds this server runs, each by its handler: where a new kind is registered (see
/// `nishan_domain::service::processing`, "Adding a job kind").
pub fn job_handlers(llm: llm::MeteredClient, cipher: SecretBox, ingestion: Ingestion<HttpFetcher>) -> ServerHandlers {
    ServerHandlers::new()
        .with(ingestion)
        .with(Extraction::new(llm.clone(), cipher.clone()))
        .with(nishan_domain::service::processing::linking::Linking {
            llm: llm.clone(),
            cipher: cipher.clone(),
            retry: Default::default(),
        })
        .with(Training)
        .with(nishan_domain::service::processing::embedding::Embedding {
            client: llm.clone(),
            cipher: cipher.clone(),
            retry: Default::default(),
        })
        .with(Experiments { llm, cipher, retry: Default::default() })
}

pub async fn bootstrap_custom(
    settings: Settings,
    conn: sea_orm_conn::DatabaseConnection,
    overrides: Overrides,
) -> anyhow::Result<AppState> {
    let applied = |status: Vec<(String, bool)>| status.into_iter().filter(|(_, done)| *done).count();
    let migrations_before = applied(db::migration_status(&conn).await.context("reading the migrations")?);
    db::migrate_up(&conn).await.context("applying migrations")?;
    let migrations_applied = applied(db::migration_status(&conn).await?) - migrations_before;
    let hasher = Argon2Hasher::new().map_err(|e| anyhow::anyhow!("{e}"))?;
    let clock = overrides.clock.unwrap_or_default();
    let (cipher, key) =
        SecretBox::open(settings.secret_key.as_deref(), &settings.data_dir).context("loading the secret key")?;
    let startup = commands::Startup {
        database: commands::describe_database(&settings.database_url()),
        migrations_before,
        migrations_applied,
        key,
    };
    let events = match overrides.events {
        Some(bus) => bus,
        None => {
            let bridge = nishan_infrastructure::events::BridgeConfig {
                reconnect_delay: std::time::Duration::from_millis(settings.events_reconnect_ms),
                retention: std::time::Duration::from_secs(settings.events_retention_secs.max(1)),
            };
            EventBus::connect_with(&conn, bridge).await
        }
    };
    // SQLite's writes queue for one connection of their own (see `Store`).
    let store = if db::is_sqlite(&conn) {
        let mut writer = open_writer(&settings).await?;
        if let Some(on_statement) = overrides.writer_statements.clone() {
            writer.set_metric_callback(move |info| on_statement(&info.statement.sql));
        }
        Store::with_writer(conn, writer)
    } else {
        Store::new(conn)
    };
    // Documents stored before the search index existed (or under an older index format).
    let reindexed =
        store.index_stale_documents().await.map_err(|e| anyhow::anyhow!("indexing documents for search: {e}"))?;
    if reindexed > 0 {
        tracing::info!(documents = reindexed, "indexed documents for search");
    }
    let llm = llm::MeteredClient::new()?;
    let fetcher = HttpFetcher::new(
        nishan_infrastructure::net::guard::AddressGuard::new(settings.outbound.allow_private_addresses),
        std::time::Duration::from_millis(settings.outbound.source_timeout_ms.max(100)),
    )
    .context("building the sources' HTTP client")?;
    let ingestion = Ingestion::new(fetcher, settings.outbound.source_max_page_bytes.max(1024));
    let handlers = Arc::new(job_handlers(llm.clone(), cipher.clone(), ingestion));
    if settings.workers > 0 {
        let config = WorkerConfig {
            workers: settings.workers,
            lease: std::time::Duration::from_secs(settings.job_lease_secs.max(2)),
            poll: std::time::Duration::from_millis(settings.job_poll_ms.max(10)),
            backoff: Default::default(),
            instance: format!("{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]),
        };
        JobRunner::new(store.clone(), events.clone(), handlers.clone(), config).spawn();
    }
    let runtime = Arc::new(runtime_settings::RuntimeCache::new(&settings));
    runtime.refresh(&store).await.map_err(|e| anyhow::anyhow!("reading the runtime settings: {e}"))?;
    runtime.spawn_refresh(store.clone(), std::time::Duration::from_millis(settings.settings_refresh_ms.max(10)));
    if settings.outbound.webhook_senders > 0 {
        let cache = runtime.clone();
        let config = nishan_infrastructure::webhooks::SenderConfig {
            senders: settings.outbound.webhook_senders,
            poll: std::time::Duration::from_millis(settings.outbound.webhook_poll_ms.max(10)),
            timeout: std::time::Duration::from_millis(settings.outbound.webhook_timeout_ms.max(100)),
            lease: std::time::Duration::from_millis(settings.outbound.webhook_timeout_ms.max(100) * 3 + 5_000),
            retry_base: Arc::new(move || chrono::Duration::milliseconds(cache.get().webhook_retry_base_ms as i64)),
            guard: nishan_infrastructure::net::guard::AddressGuard::new(settings.outbound.allow_private_addresses),
            instance: format!("{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]),
        };
        nishan_infrastructure::webhooks::WebhookSender::new(store.clone(), cipher.clone(), config)
            .context("building the webhook client")?
            .spawn();
    }
    let state = AppState {
        runtime,
        store,
        hasher,
        tokens: RandomTokens,
        settings: Arc::new(settings),
        events,
        cipher,
        llm,
        handlers,
        clock,
        chat_streams: Default::default(),
        activity: Default::default(),
        startup: Arc::new(startup),
    };
    if state.settings.auto_train {
        learning::spawn_auto_training(state.clone());
    }
    Ok(state)
}

/// The database connection type, re-exported for the binary and tests.
pub mod sea_orm_conn {
    pub use nishan_infrastructure::db::DatabaseConnection;
}
