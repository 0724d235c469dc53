//! Project roles and what each may do. Permissions are derived from the role here and nowhere
//! else; the stored permission flags are a copy written from `Role::permissions`.

use chrono::{DateTime, Utc};

use crate::error::{DomainError, DomainResult};
use crate::ids::{MembershipId, ProjectId, UserId};

/// A member's role in a project, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Owner,
    Admin,
    Researcher,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Researcher, Role::Viewer];

    /// The permissions of the role: the single source of this rule.
    pub fn permissions(self) -> Permissions {
        match self {
            Role::Owner | Role::Admin => Permissions::ALL,
            Role::Researcher => Permissions {
                can_upload_documents: true,
                can_edit_entities: true,
                can_export_data: true,
                ..Permissions::NONE
            },
            Role::Viewer => Permissions::NONE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "OWNER",
            Role::Admin => "ADMIN",
            Role::Researcher => "RESEARCHER",
            Role::Viewer => "VIEWER",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown role {s:?} in storage")))
    }
}

/// The five things a member may be allowed to do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions {
    pub can_edit_project: bool,
    pub can_manage_users: bool,
    pub can_upload_documents: bool,
    pub can_edit_entities: bool,
    pub can_export_data: bool,
}

impl Permissions {
    pub const ALL: Permissions = Permissions {
        can_edit_project: true,
        can_manage_users: true,
        can_upload_documents: true,
        can_edit_entities: true,
        can_export_data: true,
    };
    pub const NONE: Permissions = Permissions {
        can_edit_project: false,
        can_manage_users: false,
        can_upload_documents: false,
        can_edit_entities: false,
        can_export_data: false,
    };
}

/// One permission, so that a check can name what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    EditProject,
    ManageUsers,
    UploadDocuments,
    EditEntities,
    ExportData,
}

impl Permissions {
    pub fn allows(self, p: Permission) -> bool {
        match p {
            Permission::EditProject => self.can_edit_project,
            Permission::ManageUsers => self.can_manage_users,
            Permission::UploadDocuments => self.can_upload_documents,
            Permission::EditEntities => self.can_edit_entities,
            Permission::ExportData => self.can_export_data,
        }
    }
}

impl Permission {
    pub fn describe(self) -> &'static str {
        match self {
            Permission::EditProject => "edit the project",
            Permission::ManageUsers => "manage project members",
            Permission::UploadDocuments => "upload documents",
            Permission::EditEntities => "edit entities",
            Permission::ExportData => "export data",
        }
    }
}

/// A user's membership in a project.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub id: MembershipId,
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
    pub is_active: bool,
    pub notes: Option<String>,
    pub invited_by: Option<UserId>,
    pub updated_at: DateTime<Utc>,
}

impl Membership {
    pub fn permissions(&self) -> Permissions {
        self.role.permissions()
    }
}

/// A requested change to someone's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    Add(Role),
    SetRole(Role),
    Remove,
}

/// Who asks for a membership change, as far as the rules care.
#[derive(Debug, Clone, Copy)]
pub struct ChangeRequester {
    pub user_id: UserId,
    pub is_global_admin: bool,
    /// The requester's own active role in the project, if any.
    pub role: Option<Role>,
}

/// Decides whether `requester` may apply `change` to `target`'s membership, given the
/// target's current active role and how many active owners the project has. The caller runs
/// this inside the transaction that applies the change, so the owner count is current.
pub fn authorize_membership_change(
    requester: ChangeRequester,
    target: UserId,
    target_role: Option<Role>,
    change: MembershipChange,
    active_owners: usize,
) -> DomainResult<()> {
    let is_owner = requester.is_global_admin || requester.role == Some(Role::Owner);
    let can_manage = requester.is_global_admin || requester.role.is_some_and(|r| r.permissions().can_manage_users);
    let leaving_self = change == MembershipChange::Remove && requester.user_id == target;

    if !can_manage && !leaving_self {
        return Err(DomainError::forbidden("you may not manage members of this project"));
    }
    match (change, target_role) {
        (MembershipChange::Add(_), Some(_)) => {
            return Err(DomainError::conflict("the user is already a member of this project"));
        }
        (MembershipChange::SetRole(_) | MembershipChange::Remove, None) => {
            return Err(DomainError::NotFound { resource: "membership" });
        }
        _ => {}
    }
    let grants_owner = matches!(change, MembershipChange::Add(Role::Owner) | MembershipChange::SetRole(Role::Owner));
    if grants_owner && !is_owner {
        return Err(DomainError::forbidden("only an owner can grant the OWNER role"));
    }
    let loses_owner = target_role == Some(Role::Owner)
        && match change {
            MembershipChange::Remove => true,
            MembershipChange::SetRole(r) => r != Role::Owner,
            MembershipChange::Add(_) => false,
        };
    if loses_owner {
        if !is_owner && !leaving_self {
            return Err(DomainError::forbidden("only an owner can change or remove an owner"));
        }
        if active_owners <= 1 {
            return Err(DomainError::conflict("a project must keep at least one active owner"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(role: Option<Role>) -> ChangeRequester {
        ChangeRequester { user_id: UserId::new(), is_global_admin: false, role }
    }

    #[test]
    fn role_permissions() {
        assert_eq!(Role::Owner.permissions(), Permissions::ALL);
        assert_eq!(Role::Admin.permissions(), Permissions::ALL);
        let r = Role::Researcher.permissions();
        assert!(r.can_upload_documents && r.can_edit_entities && r.can_export_data);
        assert!(!r.can_edit_project && !r.can_manage_users);
        assert_eq!(Role::Viewer.permissions(), Permissions::NONE);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
    }

    #[test]
    fn only_managers_manage() {
        let target = UserId::new();
        for role in [None, Some(Role::Viewer), Some(Role::Researcher)] {
            let err = authorize_membership_change(req(role), target, None, MembershipChange::Add(Role::Viewer), 1);
            assert!(matches!(err, Err(DomainError::Forbidden(_))), "{role:?}");
        }
        for role in [Role::Owner, Role::Admin] {
            assert!(
                authorize_membership_change(req(Some(role)), target, None, MembershipChange::Add(Role::Viewer), 1)
                    .is_ok()
            );
        }
    }

    #[test]
    fn only_owners_grant_owner() {
        let t = UserId::new();
        let err = authorize_membership_change(req(Some(Role::Admin)), t, None, MembershipChange::Add(Role::Owner), 1);
        assert!(matches!(err, Err(DomainError::Forbidden(_))));
        let err = authorize_membership_change(
            req(Some(Role::Admin)),
            t,
            Some(Role::Viewer),
            MembershipChange::SetRole(Role::Owner),
            1,
        );
        assert!(matches!(err, Err(DomainError::Forbidden(_))));
        assert!(
            authorize_membership_change(
                req(Some(Role::Owner)),
                t,
                Some(Role::Viewer),
                MembershipChange::SetRole(Role::Owner),
                1
            )
            .is_ok()
        );
        let admin = ChangeRequester { user_id: UserId::new(), is_global_admin: true, role: None };
        assert!(authorize_membership_change(admin, t, None, MembershipChange::Add(Role::Owner), 1).is_ok());
    }

    #[test]
    fn last_owner_stays() {
        let owner = req(Some(Role::Owner));
        let me = owner.user_id;
        for change in [MembershipChange::Remove, MembershipChange::SetRole(Role::Admin)] {
            let err = authorize_membership_change(owner, me, Some(Role::Owner), change, 1);
            assert!(matches!(err, Err(DomainError::Conflict(_))), "{change:?}");
            assert!(authorize_membership_change(owner, me, Some(Role::Owner), change, 2).is_ok());
        }
        // Global admins are bound by the rule too: it protects the project, not a person.
        let admin = ChangeRequester { user_id: UserId::new(), is_global_admin: true, role: None };
        assert!(matches!(
            authorize_membership_change(admin, me, Some(Role::Owner), MembershipChange::Remove, 1),
            Err(DomainError::Conflict(_))
        ));
    }

    #[test]
    fn admins_cannot_touch_owners_but_anyone_may_leave() {
        let t = UserId::new();
        let err =
            authorize_membership_change(req(Some(Role::Admin)), t, Some(Role::Owner), MembershipChange::Remove, 3);
        assert!(matches!(err, Err(DomainError::Forbidden(_))));
        let viewer = req(Some(Role::Viewer));
        assert!(
            authorize_membership_change(viewer, viewer.user_id, Some(Role::Viewer), MembershipChange::Remove, 1)
                .is_ok()
        );
        let err = authorize_membership_change(
            viewer,
            viewer.user_id,
            Some(Role::Viewer),
            MembershipChange::SetRole(Role::Admin),
            1,
        );
        assert!(matches!(err, Err(DomainError::Forbidden(_))));
    }

    #[test]
    fn duplicates_and_missing() {
        let owner = req(Some(Role::Owner));
        let t = UserId::new();
        assert!(matches!(
            authorize_membership_change(owner, t, Some(Role::Viewer), MembershipChange::Add(Role::Viewer), 1),
            Err(DomainError::Conflict(_))
        ));
        assert!(matches!(
            authorize_membership_change(owner, t, None, MembershipChange::Remove, 1),
            Err(DomainError::NotFound { .. })
        ));
    }
}
