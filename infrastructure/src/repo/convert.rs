//! Conversions between ORM models and domain types, at the edge of the crate.

use nishan_domain::DomainResult;
use nishan_domain::audit::AuditEntry;
use nishan_domain::membership::{Membership, Role};
use nishan_domain::project::{Project, ProjectStatus};
use nishan_domain::session::Session;
use nishan_domain::user::{User, UserProfile};
use sea_orm::ActiveValue::Set;
use serde_json::Value;

use crate::entity::{audit_log, project, project_membership, user, user_profile, user_session};

/// A JSON array of strings; anything else stored there reads as empty.
pub(crate) fn strings(v: Value) -> Vec<String> {
    serde_json::from_value(v).unwrap_or_default()
}

pub(crate) fn user(m: user::Model) -> User {
    User {
        id: m.id.into(),
        username: m.username,
        email: m.email,
        first_name: m.first_name,
        last_name: m.last_name,
        bio: m.bio,
        research_interests: strings(m.research_interests),
        preferences: m.preferences,
        institution: m.institution,
        academic_title: m.academic_title,
        research_focus: m.research_focus,
        is_researcher: m.is_researcher,
        is_admin: m.is_admin,
        is_active: m.is_active,
        email_verified: m.email_verified,
        last_activity: m.last_activity,
        last_login: m.last_login,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

pub(crate) fn profile(m: user_profile::Model) -> UserProfile {
    UserProfile {
        user_id: m.user_id.into(),
        avatar_url: m.avatar_url,
        website: m.website,
        orcid: m.orcid,
        location: m.location,
        languages: strings(m.languages),
        profile_completion: m.profile_completion,
    }
}

pub(crate) fn session(m: user_session::Model) -> Session {
    Session {
        id: m.id.into(),
        user_id: m.user_id.into(),
        created_at: m.created_at,
        last_used_at: m.last_used_at,
        expires_at: m.expires_at,
        revoked_at: m.revoked_at,
        ip: m.ip_address,
        user_agent: m.user_agent,
    }
}

pub(crate) fn project(m: project::Model) -> DomainResult<Project> {
    Ok(Project {
        id: m.id.into(),
        name: m.name,
        slug: m.slug,
        description: m.description,
        research_area: m.research_area,
        methodology: m.methodology,
        objectives: m.objectives,
        timeline: m.timeline,
        status: ProjectStatus::parse(&m.status)?,
        is_public: m.is_public,
        allow_public_view: m.allow_public_view,
        tags: strings(m.tags),
        references: strings(m.references),
        created_by: m.created_by.map(Into::into),
        updated_by: m.updated_by.map(Into::into),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub(crate) fn membership(m: project_membership::Model) -> DomainResult<Membership> {
    Ok(Membership {
        id: m.id.into(),
        project_id: m.project_id.into(),
        user_id: m.user_id.into(),
        role: Role::parse(&m.role)?,
        joined_at: m.joined_at,
        is_active: m.is_active,
        notes: m.notes,
        invited_by: m.invited_by.map(Into::into),
        updated_at: m.updated_at,
    })
}

/// The stored row of a membership: the permission flags are written from the role.
pub(crate) fn membership_row(m: &Membership) -> project_membership::ActiveModel {
    let p = m.role.permissions();
    project_membership::ActiveModel {
        id: Set(m.id.0),
        project_id: Set(m.project_id.0),
        user_id: Set(m.user_id.0),
        role: Set(m.role.as_str().to_owned()),
        can_edit_project: Set(p.can_edit_project),
        can_manage_users: Set(p.can_manage_users),
        can_upload_documents: Set(p.can_upload_documents),
        can_edit_entities: Set(p.can_edit_entities),
        can_export_data: Set(p.can_export_data),
        joined_at: Set(m.joined_at),
        is_active: Set(m.is_active),
        notes: Set(m.notes.clone()),
        invited_by: Set(m.invited_by.map(|u| u.0)),
        updated_at: Set(m.updated_at),
    }
}

pub(crate) fn audit_row(e: AuditEntry) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        id: Set(e.id.0),
        timestamp: Set(e.timestamp),
        user_id: Set(e.user_id.map(|u| u.0)),
        action: Set(e.action),
        resource_type: Set(e.resource_type),
        resource_id: Set(e.resource_id),
        resource_name: Set(e.resource_name),
        changes: Set(e.changes),
        ip_address: Set(e.ip),
        user_agent: Set(e.user_agent),
        project_id: Set(e.project_id.map(|p| p.0)),
        session_id: Set(e.session_id.map(|s| s.0)),
    }
}
