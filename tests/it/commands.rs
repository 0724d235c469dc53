//! What the `nishan` binary tells its operator: `migrate up|down|status` name the database they
//! opened and what they did, `status` and `down` refuse a SQLite file that is not there (rather
//! than creating an empty one and calling every migration pending), and the server's start-up
//! says which database it serves, when it found it empty, and when it generated `secret.key`.

use crate::common;

use common::{Db, TestApp, fresh_database, test_settings};
use nishan_api::config::MigrateAction;

async fn migrate(settings: &nishan_api::config::Settings, action: MigrateAction) -> anyhow::Result<String> {
    let mut out = Vec::new();
    nishan_api::commands::migrate(settings, action, &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

fn migration_count() -> usize {
    use nishan_migration::MigratorTrait as _;
    nishan_migration::Migrator::migrations().len()
}

async fn migrate_commands_name_their_database(db: Db) {
    let fresh = fresh_database(db).await;
    let settings = test_settings(&fresh.url, &fresh.dir);
    let n = migration_count();
    let label = match db {
        Db::Sqlite => format!("SQLite file {}", fresh.dir.join("nishan.db").display()),
        Db::Postgres => format!("PostgreSQL database {}", fresh.url),
    };
    if db == Db::Sqlite {
        // Run where there is no database: it says where it looked, and creates nothing.
        for action in [MigrateAction::Status, MigrateAction::Down { steps: 1, all: false }] {
            let refused = migrate(&settings, action).await.unwrap_err().to_string();
            assert!(refused.contains(&format!("there is no database here: {label} does not exist")), "{refused}");
            assert!(refused.contains("--data-dir or DATABASE_URL"), "{refused}");
        }
        assert!(!fresh.dir.join("nishan.db").exists(), "status created a database");
    } else {
        // An empty PostgreSQL database exists already: status lists every migration pending.
        let status = migrate(&settings, MigrateAction::Status).await.unwrap();
        assert!(status.starts_with(&format!("{label}\n")), "{status}");
        assert!(status.ends_with(&format!("0 applied, {n} pending\n")), "{status}");
    }
    let up = migrate(&settings, MigrateAction::Up).await.unwrap();
    assert_eq!(up, format!("{label}\na new, empty database: applied {n} migrations\n"));
    let again = migrate(&settings, MigrateAction::Up).await.unwrap();
    assert_eq!(again, format!("{label}\nno migration was pending\n"));
    let status = migrate(&settings, MigrateAction::Status).await.unwrap();
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(lines.len(), n + 2, "{status}");
    assert_eq!(lines[0], label);
    assert!(lines[1].starts_with("applied m20261123_000001_"), "{status}");
    assert_eq!(lines[n + 1], format!("{n} applied, 0 pending"));
    let down = migrate(&settings, MigrateAction::Down { steps: 1, all: false }).await.unwrap();
    assert_eq!(down, format!("{label}\nrolled back 1 migration\n"));
    let status = migrate(&settings, MigrateAction::Status).await.unwrap();
    assert!(status.lines().nth(n).unwrap().starts_with("pending "), "{status}");
    assert!(status.ends_with(&format!("{} applied, 1 pending\n", n - 1)), "{status}");
    let up = migrate(&settings, MigrateAction::Up).await.unwrap();
    assert_eq!(up, format!("{label}\napplied 1 pending migration\n"));
}

async fn the_server_says_what_it_opened_and_generated(db: Db) {
    let app = TestApp::spawn(db).await;
    let startup = &app.state.startup;
    let label = match db {
        Db::Sqlite => format!("SQLite file {}", app.data_dir.join("nishan.db").display()),
        Db::Postgres => format!("PostgreSQL database {}", app.db_url),
    };
    assert_eq!(
        startup.listening(app.addr),
        format!("Nishan listening on http://{}/graphql (GraphiQL in a browser); {label}", app.addr)
    );
    let key = app.data_dir.join("secret.key");
    assert_eq!(
        startup.notices(),
        [
            format!("{label}: a new, empty database: applied {} migrations", migration_count()),
            format!(
                "generated a new secret key in {}: back it up with the database, or the model API keys stored \
                 under it cannot be decrypted",
                key.display()
            ),
        ]
    );
    assert!(key.exists());
    // Started again on the same data: nothing new to say.
    let again = app.restart(|_| {}).await;
    assert_eq!(again.state.startup.notices(), Vec::<String>::new());
    // With NISHAN_SECRET_KEY no key file is involved.
    let with_key = TestApp::spawn_with(db, |s| s.secret_key = Some("a passphrase of the operator".into())).await;
    assert_eq!(with_key.state.startup.notices().len(), 1, "{:?}", with_key.state.startup.notices());
    assert!(!with_key.data_dir.join("secret.key").exists());
}

#[test]
fn database_names_leave_out_passwords() {
    use nishan_api::commands::describe_database;
    assert_eq!(
        describe_database("postgres://nishan:s3cret@db.example.org:5432/nishan?sslmode=require"),
        "PostgreSQL database postgres://nishan@db.example.org:5432/nishan?sslmode=require"
    );
    assert_eq!(
        describe_database("postgresql://db.example.org/nishan?user=nishan&password=s3cret"),
        "PostgreSQL database postgresql://db.example.org/nishan?user=nishan&password=…"
    );
    assert_eq!(
        describe_database("postgres://p%40ss:w@rd@host/db"),
        "PostgreSQL database postgres://p%40ss@host/db",
        "the password ends at the last @"
    );
    // A relative SQLite path is shown absolute: it says which directory the command ran in.
    let here = std::env::current_dir().unwrap();
    assert_eq!(
        describe_database("sqlite://./data/nishan.db?mode=rwc"),
        format!("SQLite file {}/data/nishan.db", here.display())
    );
}

on_both_databases!(migrate_commands_name_their_database, the_server_says_what_it_opened_and_generated);
