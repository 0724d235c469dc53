//! The `nishan` binary: configuration, then the chosen command.

use anyhow::Context as _;
use clap::Parser;
use nishan_api::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings;
    nishan_api::logging::init(&settings.log, settings.log_format)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Schema => print!("{}", nishan_api::graphql::sdl()),
        Command::Migrate { action } => nishan_api::commands::migrate(&settings, action, &mut std::io::stdout()).await?,
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
            if let Some(notice) = state.startup.migrations_notice() {
                tracing::info!("{notice}");
            }
            if let Some(notice) = state.startup.key_notice() {
                tracing::warn!("{notice}");
            }
            tracing::info!("{}", state.startup.listening(addr));
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
