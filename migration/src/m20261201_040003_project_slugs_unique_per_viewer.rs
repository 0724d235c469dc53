//! Project slugs are unique among the projects one user can see, not globally: a project
//! hidden from someone must not change the slug they get (`secret-a-2` would tell them that a
//! `secret-a` exists). The unique index on `projects.slug` becomes a plain one (lookups by
//! slug still use it). `down` makes slugs globally unique again first: each later project
//! sharing a slug gets the first free `<slug>-2`, `<slug>-3`, … (cut to fit 100 characters).

use std::collections::HashSet;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::sea_orm::prelude::Uuid;

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Slug,
    CreatedAt,
}

const UNIQUE: &str = "uq_projects_slug";
const PLAIN: &str = "idx_projects_slug";
/// The longest slug (the domain's rule).
const MAX_CHARS: usize = 100;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(UNIQUE).table(Projects::Table).to_owned()).await?;
        manager.create_index(index(PLAIN, Projects::Table, [Projects::Slug])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let select = Query::select()
            .columns([Projects::Id, Projects::Slug])
            .from(Projects::Table)
            .order_by(Projects::CreatedAt, Order::Asc)
            .order_by(Projects::Id, Order::Asc)
            .to_owned();
        let mut rows = Vec::new();
        for row in db.query_all(&select).await? {
            rows.push((row.try_get::<Uuid>("", "id")?, row.try_get::<String>("", "slug")?));
        }
        let mut taken: HashSet<String> = rows.iter().map(|(_, s)| s.clone()).collect();
        let mut seen = HashSet::new();
        for (id, slug) in rows {
            if seen.insert(slug.clone()) {
                continue;
            }
            let new = (2..)
                .map(|n| {
                    let suffix = format!("-{n}");
                    let base: String = slug.chars().take(MAX_CHARS - suffix.chars().count()).collect();
                    format!("{base}{suffix}")
                })
                .find(|candidate| !taken.contains(candidate))
                .expect("a free slug");
            taken.insert(new.clone());
            seen.insert(new.clone());
            let update = Query::update()
                .table(Projects::Table)
                .value(Projects::Slug, new)
                .and_where(Expr::col(Projects::Id).eq(id))
                .to_owned();
            db.execute(&update).await?;
        }
        manager.drop_index(Index::drop().name(PLAIN).table(Projects::Table).to_owned()).await?;
        manager.create_index(unique_index(UNIQUE, Projects::Table, [Projects::Slug])).await
    }
}
