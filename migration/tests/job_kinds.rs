//! The job-kinds migration (`m20261201_010001_job_kinds`) keeps every job and the model calls'
//! links to them, on SQLite (where it rebuilds `processing_jobs`, and dropping the old table
//! would set `model_calls.job_id` to NULL) and on PostgreSQL; after it a job may have no
//! document; its `down` removes only such jobs.

use nishan_migration::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

const PROJECT: &str = "11111111-1111-7111-8111-111111111111";
const DOCUMENT: &str = "22222222-2222-7222-8222-222222222222";
const JOB: &str = "33333333-3333-7333-8333-333333333333";
const PROJECT_JOB: &str = "44444444-4444-7444-8444-444444444444";
const CALL: &str = "55555555-5555-7555-8555-555555555555";
const AT: &str = "2026-12-01T10:00:00Z";

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), String> {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .map(drop)
        .map_err(|e| format!("{sql}: {e}"))
}

async fn one(db: &DatabaseConnection, sql: &str) -> Result<Option<String>, String> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    match row {
        None => Ok(None),
        Some(r) => r.try_get::<Option<String>>("", "v").map_err(|e| format!("{sql}: {e}")),
    }
}

fn cast(_: &DatabaseConnection, column: &str) -> String {
    format!("CAST({column} AS TEXT)")
}

async fn keeps_jobs_and_their_calls(db: &DatabaseConnection) -> Result<(), String> {
    let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let before = names.iter().position(|n| n == "m20261201_010001_job_kinds").expect("the migration is listed");
    Migrator::up(db, Some(before as u32)).await.map_err(|e| e.to_string())?;
    exec(db, &format!("INSERT INTO projects (id, name, slug, tags, \"references\", created_at, updated_at) VALUES ('{PROJECT}', 'P', 'p', '[]', '[]', '{AT}', '{AT}')")).await?;
    exec(db, &format!("INSERT INTO documents (id, project_id, title, content, content_hash, direction, word_count, character_count, line_count, tags, metadata, created_at, updated_at) VALUES ('{DOCUMENT}', '{PROJECT}', 'D', 'text', 'hash', 'RTL', 1, 4, 1, '[]', '{{}}', '{AT}', '{AT}')")).await?;
    exec(db, &format!("INSERT INTO processing_jobs (id, document_id, project_id, status, error_details, created_at, updated_at, completed_steps) VALUES ('{JOB}', '{DOCUMENT}', '{PROJECT}', 'PAUSED', '{{}}', '{AT}', '{AT}', 2)")).await?;
    exec(db, &format!("INSERT INTO model_calls (id, job_id, attempt, prompt_tokens, completion_tokens, cost, latency_ms, status, created_at) VALUES ('{CALL}', '{JOB}', 1, 10, 5, 0.0, 20, 'SUCCESS', '{AT}')")).await?;

    Migrator::up(db, Some(1)).await.map_err(|e| format!("up: {e}"))?;
    let kind = one(db, &format!("SELECT kind AS v FROM processing_jobs WHERE {} = '{JOB}'", cast(db, "id"))).await?;
    assert_eq!(kind.as_deref(), Some("EXTRACTION"), "the job is kept, as an extraction");
    let steps =
        one(db, &format!("SELECT {} AS v FROM processing_jobs WHERE status = 'PAUSED'", cast(db, "completed_steps")))
            .await?;
    assert_eq!(steps.as_deref(), Some("2"), "with its progress");
    let link = one(db, &format!("SELECT {} AS v FROM model_calls", cast(db, "job_id"))).await?;
    assert_eq!(link.as_deref(), Some(JOB), "the model call still names its job");
    exec(db, &format!("INSERT INTO processing_jobs (id, document_id, project_id, status, error_details, created_at, updated_at, kind) VALUES ('{PROJECT_JOB}', NULL, '{PROJECT}', 'QUEUED', '{{}}', '{AT}', '{AT}', 'LINKING')")).await?;
    let params =
        one(db, &format!("SELECT {} AS v FROM processing_jobs WHERE kind = 'LINKING'", cast(db, "params"))).await?;
    assert_eq!(params.as_deref(), Some("{}"), "params default to an empty object");

    Migrator::down(db, Some(1)).await.map_err(|e| format!("down: {e}"))?;
    let count = one(db, &format!("SELECT {} AS v FROM processing_jobs", cast(db, "COUNT(*)"))).await?;
    assert_eq!(count.as_deref(), Some("1"), "the project job is gone, the document job kept");
    let link = one(db, &format!("SELECT {} AS v FROM model_calls", cast(db, "job_id"))).await?;
    assert_eq!(link.as_deref(), Some(JOB), "and its call's link");
    Migrator::up(db, None).await.map_err(|e| format!("up again: {e}"))?;
    Ok(())
}

#[tokio::test]
async fn sqlite() {
    let dir = std::env::temp_dir().join(format!("nishan-mig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("kinds.db").display());
    let db = Database::connect(url.as_str()).await.expect("open SQLite");
    let outcome = keeps_jobs_and_their_calls(&db).await;
    db.close().await.ok();
    std::fs::remove_dir_all(&dir).ok();
    outcome.unwrap();
}

#[tokio::test]
async fn postgres() {
    let admin_url = std::env::var("NISHAN_TEST_POSTGRES_URL").ok().filter(|u| !u.trim().is_empty()).expect(
        "NISHAN_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts a PostgreSQL for them",
    );
    let admin = Database::connect(admin_url.as_str()).await.expect("connect to NISHAN_TEST_POSTGRES_URL");
    let name = format!("nishan_kinds_{}", std::process::id());
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let db = Database::connect(format!("{base}/{name}").as_str()).await.expect("connect to the scratch database");
    let outcome = keeps_jobs_and_their_calls(&db).await;
    db.close().await.ok();
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.ok();
    outcome.unwrap();
}
