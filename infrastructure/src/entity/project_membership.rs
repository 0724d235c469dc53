//! `project_memberships`: unique per (project, user).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "project_memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    /// → `users.id`, ON DELETE CASCADE.
    pub user_id: Uuid,
    /// `OWNER`, `ADMIN`, `RESEARCHER` or `VIEWER`.
    pub role: String,
    pub can_edit_project: bool,
    pub can_manage_users: bool,
    pub can_upload_documents: bool,
    pub can_edit_entities: bool,
    pub can_export_data: bool,
    pub joined_at: DateTimeUtc,
    pub is_active: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    /// → `users.id`, ON DELETE SET NULL.
    pub invited_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
