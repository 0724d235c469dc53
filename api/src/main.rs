//! The `nishan` binary: configuration, then the chosen command.

use anyhow::Context as _;
use clap::Parser;
use nishan_api::config::{Cli, Command, LogFormat, MigrateAction};
use nishan_infrastructure::db;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings;
    let filter = EnvFilter::try_new(&settings.log).context("invalid log filter")?;
    match settings.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
    }
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
            let bind = settings.bind;
            let state = nishan_api::bootstrap(settings).await?;
            let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("binding {bind}"))?;
            tracing::info!("Nishan listening on http://{}/graphql (GraphiQL in a browser)", listener.local_addr()?);
            nishan_api::server::serve(listener, nishan_api::server::router(state)).await?;
        }
    }
    Ok(())
}
