//! Who may see and change a project: the visibility rules and permission checks that every
//! project-scoped operation goes through.

use crate::error::{DomainError, DomainResult};
use crate::ids::UserId;
use crate::membership::{Permission, Permissions, Role};
use crate::project::Project;

/// The caller of an operation, when signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub is_admin: bool,
}

/// What the caller may do in one project: derived from visibility, membership and admin
/// rights, in this one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectAccess {
    pub can_read: bool,
    /// The caller's active role, if a member.
    pub role: Option<Role>,
    pub permissions: Permissions,
}

impl ProjectAccess {
    /// `role` is the caller's active membership role (inactive memberships count as none).
    pub fn evaluate(project: &Project, actor: Option<&Actor>, role: Option<Role>) -> Self {
        let is_admin = actor.is_some_and(|a| a.is_admin);
        let can_read = is_admin
            || role.is_some()
            || (project.is_public && project.allow_public_view)
            || (project.is_public && actor.is_some());
        let permissions =
            if is_admin { Permissions::ALL } else { role.map(Role::permissions).unwrap_or(Permissions::NONE) };
        Self { can_read, role, permissions }
    }

    /// Fails with NOT_FOUND when the caller may not even know the project exists.
    pub fn require_read(&self) -> DomainResult<()> {
        if self.can_read { Ok(()) } else { Err(DomainError::NotFound { resource: "project" }) }
    }

    /// Fails unless the caller holds `permission`: NOT_FOUND for a project they cannot see,
    /// FORBIDDEN for one they can.
    pub fn require(&self, permission: Permission) -> DomainResult<()> {
        self.require_read()?;
        if self.permissions.allows(permission) {
            Ok(())
        } else {
            Err(DomainError::forbidden(format!("you may not {} in this project", permission.describe())))
        }
    }

    /// Deleting a project is for its owners (and global admins) alone.
    pub fn require_owner(&self, actor: &Actor) -> DomainResult<()> {
        self.require_read()?;
        if actor.is_admin || self.role == Some(Role::Owner) {
            Ok(())
        } else {
            Err(DomainError::forbidden("only an owner may delete this project"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ProjectId;
    use crate::project::ProjectStatus;
    use chrono::Utc;

    fn project(is_public: bool, allow_public_view: bool) -> Project {
        Project {
            id: ProjectId::new(),
            name: "p".into(),
            slug: "p".into(),
            description: None,
            research_area: None,
            methodology: None,
            objectives: None,
            timeline: None,
            status: ProjectStatus::Planning,
            is_public,
            allow_public_view,
            tags: vec![],
            references: vec![],
            annotation_mode: Default::default(),
            abandon_after_hours: None,
            pre_annotate: false,
            created_by: None,
            updated_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn visibility() {
        let user = Actor { user_id: UserId::new(), is_admin: false };
        let admin = Actor { user_id: UserId::new(), is_admin: true };
        let private = project(false, false);
        assert!(!ProjectAccess::evaluate(&private, None, None).can_read);
        assert!(!ProjectAccess::evaluate(&private, Some(&user), None).can_read);
        assert!(ProjectAccess::evaluate(&private, Some(&user), Some(Role::Viewer)).can_read);
        assert!(ProjectAccess::evaluate(&private, Some(&admin), None).can_read);
        let public = project(true, false);
        assert!(!ProjectAccess::evaluate(&public, None, None).can_read);
        assert!(ProjectAccess::evaluate(&public, Some(&user), None).can_read);
        let open = project(true, true);
        assert!(ProjectAccess::evaluate(&open, None, None).can_read);
    }

    #[test]
    fn errors_do_not_leak_private_projects() {
        let user = Actor { user_id: UserId::new(), is_admin: false };
        let access = ProjectAccess::evaluate(&project(false, false), Some(&user), None);
        assert_eq!(access.require(Permission::EditProject), Err(DomainError::NotFound { resource: "project" }));
        let access = ProjectAccess::evaluate(&project(true, true), Some(&user), None);
        assert!(matches!(access.require(Permission::EditProject), Err(DomainError::Forbidden(_))));
        let access = ProjectAccess::evaluate(&project(false, false), Some(&user), Some(Role::Researcher));
        assert!(access.require(Permission::UploadDocuments).is_ok());
        assert!(access.require(Permission::ManageUsers).is_err());
        assert!(access.require_owner(&user).is_err());
    }
}
