//! `projects`

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    #[sea_orm(unique)]
    pub slug: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub research_area: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub methodology: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub objectives: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub timeline: Option<String>,
    /// `planning`, `active`, `completed` or `archived`.
    pub status: String,
    pub is_public: bool,
    pub allow_public_view: bool,
    /// JSON array of strings.
    pub tags: Json,
    /// JSON array; the column is `references` (an SQL keyword, always quoted
    /// by the query builder).
    pub references: Json,
    /// `SHARED` or `INDEPENDENT` (`nishan_domain::rounds::AnnotationMode`).
    pub annotation_mode: String,
    /// NULL: assignments are never abandoned.
    pub abandon_after_hours: Option<i32>,
    /// Whether an annotator's layer starts as a copy of the models' layers.
    pub pre_annotate: bool,
    /// → `users.id`, ON DELETE SET NULL.
    pub created_by: Option<Uuid>,
    /// → `users.id`, ON DELETE SET NULL.
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
