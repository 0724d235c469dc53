//! Every migration applies, rolls back completely and applies again, on
//! SQLite (always) and on PostgreSQL (when `NISHAN_TEST_POSTGRES_URL` names a
//! server on which a scratch database may be created).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use nishan_migration::{Migrator, MigratorTrait};
use sea_orm_migration::SchemaManager;
use sea_orm_migration::sea_orm::prelude::{ChronoDateTimeUtc, ChronoUtc, Json, Uuid};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use sea_orm_migration::sea_query::{Alias, Order, Query};

const TABLES: [&str; 45] = [
    "users",
    "user_profiles",
    "user_sessions",
    "projects",
    "project_memberships",
    "audit_logs",
    "documents",
    "document_versions",
    "entity_types",
    "entities",
    "entity_rejections",
    "entity_relationships",
    "rate_limits",
    "bus_events",
    "login_throttles",
    "processing_jobs",
    "model_calls",
    "model_call_slots",
    "knowledge_items",
    "knowledge_item_versions",
    "knowledge_links",
    "knowledge_revisions",
    "knowledge_proposals",
    "search_passages",
    "search_stats",
    "search_documents",
    "learned_models",
    "experiments",
    "experiment_runs",
    "experiment_predictions",
    "chat_sessions",
    "chat_messages",
    "artifacts",
    "document_artifacts",
    "webhooks",
    "webhook_deliveries",
    "webhook_attempts",
    "system_settings",
    "sources",
    "document_stats",
    "embedding_settings",
    "embedding_vectors",
    "assignments",
    "curations",
    "curation_decisions",
];

/// (table, index) pairs every fully migrated database must have.
const INDEXES: &[(&str, &str)] = &[
    ("sources", "idx_sources_project"),
    ("artifacts", "uq_artifacts_sha256"),
    ("document_artifacts", "idx_document_artifacts_artifact"),
    ("users", "uq_users_username"),
    ("users", "uq_users_email"),
    ("users", "uq_users_username_lower"),
    ("users", "idx_users_created_at"),
    ("users", "idx_users_is_active"),
    ("user_profiles", "uq_user_profiles_user_id"),
    ("user_sessions", "uq_user_sessions_token_hash"),
    ("user_sessions", "idx_user_sessions_user_id"),
    ("user_sessions", "idx_user_sessions_expires_at"),
    ("projects", "idx_projects_slug"),
    ("projects", "idx_projects_status"),
    ("projects", "idx_projects_is_public"),
    ("projects", "idx_projects_created_at"),
    ("projects", "idx_projects_created_by"),
    ("project_memberships", "uq_project_memberships_project_user"),
    ("project_memberships", "idx_project_memberships_user_id"),
    ("project_memberships", "idx_project_memberships_role"),
    ("project_memberships", "idx_project_memberships_is_active"),
    ("project_memberships", "idx_project_memberships_joined_at"),
    ("audit_logs", "idx_audit_logs_timestamp"),
    ("audit_logs", "idx_audit_logs_user_id"),
    ("audit_logs", "idx_audit_logs_action"),
    ("audit_logs", "idx_audit_logs_resource_type"),
    ("audit_logs", "idx_audit_logs_project_id"),
    ("documents", "uq_documents_project_hash"),
    ("documents", "idx_documents_project_id"),
    ("documents", "idx_documents_processing_status"),
    ("documents", "idx_documents_created_at"),
    ("document_versions", "uq_document_versions_doc_number"),
    ("entity_types", "uq_entity_types_name"),
    ("entity_types", "idx_entity_types_is_active"),
    ("entity_types", "idx_entity_types_sort_order"),
    ("entities", "uq_entities_layer_span"),
    ("entities", "idx_entities_layer_reading_order"),
    ("entities", "idx_entities_entity_type_id"),
    ("entities", "idx_entities_is_verified"),
    ("entities", "idx_entities_source"),
    ("entities", "idx_entities_project_id"),
    ("entities", "idx_entities_verified_by"),
    ("entity_rejections", "idx_entity_rejections_document_id"),
    ("entity_rejections", "idx_entity_rejections_llm_model_id"),
    ("entity_rejections", "idx_entity_rejections_project_id"),
    ("entity_relationships", "uq_entity_relationships_triple"),
    ("entity_relationships", "idx_entity_relationships_target"),
    ("entity_relationships", "idx_entity_relationships_project_id"),
    ("rate_limits", "idx_rate_limits_window_start"),
    ("bus_events", "idx_bus_events_created_at"),
    ("login_throttles", "idx_login_throttles_window_start"),
    ("processing_jobs", "idx_processing_jobs_status_priority"),
    ("processing_jobs", "idx_processing_jobs_document_id"),
    ("processing_jobs", "idx_processing_jobs_project_id"),
    ("processing_jobs", "idx_processing_jobs_lease_expires_at"),
    ("processing_jobs", "idx_processing_jobs_kind"),
    ("model_call_slots", "idx_model_call_slots_model_reserved"),
    ("knowledge_items", "idx_knowledge_items_project_revision"),
    ("knowledge_items", "idx_knowledge_items_entity_type_id"),
    ("knowledge_item_versions", "uq_knowledge_item_versions_item_version"),
    ("knowledge_links", "uq_knowledge_links_triple"),
    ("knowledge_links", "idx_knowledge_links_to_item_id"),
    ("knowledge_links", "idx_knowledge_links_project_id"),
    ("entities", "idx_entities_knowledge_item_id"),
    ("knowledge_proposals", "uq_knowledge_proposals_project_key"),
    ("knowledge_proposals", "idx_knowledge_proposals_project_status"),
    ("search_passages", "idx_search_passages_document"),
    ("search_passages", "idx_search_passages_project"),
    ("learned_models", "uq_learned_models_project_version"),
    ("experiments", "idx_experiments_project_created"),
    ("experiment_runs", "uq_experiment_runs_experiment_model"),
    ("experiment_runs", "uq_experiment_runs_job"),
    ("experiment_predictions", "idx_experiment_predictions_run_document"),
    ("chat_sessions", "idx_chat_sessions_user_project_updated"),
    ("chat_sessions", "idx_chat_sessions_updated"),
    ("chat_messages", "uq_chat_messages_session_position"),
    ("document_stats", "uq_document_stats_document_layer"),
    ("assignments", "uq_assignments_document_annotator"),
    ("assignments", "idx_assignments_project_annotator"),
    ("assignments", "idx_assignments_state_touched"),
    ("curations", "idx_curations_project_state"),
    ("curation_decisions", "idx_curation_decisions_document_version"),
];

/// (id, name, sort_order) of the system entity types the documents migration
/// seeds, in `sort_order`.
const SYSTEM_ENTITY_TYPES: [(&str, &str, i32); 7] = [
    ("00000000-0000-7000-8000-000000000001", "PERSON", 10),
    ("00000000-0000-7000-8000-000000000002", "LOCATION", 20),
    ("00000000-0000-7000-8000-000000000003", "DATE", 30),
    ("00000000-0000-7000-8000-000000000004", "TIME", 40),
    ("00000000-0000-7000-8000-000000000005", "ORGANIZATION", 50),
    ("00000000-0000-7000-8000-000000000006", "DESIGNATION", 60),
    ("00000000-0000-7000-8000-000000000007", "NUMBER", 70),
];

type TestResult = Result<(), String>;

fn err(context: &str) -> impl FnOnce(sea_orm_migration::DbErr) -> String + '_ {
    move |e| format!("{context}: {e}")
}

async fn check_migrated(db: &DatabaseConnection, stage: &str) -> TestResult {
    let manager = SchemaManager::new(db);
    for table in TABLES {
        if !manager.has_table(table).await.map_err(err(table))? {
            return Err(format!("{stage}: table {table} is missing"));
        }
    }
    for (table, index) in INDEXES {
        if !manager.has_index(table, index).await.map_err(err(index))? {
            return Err(format!("{stage}: index {index} on {table} is missing"));
        }
    }
    check_system_entity_types(db, stage).await?;
    let pending = Migrator::get_pending_migrations(db).await.map_err(err("pending migrations"))?;
    if !pending.is_empty() {
        let names: Vec<_> = pending.iter().map(|m| m.name().to_owned()).collect();
        return Err(format!("{stage}: migrations still pending: {names:?}"));
    }
    Ok(())
}

/// Exactly the seven system entity types exist, with their fixed ids, names
/// and sort orders, active, with non-empty examples and timestamps that
/// decode as UTC date-times no later than now.
async fn check_system_entity_types(db: &DatabaseConnection, stage: &str) -> TestResult {
    let table = Alias::new("entity_types");
    let query = Query::select()
        .columns(
            ["id", "name", "sort_order", "is_system", "is_active", "examples", "created_at", "updated_at"]
                .map(Alias::new),
        )
        .from(table)
        .order_by(Alias::new("sort_order"), Order::Asc)
        .to_owned();
    let rows = db.query_all(&query).await.map_err(err("select entity_types"))?;
    if rows.len() != SYSTEM_ENTITY_TYPES.len() {
        return Err(format!("{stage}: {} entity types, expected {}", rows.len(), SYSTEM_ENTITY_TYPES.len()));
    }
    let now = ChronoUtc::now();
    for (row, (id, name, sort_order)) in rows.iter().zip(SYSTEM_ENTITY_TYPES) {
        let got_id: Uuid = row.try_get("", "id").map_err(err("entity_types.id"))?;
        let got_name: String = row.try_get("", "name").map_err(err("entity_types.name"))?;
        let got_sort: i32 = row.try_get("", "sort_order").map_err(err("entity_types.sort_order"))?;
        let is_system: bool = row.try_get("", "is_system").map_err(err("entity_types.is_system"))?;
        let is_active: bool = row.try_get("", "is_active").map_err(err("entity_types.is_active"))?;
        let examples: Json = row.try_get("", "examples").map_err(err("entity_types.examples"))?;
        let created_at: ChronoDateTimeUtc = row.try_get("", "created_at").map_err(err("entity_types.created_at"))?;
        let updated_at: ChronoDateTimeUtc = row.try_get("", "updated_at").map_err(err("entity_types.updated_at"))?;
        if got_id.to_string() != id || got_name != name || got_sort != sort_order {
            return Err(format!(
                "{stage}: entity type ({got_id}, {got_name}, {got_sort}), expected ({id}, {name}, {sort_order})"
            ));
        }
        if !is_system || !is_active {
            return Err(format!("{stage}: entity type {name}: is_system {is_system}, is_active {is_active}"));
        }
        let examples_ok = examples
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|e| e.as_str().is_some_and(|s| !s.is_empty())));
        if !examples_ok {
            return Err(format!(
                "{stage}: entity type {name}: examples {examples} is not a non-empty array of strings"
            ));
        }
        if created_at > now || updated_at != created_at {
            return Err(format!(
                "{stage}: entity type {name}: created_at {created_at}, updated_at {updated_at}, now {now}"
            ));
        }
    }
    Ok(())
}

async fn check_rolled_back(db: &DatabaseConnection, stage: &str) -> TestResult {
    let manager = SchemaManager::new(db);
    for table in TABLES {
        if manager.has_table(table).await.map_err(err(table))? {
            return Err(format!("{stage}: table {table} still exists"));
        }
    }
    let applied = Migrator::get_applied_migrations(db).await.map_err(err("applied migrations"))?;
    if !applied.is_empty() {
        let names: Vec<_> = applied.iter().map(|m| m.name().to_owned()).collect();
        return Err(format!("{stage}: migrations still applied: {names:?}"));
    }
    Ok(())
}

async fn up_down_up(db: &DatabaseConnection) -> TestResult {
    Migrator::up(db, None).await.map_err(err("first up"))?;
    check_migrated(db, "after first up").await?;

    Migrator::down(db, None).await.map_err(err("down"))?;
    check_rolled_back(db, "after down").await?;

    Migrator::up(db, None).await.map_err(err("second up"))?;
    check_migrated(db, "after second up").await?;
    Ok(())
}

#[tokio::test]
async fn up_down_up_sqlite() {
    let db = Database::connect("sqlite::memory:").await.expect("open in-memory SQLite");
    if let Err(e) = up_down_up(&db).await {
        panic!("SQLite: {e}");
    }
    db.close().await.expect("close SQLite");
}

/// `url` with its database name (the path) replaced by `name`; the query
/// string, if any, is kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..path_start])
}

fn scratch_database_name() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("nishan_mig_{:016x}", hasher.finish())
}

#[tokio::test]
async fn up_down_up_postgres() {
    // Never skipped quietly: scripts/test.sh (and .ci/run) start a PostgreSQL and set this.
    let admin_url = std::env::var("NISHAN_TEST_POSTGRES_URL").ok().filter(|u| !u.trim().is_empty()).expect(
        "NISHAN_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts a PostgreSQL for them",
    );

    let admin = Database::connect(admin_url.as_str()).await.expect("connect to NISHAN_TEST_POSTGRES_URL");
    let name = scratch_database_name();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));

    // Run the test without panicking so that the database is dropped whatever
    // the outcome.
    let outcome = async {
        let db = Database::connect(with_database(&admin_url, &name).as_str())
            .await
            .map_err(err("connect to the scratch database"))?;
        let result = up_down_up(&db).await;
        db.close().await.map_err(err("close the scratch database"))?;
        result
    }
    .await;

    // WITH (FORCE) (PostgreSQL 13+) also ends stray connections; fall back to
    // a plain drop on older servers.
    let dropped = match admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await {
        Ok(_) => Ok(()),
        Err(_) => admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\"")).await.map(drop),
    };
    admin.close().await.ok();

    if let Err(e) = outcome {
        panic!("PostgreSQL ({name}): {e}");
    }
    if let Err(e) = dropped {
        panic!("drop scratch database {name}: {e}");
    }
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(with_database("postgres://u:p@h:5432/postgres", "x"), "postgres://u:p@h:5432/x");
    assert_eq!(
        with_database("postgres://u@h:5432/postgres?sslmode=disable", "x"),
        "postgres://u@h:5432/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
