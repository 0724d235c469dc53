//! `sources`: web pages a project fetches with INGESTION jobs.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// JSON arrays of strings.
    pub urls: Json,
    pub keywords: Json,
    pub allowed_hosts: Json,
    pub max_pages: i32,
    #[sea_orm(column_type = "Double")]
    pub requests_per_second: f64,
    pub follow_links: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
