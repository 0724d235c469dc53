//! Command line and environment configuration. Every setting has a flag and an environment
//! variable; the defaults start a working server with nothing installed.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "nishan",
    version,
    about = "Nishan: a GraphQL server for collaborative, LLM-assisted entity annotation"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run pending migrations, then serve GraphQL (the default).
    Serve,
    /// Apply, roll back or list database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back migrations (the last one by default).
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
        /// Roll back all of them.
        #[arg(long, conflicts_with = "steps")]
        all: bool,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Database URL: `sqlite://PATH?mode=rwc` or `postgres://...`. Default: a SQLite file in
    /// the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for the embedded database and generated files.
    #[arg(long, env = "NISHAN_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "NISHAN_BIND", default_value = "127.0.0.1:8000")]
    pub bind: SocketAddr,
    /// Key for encrypting stored secrets (model API keys).
    #[arg(long, env = "NISHAN_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Log filter, in `tracing` syntax (`info`, `nishan_api=debug,info`).
    #[arg(long, env = "NISHAN_LOG", default_value = "info")]
    pub log: String,
    /// Log line format.
    #[arg(long, env = "NISHAN_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Size of the database connection pool.
    #[arg(long, env = "NISHAN_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// How long a session lasts, in days.
    #[arg(long, env = "NISHAN_SESSION_TTL_DAYS", default_value_t = 30)]
    pub session_ttl_days: i64,
    /// Deepest nesting a query may have.
    #[arg(long, env = "NISHAN_MAX_DEPTH", default_value_t = 12)]
    pub max_depth: usize,
    /// Highest complexity a query may have.
    /// The default admits a page of 10,000 entities with a dozen fields each.
    #[arg(long, env = "NISHAN_MAX_COMPLEXITY", default_value_t = 250_000)]
    pub max_complexity: usize,
    /// How long a DataLoader waits before its batch, in milliseconds. HTTP requests run their
    /// batches after each pass of their resolvers (every key is in by then), so 0 adds no wait.
    #[arg(long, env = "NISHAN_LOADER_DELAY_MS", default_value_t = 0)]
    pub loader_delay_ms: u64,
    /// Processing jobs this server runs at once (0: this replica only serves the API).
    #[arg(long, env = "NISHAN_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// How long a worker's claim on a job lasts without a heartbeat, in seconds; a job whose
    /// server died is taken up again after this.
    #[arg(long, env = "NISHAN_JOB_LEASE_SECS", default_value_t = 30)]
    pub job_lease_secs: u64,
    /// How often an idle worker looks for queued jobs, in milliseconds (it is also woken when
    /// a job is queued).
    #[arg(long, env = "NISHAN_JOB_POLL_MS", default_value_t = 1000)]
    pub job_poll_ms: u64,
    /// How often a `jobProgress` subscription reads its job's row while the job runs, in
    /// milliseconds, so that it ends at the final status even if that event was lost.
    #[arg(long, env = "NISHAN_JOB_PROGRESS_RECHECK_MS", default_value_t = 5_000)]
    pub job_progress_recheck_ms: u64,
    /// How long the event listener waits before reconnecting to PostgreSQL after losing its
    /// connection, in milliseconds.
    #[arg(long, env = "NISHAN_EVENTS_RECONNECT_MS", default_value_t = 1_000)]
    pub events_reconnect_ms: u64,
    /// How long published events are kept in `bus_events`, in seconds (PostgreSQL): a replica
    /// whose listener is away for longer tells its subscribers to re-read (`RESYNC`).
    #[arg(long, env = "NISHAN_EVENTS_RETENTION_SECS", default_value_t = 600)]
    pub events_retention_secs: u64,
    /// Whether projects train their learned model on their own once enough new gold came in
    /// (`nishan_domain::service::learning::AUTO_TRAIN_NEW_GOLD` verified entities).
    #[arg(long, env = "NISHAN_AUTO_TRAIN", default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_train: bool,
    /// Largest document accepted (pasted or uploaded), in bytes.
    #[arg(long, env = "NISHAN_MAX_DOCUMENT_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_document_bytes: usize,
    /// Failed logins per account before a cooldown.
    #[arg(long, env = "NISHAN_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,
    /// Failed logins per address before a cooldown.
    #[arg(long, env = "NISHAN_LOGIN_MAX_FAILURES_PER_IP", default_value_t = 30)]
    pub login_max_failures_per_ip: u32,
    /// Seconds a throttled account or address waits.
    #[arg(long, env = "NISHAN_LOGIN_COOLDOWN_SECS", default_value_t = 300)]
    pub login_cooldown_secs: i64,
    /// How often each server reads the runtime settings (`updateSystemSettings`) again, in
    /// milliseconds: a change is in force on every replica within this time.
    #[arg(long, env = "NISHAN_SETTINGS_REFRESH_MS", default_value_t = 1_000)]
    pub settings_refresh_ms: u64,
    #[command(flatten)]
    pub surface: SurfaceSettings,
    #[command(flatten)]
    pub connections: ConnectionSettings,
    #[command(flatten)]
    pub outbound: OutboundSettings,
}

/// Requests this server makes to addresses users give (webhooks, sources).
#[derive(Debug, Clone, Args)]
pub struct OutboundSettings {
    /// Let webhooks and sources reach loopback and private addresses (tests, closed networks).
    #[arg(long, env = "NISHAN_ALLOW_PRIVATE_ADDRESSES", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private_addresses: bool,
    /// The wait before a failed webhook delivery's first retry, in milliseconds; each later
    /// retry waits twice as long (the default of the runtime setting `webhookRetryBaseMs`).
    #[arg(long, env = "NISHAN_WEBHOOK_RETRY_BASE_MS", default_value_t = 5_000)]
    pub webhook_retry_base_ms: u64,
    /// How often an idle webhook sender looks for due deliveries, in milliseconds.
    #[arg(long, env = "NISHAN_WEBHOOK_POLL_MS", default_value_t = 1_000)]
    pub webhook_poll_ms: u64,
    /// Webhook deliveries this server sends at once (0: this replica sends none).
    #[arg(long, env = "NISHAN_WEBHOOK_SENDERS", default_value_t = 2)]
    pub webhook_senders: usize,
    /// The longest one webhook delivery attempt may take, in milliseconds.
    #[arg(long, env = "NISHAN_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,
    /// The longest one request of a source's INGESTION job may take, in milliseconds.
    #[arg(long, env = "NISHAN_SOURCE_TIMEOUT_MS", default_value_t = 15_000)]
    pub source_timeout_ms: u64,
    /// Most bytes read of one fetched page (a longer one fails, counted `failed`).
    #[arg(long, env = "NISHAN_SOURCE_MAX_PAGE_BYTES", default_value_t = 5 * 1024 * 1024)]
    pub source_max_page_bytes: usize,
    /// Days delivered and failed webhook deliveries (and their attempts) are kept, counted
    /// from when they were queued (0: forever). Pending ones are always kept.
    #[arg(long, env = "NISHAN_WEBHOOK_RETENTION_DAYS", default_value_t = 30)]
    pub webhook_retention_days: u32,
}

/// Connections and where they come from: read timeouts, caps, trusted reverse proxies.
#[derive(Debug, Clone, Args)]
pub struct ConnectionSettings {
    /// How long a client has to send a request's headers, in milliseconds (then the
    /// connection is closed); an idle connection is closed after it too.
    #[arg(long, env = "NISHAN_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// How long a client has to send a whole request body, in milliseconds (then 408).
    #[arg(long, env = "NISHAN_BODY_READ_TIMEOUT_MS", default_value_t = 60_000)]
    pub body_read_timeout_ms: u64,
    /// Most connections open at once (also kept below the open-files limit); one more is
    /// answered 503 and closed.
    #[arg(long, env = "NISHAN_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Most connections open at once from one address (trusted proxies excepted); one more
    /// is answered 503 and closed.
    #[arg(long, env = "NISHAN_MAX_CONNECTIONS_PER_IP", default_value_t = 100)]
    pub max_connections_per_ip: usize,
    /// Reverse proxies whose forwarding header is believed (addresses or CIDRs,
    /// comma-separated). Empty: the TCP peer is the client.
    #[arg(long, env = "NISHAN_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::proxy::parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header trusted proxies set: `x-forwarded-for` or `forwarded` (RFC 7239).
    #[arg(long, env = "NISHAN_FORWARDED_HEADER", value_enum, default_value = "x-forwarded-for")]
    pub forwarded_header: crate::proxy::ForwardedHeader,
}

impl ConnectionSettings {
    pub fn proxies(&self) -> crate::proxy::TrustedProxies<'_> {
        crate::proxy::TrustedProxies { nets: &self.trusted_proxies, header: self.forwarded_header }
    }
}

/// The public surface: protocol limits, browser access, rate limits, retention, operations.
#[derive(Debug, Clone, Args)]
pub struct SurfaceSettings {
    /// Production mode: no introspection, no field suggestions in errors, no GraphiQL.
    #[arg(long, env = "NISHAN_PRODUCTION", default_value_t = false, action = clap::ArgAction::Set)]
    pub production: bool,
    /// Origins allowed to call the API from a browser (comma-separated, e.g.
    /// `https://app.example.org`); `*` allows any origin, without credentials. Empty: none.
    #[arg(long, env = "NISHAN_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Largest JSON request body, in bytes. Default: the largest document plus 1 MiB, so a
    /// pasted document at the limit still fits.
    #[arg(long, env = "NISHAN_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most files one upload request may carry (each at most the largest document).
    #[arg(long, env = "NISHAN_MAX_UPLOAD_FILES", default_value_t = 5)]
    pub max_upload_files: usize,
    /// Most operations in one batched request (a JSON array); 0 refuses batches.
    #[arg(long, env = "NISHAN_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,
    /// Longest time one operation may run, in milliseconds.
    #[arg(long, env = "NISHAN_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    /// Most aliases one document may use.
    #[arg(long, env = "NISHAN_MAX_ALIASES", default_value_t = 50)]
    pub max_aliases: usize,
    /// Largest answer to one operation, in bytes of JSON (0: no limit); over it the answer is
    /// one RESPONSE_TOO_LARGE error.
    #[arg(long, env = "NISHAN_MAX_RESPONSE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_response_bytes: usize,
    /// Most field selections one document may make, counted after fragment expansion.
    #[arg(long, env = "NISHAN_MAX_FIELDS", default_value_t = 2_000)]
    pub max_fields: usize,
    /// Most directives on one field.
    #[arg(long, env = "NISHAN_MAX_DIRECTIVES", default_value_t = 10)]
    pub max_directives: usize,
    /// Mutations one user may send per minute (0: unlimited).
    #[arg(long, env = "NISHAN_MUTATIONS_PER_MINUTE", default_value_t = 300)]
    pub mutations_per_minute: u32,
    /// Mutations one address may send per minute (0: unlimited).
    #[arg(long, env = "NISHAN_MUTATIONS_PER_MINUTE_PER_IP", default_value_t = 1000)]
    pub mutations_per_minute_per_ip: u32,
    /// How long a WebSocket may stay open without `connection_init`, in milliseconds.
    #[arg(long, env = "NISHAN_WS_INIT_TIMEOUT_MS", default_value_t = 3_000)]
    pub ws_init_timeout_ms: u64,
    /// How long a message to a WebSocket client may wait to be written, in milliseconds: a
    /// client that reads nothing for this long is disconnected.
    #[arg(long, env = "NISHAN_WS_SEND_TIMEOUT_MS", default_value_t = 10_000)]
    pub ws_send_timeout_ms: u64,
    /// Days audit rows are kept (0: forever).
    #[arg(long, env = "NISHAN_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,
    /// Days model-call records are kept (0: forever). Usage accounting reads them.
    #[arg(long, env = "NISHAN_MODEL_CALL_RETENTION_DAYS", default_value_t = 365)]
    pub model_call_retention_days: u32,
    /// Days a chat session is kept after its last message (0: forever).
    #[arg(long, env = "NISHAN_CHAT_RETENTION_DAYS", default_value_t = 365)]
    pub chat_retention_days: u32,
    /// How often the retention task runs, in seconds.
    #[arg(long, env = "NISHAN_RETENTION_INTERVAL_SECS", default_value_t = 3600)]
    pub retention_interval_secs: u64,
    /// When set, `GET /metrics` answers only with `Authorization: Bearer <this token>`.
    #[arg(long, env = "NISHAN_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Write the bound address (`127.0.0.1:PORT`) to this file once listening: for scripts
    /// that start the server on port 0.
    #[arg(long, env = "NISHAN_ADDR_FILE")]
    pub addr_file: Option<PathBuf>,
}

impl Settings {
    /// The database URL in force: the configured one, or the embedded SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("nishan.db").display()),
        }
    }

    /// The largest JSON request body.
    pub fn max_body_bytes(&self) -> usize {
        self.surface.max_body_bytes.unwrap_or(self.max_document_bytes + 1024 * 1024)
    }

    /// The sign-in throttle: failures per account and per address within 15 minutes, then
    /// the cooldown.
    pub fn login_limits(&self) -> nishan_domain::throttle::LoginLimits {
        let policy = |max| nishan_domain::throttle::ThrottlePolicy {
            max_failures: max,
            window: chrono::Duration::minutes(15),
            cooldown: chrono::Duration::seconds(self.login_cooldown_secs.max(1)),
        };
        nishan_domain::throttle::LoginLimits {
            per_account: policy(self.login_max_failures),
            per_address: policy(self.login_max_failures_per_ip),
        }
    }

    /// Defaults, as if no flag or variable were given (for tests and tools).
    pub fn defaults() -> Self {
        Cli::parse_from(["nishan"]).settings
    }
}
