//! Enums as clients see them, converted to and from the domain's.

use async_graphql::Enum;
use nishan_domain::membership::Role;
use nishan_domain::project::ProjectStatus;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Role", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlRole {
    Owner,
    Admin,
    Researcher,
    Viewer,
}

impl From<Role> for GqlRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Researcher => Self::Researcher,
            Role::Viewer => Self::Viewer,
        }
    }
}

impl From<GqlRole> for Role {
    fn from(r: GqlRole) -> Self {
        match r {
            GqlRole::Owner => Self::Owner,
            GqlRole::Admin => Self::Admin,
            GqlRole::Researcher => Self::Researcher,
            GqlRole::Viewer => Self::Viewer,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProjectStatus", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlProjectStatus {
    Planning,
    Active,
    Completed,
    Archived,
}

impl From<ProjectStatus> for GqlProjectStatus {
    fn from(s: ProjectStatus) -> Self {
        match s {
            ProjectStatus::Planning => Self::Planning,
            ProjectStatus::Active => Self::Active,
            ProjectStatus::Completed => Self::Completed,
            ProjectStatus::Archived => Self::Archived,
        }
    }
}

impl From<GqlProjectStatus> for ProjectStatus {
    fn from(s: GqlProjectStatus) -> Self {
        match s {
            GqlProjectStatus::Planning => Self::Planning,
            GqlProjectStatus::Active => Self::Active,
            GqlProjectStatus::Completed => Self::Completed,
            GqlProjectStatus::Archived => Self::Archived,
        }
    }
}

/// How a project's members annotate (issue 12).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "AnnotationMode", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlAnnotationMode {
    /// One layer every editor changes (the curated one).
    Shared,
    /// Each annotator has their own layer of each document; the curated layer is the gold.
    Independent,
}

impl From<nishan_domain::rounds::AnnotationMode> for GqlAnnotationMode {
    fn from(m: nishan_domain::rounds::AnnotationMode) -> Self {
        match m {
            nishan_domain::rounds::AnnotationMode::Shared => Self::Shared,
            nishan_domain::rounds::AnnotationMode::Independent => Self::Independent,
        }
    }
}

impl From<GqlAnnotationMode> for nishan_domain::rounds::AnnotationMode {
    fn from(m: GqlAnnotationMode) -> Self {
        match m {
            GqlAnnotationMode::Shared => Self::Shared,
            GqlAnnotationMode::Independent => Self::Independent,
        }
    }
}
