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
    #[arg(long, env = "NISHAN_MAX_COMPLEXITY", default_value_t = 50_000)]
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
}

impl Settings {
    /// The database URL in force: the configured one, or the embedded SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("nishan.db").display()),
        }
    }

    /// Defaults, as if no flag or variable were given (for tests and tools).
    pub fn defaults() -> Self {
        Cli::parse_from(["nishan"]).settings
    }
}
