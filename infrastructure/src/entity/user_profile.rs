//! `user_profiles`: at most one per user (`user_id` is unique).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `users.id`, ON DELETE CASCADE.
    #[sea_orm(unique)]
    pub user_id: Uuid,
    pub avatar_url: Option<String>,
    pub website: Option<String>,
    pub orcid: Option<String>,
    pub location: Option<String>,
    /// JSON array of strings.
    pub languages: Json,
    pub profile_completion: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
