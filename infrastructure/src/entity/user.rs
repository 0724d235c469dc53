//! `users`

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub username: String,
    #[sea_orm(unique)]
    pub email: String,
    pub password_hash: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub bio: Option<String>,
    /// JSON array of strings.
    pub research_interests: Json,
    /// JSON object.
    pub preferences: Json,
    pub institution: Option<String>,
    pub academic_title: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub research_focus: Option<String>,
    pub is_researcher: bool,
    pub is_admin: bool,
    pub is_active: bool,
    pub email_verified: bool,
    pub last_activity: Option<DateTimeUtc>,
    pub last_login: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
