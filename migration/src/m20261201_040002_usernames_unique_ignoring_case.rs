//! Usernames are unique regardless of case: a unique index on `lower(username)` (an
//! expression index, on SQLite and PostgreSQL alike; usernames are ASCII, where both agree on
//! `lower`). Logins look usernames up through the same expression, so the index serves them.
//!
//! Existing accounts whose names differ only in case ("OWNER" and "owner") are resolved
//! first: the oldest keeps its name, each later one is renamed to the first free
//! `<name>-2`, `<name>-3`, … (cut to fit 50 characters), and the rename is written to the
//! audit trail (`user.rename`, with the old and new names), so admins can tell the people
//! concerned. They keep their email, password and sessions. `down` drops the index; renames
//! stay (they are valid names either way).

use std::collections::HashSet;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::{ChronoUtc, Json, Uuid};
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    Timestamp,
    UserId,
    Action,
    ResourceType,
    ResourceId,
    ResourceName,
    Changes,
}

const INDEX: &str = "uq_users_username_lower";
/// Turns an account id into the id of its rename's audit row.
const AUDIT_ID_MASK: u128 = 0x7e57_a11c_0000_4000_8000_0000_0000_0001;
/// The longest username (the domain's rule).
const MAX_CHARS: usize = 50;

/// The renames that make `names` (id, username, oldest first) unique regardless of case.
fn renames(names: &[(Uuid, String)]) -> Vec<(Uuid, String, String)> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut kept: HashSet<String> = HashSet::new();
    let all: HashSet<String> = names.iter().map(|(_, n)| n.to_lowercase()).collect();
    let mut out = Vec::new();
    for (id, name) in names {
        let lower = name.to_lowercase();
        if kept.insert(lower.clone()) {
            taken.insert(lower);
            continue;
        }
        let new = (2..)
            .map(|n| {
                let suffix = format!("-{n}");
                let base: String = name.chars().take(MAX_CHARS - suffix.len()).collect();
                format!("{base}{suffix}")
            })
            .find(|candidate| {
                let l = candidate.to_lowercase();
                !taken.contains(&l) && !all.contains(&l)
            })
            .expect("a free name");
        taken.insert(new.to_lowercase());
        out.push((*id, name.clone(), new));
    }
    out
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let select = Query::select()
            .columns([Users::Id, Users::Username])
            .from(Users::Table)
            .order_by(Users::CreatedAt, Order::Asc)
            .order_by(Users::Id, Order::Asc)
            .to_owned();
        let mut names = Vec::new();
        for row in db.query_all(&select).await? {
            names.push((row.try_get::<Uuid>("", "id")?, row.try_get::<String>("", "username")?));
        }
        let now = ChronoUtc::now();
        for (id, from, to) in renames(&names) {
            let update = Query::update()
                .table(Users::Table)
                .value(Users::Username, to.as_str())
                .and_where(Expr::col(Users::Id).eq(id))
                .to_owned();
            db.execute(&update).await?;
            let changes = Json::Object(
                [
                    ("from".to_owned(), Json::String(from.clone())),
                    ("to".to_owned(), Json::String(to.clone())),
                    ("reason".to_owned(), Json::String("usernames are unique regardless of case".to_owned())),
                ]
                .into_iter()
                .collect(),
            );
            let audit = Query::insert()
                .into_table(AuditLogs::Table)
                .columns([
                    AuditLogs::Id,
                    AuditLogs::Timestamp,
                    AuditLogs::UserId,
                    AuditLogs::Action,
                    AuditLogs::ResourceType,
                    AuditLogs::ResourceId,
                    AuditLogs::ResourceName,
                    AuditLogs::Changes,
                ])
                .values_panic([
                    // One rename per account here: an id derived from the account's is unique.
                    Uuid::from_u128(id.as_u128() ^ AUDIT_ID_MASK).into(),
                    now.into(),
                    id.into(),
                    "user.rename".into(),
                    "user".into(),
                    id.to_string().into(),
                    to.into(),
                    changes.into(),
                ])
                .to_owned();
            db.execute(&audit).await?;
        }
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            format!("CREATE UNIQUE INDEX {INDEX} ON users (lower(username))"),
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(INDEX).table(Users::Table).to_owned()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_accounts_are_renamed_to_a_free_name() {
        let id = |n: u128| Uuid::from_u128(n);
        let names = vec![
            (id(1), "owner".to_owned()),
            (id(2), "OWNER".to_owned()),
            (id(3), "Owner".to_owned()),
            (id(4), "owner-2".to_owned()),
            (id(5), "x".repeat(50)),
            (id(6), "X".repeat(50)),
        ];
        let got: Vec<(u128, String)> = renames(&names).into_iter().map(|(i, _, to)| (i.as_u128(), to)).collect();
        assert_eq!(
            got,
            vec![(2, "OWNER-3".to_owned()), (3, "Owner-4".to_owned()), (6, format!("{}-2", "X".repeat(48)))]
        );
    }
}
