//! Projects and their memberships: creation, visibility, edits and the member roster.

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, EventPublisher};
use crate::ids::{MembershipId, ProjectId, UserId};
use crate::membership::{Membership, MembershipChange, Permission, Role};
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{Page, PageRequest, ProjectRepository, UserRepository};
use crate::project::{Project, ProjectFields, ProjectStatus, Slug};
use crate::user::UserLookup;

/// How a client names a project.
#[derive(Debug, Clone)]
pub enum ProjectRef {
    Id(ProjectId),
    Slug(String),
}

/// Project use cases. Changes that may change who reads a project (visibility, deletion,
/// membership) publish `AccessChanged` once committed, so open subscriptions check again.
pub struct Projects<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
}

impl<S: ProjectRepository, E: EventPublisher> Projects<'_, S, E> {
    pub async fn create(&self, meta: &RequestMeta, actor: &Actor, fields: ProjectFields) -> DomainResult<Project> {
        if fields.name.is_none() {
            return Err(DomainError::invalid("name", "is required"));
        }
        let f = fields.validated()?;
        let name = f.name.clone().unwrap_or_default();
        let now = Utc::now();
        let project = Project {
            id: ProjectId::new(),
            slug: Slug::from_name(&name).as_str().to_owned(),
            name,
            description: f.description.flatten(),
            research_area: f.research_area.flatten(),
            methodology: f.methodology.flatten(),
            objectives: f.objectives.flatten(),
            timeline: f.timeline.flatten(),
            status: f.status.unwrap_or(ProjectStatus::Planning),
            is_public: f.is_public.unwrap_or(false),
            allow_public_view: f.allow_public_view.unwrap_or(false),
            tags: f.tags.unwrap_or_default(),
            references: f.references.unwrap_or_default(),
            annotation_mode: f.annotation_mode.unwrap_or_default(),
            abandon_after_hours: f.abandon_after_hours.flatten(),
            pre_annotate: f.pre_annotate.unwrap_or(false),
            created_by: Some(actor.user_id),
            updated_by: Some(actor.user_id),
            created_at: now,
            updated_at: now,
        };
        let owner = Membership {
            id: MembershipId::new(),
            project_id: project.id,
            user_id: actor.user_id,
            role: Role::Owner,
            joined_at: now,
            is_active: true,
            notes: None,
            invited_by: None,
            updated_at: now,
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "project.create", "project")
            .resource(project.id, &project.name)
            .project(project.id)
            .changes(json!({"name": project.name, "isPublic": project.is_public, "allowPublicView": project.allow_public_view}));
        self.store.create_project(project, owner, audit).await
    }

    /// The project and what the caller may do in it; `None` when it does not exist or the
    /// caller may not see it (the two are indistinguishable on purpose).
    ///
    /// A slug names the oldest project with it that the caller can see (a hidden project may
    /// share its slug).
    pub async fn find(&self, actor: Option<&Actor>, by: ProjectRef) -> DomainResult<Option<(Project, ProjectAccess)>> {
        let candidates = match (by, actor) {
            // The common case, one read: the project and the caller's role in it.
            (ProjectRef::Id(id), Some(a)) => {
                let found = self.store.project_with_role(id, a.user_id).await?;
                return Ok(found.and_then(|(project, role)| {
                    let access = ProjectAccess::evaluate(&project, actor, role);
                    access.can_read.then_some((project, access))
                }));
            }
            (ProjectRef::Id(id), None) => self.store.project_by_id(id).await?.into_iter().collect(),
            (ProjectRef::Slug(slug), _) => match Slug::parse(&slug) {
                Ok(slug) => self.store.projects_by_slug(slug.as_str()).await?,
                Err(_) => Vec::new(),
            },
        };
        let roles = match (actor, candidates.is_empty()) {
            (Some(a), false) => {
                let ids: Vec<ProjectId> = candidates.iter().map(|p| p.id).collect();
                self.store.roles_of(a.user_id, &ids).await?
            }
            _ => Default::default(),
        };
        Ok(candidates.into_iter().find_map(|project| {
            let access = ProjectAccess::evaluate(&project, actor, roles.get(&project.id).copied());
            access.can_read.then_some((project, access))
        }))
    }

    /// What the caller may do in a project they have already loaded.
    pub async fn access(&self, actor: Option<&Actor>, project: &Project) -> DomainResult<ProjectAccess> {
        let role = match actor {
            Some(a) => self.store.roles_of(a.user_id, &[project.id]).await?.remove(&project.id),
            None => None,
        };
        Ok(ProjectAccess::evaluate(project, actor, role))
    }

    async fn require(
        &self,
        actor: &Actor,
        id: ProjectId,
        permission: Option<Permission>,
    ) -> DomainResult<(Project, ProjectAccess)> {
        let (project, access) =
            self.find(Some(actor), ProjectRef::Id(id)).await?.ok_or(DomainError::NotFound { resource: "project" })?;
        match permission {
            Some(p) => access.require(p)?,
            None => access.require_owner(actor)?,
        }
        Ok((project, access))
    }

    pub async fn list(&self, actor: Option<&Actor>, page: PageRequest) -> DomainResult<Page<Project>> {
        self.store.visible_projects(actor.copied(), page).await
    }

    pub async fn update(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: ProjectId,
        fields: ProjectFields,
    ) -> DomainResult<Project> {
        let fields = fields.validated()?;
        let (project, _) = self.require(actor, id, Some(Permission::EditProject)).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "project.update", "project")
            .resource(project.id, &project.name)
            .project(project.id)
            .changes(fields_summary(&fields));
        let updated = self.store.update_project(id, fields, actor.user_id, audit).await?;
        self.events.publish(DomainEvent::AccessChanged { project_id: id, user_id: None });
        Ok(updated)
    }

    pub async fn delete(&self, meta: &RequestMeta, actor: &Actor, id: ProjectId) -> DomainResult<()> {
        let (project, _) = self.require(actor, id, None).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "project.delete", "project")
            .resource(project.id, &project.name)
            .project(project.id);
        self.store.delete_project(id, audit).await?;
        self.events.publish(DomainEvent::AccessChanged { project_id: id, user_id: None });
        Ok(())
    }

    /// Adds a member named by id, username or email. Only a caller who may manage the
    /// project's members learns whether the user exists (FORBIDDEN for anyone else, before any
    /// lookup), and they learn nothing else about them: an unknown name is NOT_FOUND `user`.
    pub async fn add_member(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        project_id: ProjectId,
        who: UserLookup,
        role: Role,
    ) -> DomainResult<Membership>
    where
        S: UserRepository,
    {
        let target = match who {
            UserLookup::Id(id) => id,
            lookup => {
                let (_, access) = self
                    .find(Some(actor), ProjectRef::Id(project_id))
                    .await?
                    .ok_or(DomainError::NotFound { resource: "project" })?;
                if !access.permissions.allows(Permission::ManageUsers) {
                    return Err(DomainError::forbidden("you may not manage members of this project"));
                }
                self.store.find_user(&lookup).await?.ok_or(DomainError::NotFound { resource: "user" })?.id
            }
        };
        self.change_member(meta, actor, project_id, target, MembershipChange::Add(role))
            .await?
            .ok_or_else(|| DomainError::internal("membership missing after add"))
    }

    /// Adds, re-roles or removes a member. Visibility is checked here (a private project is
    /// NOT_FOUND to strangers); the role rules are checked by the store inside its transaction.
    pub async fn change_member(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        project_id: ProjectId,
        target: UserId,
        change: MembershipChange,
    ) -> DomainResult<Option<Membership>> {
        let (project, _) = self
            .find(Some(actor), ProjectRef::Id(project_id))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        let (action, changes) = match change {
            MembershipChange::Add(role) => ("membership.add", json!({"userId": target, "role": role.as_str()})),
            MembershipChange::SetRole(role) => ("membership.update", json!({"userId": target, "role": role.as_str()})),
            MembershipChange::Remove => ("membership.remove", json!({"userId": target})),
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), action, "project_membership")
            .resource(target, &project.name)
            .project(project.id)
            .changes(changes);
        let changed = self.store.change_membership(project.id, *actor, target, change, audit).await?;
        self.events.publish(DomainEvent::AccessChanged { project_id: project.id, user_id: Some(target) });
        Ok(changed)
    }
}

fn fields_summary(f: &ProjectFields) -> serde_json::Value {
    let mut changes = serde_json::Map::new();
    if let Some(name) = &f.name {
        changes.insert("name".into(), json!(name));
    }
    if let Some(status) = f.status {
        changes.insert("status".into(), json!(status.as_str()));
    }
    if let Some(v) = f.is_public {
        changes.insert("isPublic".into(), json!(v));
    }
    if let Some(v) = f.allow_public_view {
        changes.insert("allowPublicView".into(), json!(v));
    }
    if let Some(v) = &f.tags {
        changes.insert("tags".into(), json!(v));
    }
    if let Some(v) = f.annotation_mode {
        changes.insert("annotationMode".into(), json!(v.as_str()));
    }
    if let Some(v) = f.pre_annotate {
        changes.insert("preAnnotate".into(), json!(v));
    }
    if let Some(v) = f.abandon_after_hours {
        changes.insert("abandonAfterHours".into(), json!(v));
    }
    for (key, set) in [
        ("description", f.description.is_some()),
        ("researchArea", f.research_area.is_some()),
        ("methodology", f.methodology.is_some()),
        ("objectives", f.objectives.is_some()),
        ("timeline", f.timeline.is_some()),
        ("references", f.references.is_some()),
    ] {
        if set {
            changes.insert(key.into(), json!(true));
        }
    }
    serde_json::Value::Object(changes)
}
