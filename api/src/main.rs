//! The `nishan` binary: configuration, then the chosen command.

use anyhow::Context as _;
use clap::Parser;
use nishan_api::config::{Cli, Command, MigrateAction};
use nishan_infrastructure::db;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings;
    nishan_api::logging::init(&settings.log, settings.log_format)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Schema => print!("{}", nishan_api::graphql::sdl()),
        Command::Migrate { action } => {
            let conn = nishan_api::connect(&settings).await?;
            match action {
                MigrateAction::Up => db::migrate_up(&conn).await?,
                MigrateAction::Down { steps, all } => db::migrate_down(&conn, (!all).then_some(steps)).await?,
                MigrateAction::Status => {
                    for (name, applied) in db::migration_status(&conn).await? {
                        println!("{} {name}", if applied { "applied" } else { "pending" });
                    }
                }
            }
        }
        Command::Serve => {
            // Refuse a bad origin list here, with a readable error, rather than in the router.
            nishan_api::http::cors::layer(&settings.surface.cors_origins)?;
            let bind = settings.bind;
            let addr_file = settings.surface.addr_file.clone();
            // Each connection holds a file: take every file the system allows.
            let files = nishan_api::server::raise_open_files_limit();
            let limits = nishan_api::server::ConnectionLimits::from_settings(&settings);
            tracing::info!(open_files = files, max_connections = limits.max_connections, "connection limits");
            let state = nishan_api::bootstrap(settings).await?;
            let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("binding {bind}"))?;
            let addr = listener.local_addr()?;
            if let Some(path) = addr_file {
                write_addr_file(&path, addr).with_context(|| format!("writing {}", path.display()))?;
            }
            tracing::info!("Nishan listening on http://{addr}/graphql (GraphiQL in a browser)");
            nishan_api::retention::spawn(state.clone());
            nishan_api::server::serve(listener, nishan_api::server::router(state), limits).await?;
        }
    }
    Ok(())
}

/// Writes the bound address whole or not at all (a reader polling the file never sees half
/// of it): to a temporary file first, then renamed into place.
fn write_addr_file(path: &std::path::Path, addr: std::net::SocketAddr) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{addr}\n"))?;
    std::fs::rename(&tmp, path)
}
