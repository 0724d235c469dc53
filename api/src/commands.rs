//! What the `nishan` binary tells its operator: the `migrate` commands' output and the server's
//! start-up notices. Every command names the database it opened (a SQLite file by its absolute
//! path, a PostgreSQL URL without its password), so one run from the wrong directory says where
//! it looked; `migrate status` and `migrate down` never create a database (they refuse a SQLite
//! file that does not exist); the server says when it found an empty database and when it
//! generated the secret-key file that must be backed up with it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use nishan_infrastructure::crypto::KeySource;
use nishan_infrastructure::db;

use crate::config::{MigrateAction, Settings};

/// The file of a `sqlite://PATH?...` URL (`None` for other databases and in-memory SQLite).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// The database a URL opens, as the operator should see it: a SQLite file by its absolute path,
/// any other URL without its password (in the user part or a `password=` parameter).
pub fn describe_database(url: &str) -> String {
    if let Some(path) = sqlite_path(url) {
        let path = std::path::absolute(&path).unwrap_or(path);
        return format!("SQLite file {}", path.display());
    }
    let (url, query) = url.split_once('?').map_or((url, None), |(u, q)| (u, Some(q)));
    let mut shown = match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
            let authority = match authority.rsplit_once('@') {
                Some((user, host)) => format!("{}@{host}", user.split(':').next().unwrap_or(user)),
                None => authority.to_owned(),
            };
            let path = path.map(|p| format!("/{p}")).unwrap_or_default();
            format!("{scheme}://{authority}{path}")
        }
        None => url.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=…"),
                _ => p.to_owned(),
            })
            .collect();
        shown = format!("{shown}?{}", params.join("&"));
    }
    if shown.starts_with("postgres") { format!("PostgreSQL database {shown}") } else { format!("database {shown}") }
}

/// `nishan migrate up|down|status`, writing what it did to `out`.
pub async fn migrate(settings: &Settings, action: MigrateAction, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let url = settings.database_url();
    let label = describe_database(&url);
    if let (MigrateAction::Status | MigrateAction::Down { .. }, Some(path)) = (&action, sqlite_path(&url))
        && !path.exists()
    {
        anyhow::bail!(
            "there is no database here: {label} does not exist (run from the directory that holds `data/`, \
             or give --data-dir or DATABASE_URL; `nishan migrate up` or `nishan` creates a new one)"
        );
    }
    let conn = crate::connect(settings).await?;
    writeln!(out, "{label}")?;
    let before = db::migration_status(&conn).await?;
    let applied = |status: &[(String, bool)]| status.iter().filter(|(_, done)| *done).count();
    match action {
        MigrateAction::Up => {
            db::migrate_up(&conn).await.context("applying migrations")?;
            let after = db::migration_status(&conn).await?;
            writeln!(out, "{}", applied_now(applied(&before), applied(&after)))?;
        }
        MigrateAction::Down { steps, all } => {
            db::migrate_down(&conn, (!all).then_some(steps)).await.context("rolling back migrations")?;
            let after = db::migration_status(&conn).await?;
            let undone = applied(&before) - applied(&after);
            writeln!(out, "rolled back {undone} migration{}", if undone == 1 { "" } else { "s" })?;
        }
        MigrateAction::Status => {
            for (name, done) in &before {
                writeln!(out, "{} {name}", if *done { "applied" } else { "pending" })?;
            }
            let pending = before.len() - applied(&before);
            writeln!(out, "{} applied, {pending} pending", applied(&before))?;
        }
    }
    Ok(())
}

fn applied_now(before: usize, after: usize) -> String {
    match (before, after - before) {
        (_, 0) => "no migration was pending".to_owned(),
        (0, n) => format!("a new, empty database: applied {n} migrations"),
        (_, n) => format!("applied {n} pending migration{}", if n == 1 { "" } else { "s" }),
    }
}

/// What the server found and did as it started, for its operator.
#[derive(Debug, Clone)]
pub struct Startup {
    /// [`describe_database`] of the database it opened.
    pub database: String,
    /// Migrations applied before this start, and by it.
    pub migrations_before: usize,
    pub migrations_applied: usize,
    pub key: KeySource,
}

impl Startup {
    /// The line the server logs once it listens.
    pub fn listening(&self, addr: std::net::SocketAddr) -> String {
        format!("Nishan listening on http://{addr}/graphql (GraphiQL in a browser); {}", self.database)
    }

    /// What else the operator should know: a new database or applied migrations, and a
    /// generated key (in that order).
    pub fn notices(&self) -> Vec<String> {
        self.migrations_notice().into_iter().chain(self.key_notice()).collect()
    }

    /// The migrations this start applied, if any.
    pub fn migrations_notice(&self) -> Option<String> {
        (self.migrations_applied > 0).then(|| {
            let after = self.migrations_before + self.migrations_applied;
            format!("{}: {}", self.database, applied_now(self.migrations_before, after))
        })
    }

    /// The key file this start generated, which must be backed up with the database.
    pub fn key_notice(&self) -> Option<String> {
        let KeySource::File { path, generated: true } = &self.key else {
            return None;
        };
        Some(format!(
            "generated a new secret key in {}: back it up with the database, or the model API keys stored \
             under it cannot be decrypted",
            std::path::absolute(path).unwrap_or_else(|_| path.clone()).display()
        ))
    }
}
