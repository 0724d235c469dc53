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
        annotation_mode: nishan_domain::rounds::AnnotationMode::parse(&m.annotation_mode).map_err(|_| {
            nishan_domain::DomainError::internal(format!("unknown annotation mode {:?} in storage", m.annotation_mode))
        })?,
        abandon_after_hours: m.abandon_after_hours.map(|h| h as u32),
        pre_annotate: m.pre_annotate,
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

pub(crate) fn audit(m: audit_log::Model) -> AuditEntry {
    AuditEntry {
        id: m.id.into(),
        timestamp: m.timestamp,
        user_id: m.user_id.map(Into::into),
        action: m.action,
        resource_type: m.resource_type,
        resource_id: m.resource_id,
        resource_name: m.resource_name,
        changes: m.changes,
        ip: m.ip_address,
        user_agent: m.user_agent,
        project_id: m.project_id.map(Into::into),
        session_id: m.session_id.map(Into::into),
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

/// A document's info from its row (whose `content` is not looked at: it may not have been
/// read) and its stats row.
pub(crate) fn document_info(
    m: crate::entity::document::Model,
    stats: &crate::entity::document_stats::Model,
) -> DomainResult<nishan_domain::document::DocumentInfo> {
    use nishan_domain::document::{Direction, DocumentInfo, EntityCounts, FileInfo, ProcessingStatus};
    Ok(DocumentInfo {
        id: m.id.into(),
        project_id: m.project_id.into(),
        title: m.title,
        content_hash: m.content_hash,
        file: FileInfo {
            file_name: m.file_name,
            file_size: m.file_size,
            content_type: m.content_type,
            encoding: m.encoding,
        },
        language: m.language,
        direction: Direction::parse(&m.direction)?,
        word_count: m.word_count as u32,
        character_count: m.character_count as u32,
        line_count: m.line_count as u32,
        processing_status: ProcessingStatus::parse(&m.processing_status)?,
        processing_started_at: m.processing_started_at,
        processing_completed_at: m.processing_completed_at,
        processing_duration_ms: m.processing_duration_ms,
        counts: EntityCounts { total: stats.total_entities as u32, verified: stats.verified_entities as u32 },
        confidence_score: m.confidence_score,
        quality_score: m.quality_score,
        tags: strings(m.tags),
        metadata: m.metadata,
        notes: m.notes,
        current_version: stats.version as u32,
        created_by: m.created_by.map(Into::into),
        updated_by: m.updated_by.map(Into::into),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// A document with its content from its row and its stats row.
pub(crate) fn document(
    mut m: crate::entity::document::Model,
    stats: &crate::entity::document_stats::Model,
) -> DomainResult<nishan_domain::document::Document> {
    let content = std::mem::take(&mut m.content);
    Ok(nishan_domain::document::Document { info: document_info(m, stats)?, content })
}

/// The stats row of a new document.
pub(crate) fn document_stats_row(
    d: &nishan_domain::document::DocumentInfo,
) -> crate::entity::document_stats::ActiveModel {
    crate::entity::document_stats::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        document_id: Set(d.id.0),
        layer: Set(nishan_domain::rounds::Layer::Curated.key()),
        version: Set(d.current_version as i32),
        total_entities: Set(d.counts.total as i32),
        verified_entities: Set(d.counts.verified as i32),
    }
}

pub(crate) fn document_row(d: &nishan_domain::document::Document) -> crate::entity::document::ActiveModel {
    crate::entity::document::ActiveModel {
        id: Set(d.id.0),
        project_id: Set(d.project_id.0),
        title: Set(d.title.clone()),
        content: Set(d.content.clone()),
        content_hash: Set(d.content_hash.clone()),
        file_name: Set(d.file.file_name.clone()),
        file_size: Set(d.file.file_size),
        content_type: Set(d.file.content_type.clone()),
        encoding: Set(d.file.encoding.clone()),
        language: Set(d.language.clone()),
        direction: Set(d.direction.as_str().to_owned()),
        word_count: Set(d.word_count as i32),
        character_count: Set(d.character_count as i32),
        line_count: Set(d.line_count as i32),
        processing_status: Set(d.processing_status.as_str().to_owned()),
        processing_started_at: Set(d.processing_started_at),
        processing_completed_at: Set(d.processing_completed_at),
        processing_duration_ms: Set(d.processing_duration_ms),
        confidence_score: Set(d.confidence_score),
        quality_score: Set(d.quality_score),
        tags: Set(serde_json::json!(d.tags)),
        metadata: Set(d.metadata.clone()),
        notes: Set(d.notes.clone()),
        created_by: Set(d.created_by.map(|u| u.0)),
        updated_by: Set(d.updated_by.map(|u| u.0)),
        created_at: Set(d.created_at),
        updated_at: Set(d.updated_at),
    }
}

pub(crate) fn version(m: crate::entity::document_version::Model) -> nishan_domain::document::DocumentVersion {
    nishan_domain::document::DocumentVersion {
        id: m.id.into(),
        document_id: m.document_id.into(),
        version_number: m.version_number as u32,
        content: m.content,
        content_hash: m.content_hash,
        change_summary: m.change_summary,
        changed_by: m.changed_by.map(Into::into),
        changed_at: m.changed_at,
        diff_summary: m.diff_summary,
        unified_diff: m.unified_diff,
    }
}

pub(crate) fn version_row(
    v: &nishan_domain::document::DocumentVersion,
) -> crate::entity::document_version::ActiveModel {
    crate::entity::document_version::ActiveModel {
        id: Set(v.id.0),
        document_id: Set(v.document_id.0),
        version_number: Set(v.version_number as i32),
        content: Set(v.content.clone()),
        content_hash: Set(v.content_hash.clone()),
        change_summary: Set(v.change_summary.clone()),
        changed_by: Set(v.changed_by.map(|u| u.0)),
        changed_at: Set(v.changed_at),
        diff_summary: Set(v.diff_summary.clone()),
        unified_diff: Set(v.unified_diff.clone()),
    }
}

pub(crate) fn entity_type(
    m: crate::entity::entity_type::Model,
) -> DomainResult<nishan_domain::entity_type::EntityType> {
    use nishan_domain::entity_type::{EntityType, HexColor};
    Ok(EntityType {
        id: m.id.into(),
        name: m.name,
        display_name: m.display_name,
        description: m.description,
        color: HexColor::parse(&m.color)
            .map_err(|_| nishan_domain::DomainError::internal(format!("bad colour {:?} in storage", m.color)))?,
        examples: strings(m.examples),
        is_system: m.is_system,
        is_active: m.is_active,
        sort_order: m.sort_order,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub(crate) fn annotation(m: crate::entity::annotation::Model) -> DomainResult<nishan_domain::entity::Entity> {
    use nishan_domain::entity::{Entity, EntitySource};
    Ok(Entity {
        id: m.id.into(),
        document_id: m.document_id.into(),
        project_id: m.project_id.into(),
        layer: nishan_domain::rounds::Layer::parse_key(&m.layer)?,
        entity_type_id: m.entity_type_id.into(),
        text: m.text,
        start: m.start_offset as u32,
        end: m.end_offset as u32,
        utf16_start: m.utf16_start as u32,
        utf16_end: m.utf16_end as u32,
        line_number: m.line_number as u32,
        stanza_number: m.stanza_number as u32,
        word_position: m.word_position as u32,
        context_before: m.context_before,
        context_after: m.context_after,
        confidence: m.confidence_score,
        source: EntitySource::parse(&m.source)?,
        is_verified: m.is_verified,
        verified_by: m.verified_by.map(Into::into),
        verified_at: m.verified_at,
        notes: m.notes,
        attributes: m.attributes,
        llm_model_id: m.llm_model_id,
        processing_job_id: m.processing_job_id,
        created_by: m.created_by.map(Into::into),
        updated_by: m.updated_by.map(Into::into),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub(crate) fn annotation_row(e: &nishan_domain::entity::Entity) -> crate::entity::annotation::ActiveModel {
    crate::entity::annotation::ActiveModel {
        id: Set(e.id.0),
        document_id: Set(e.document_id.0),
        project_id: Set(e.project_id.0),
        layer: Set(e.layer.key()),
        entity_type_id: Set(e.entity_type_id.0),
        text: Set(e.text.clone()),
        start_offset: Set(e.start as i32),
        end_offset: Set(e.end as i32),
        utf16_start: Set(e.utf16_start as i32),
        utf16_end: Set(e.utf16_end as i32),
        line_number: Set(e.line_number as i32),
        stanza_number: Set(e.stanza_number as i32),
        word_position: Set(e.word_position as i32),
        context_before: Set(e.context_before.clone()),
        context_after: Set(e.context_after.clone()),
        confidence_score: Set(e.confidence),
        source: Set(e.source.as_str().to_owned()),
        is_verified: Set(e.is_verified),
        verified_by: Set(e.verified_by.map(|u| u.0)),
        verified_at: Set(e.verified_at),
        notes: Set(e.notes.clone()),
        attributes: Set(e.attributes.clone()),
        llm_model_id: Set(e.llm_model_id),
        processing_job_id: Set(e.processing_job_id),
        created_by: Set(e.created_by.map(|u| u.0)),
        updated_by: Set(e.updated_by.map(|u| u.0)),
        created_at: Set(e.created_at),
        updated_at: Set(e.updated_at),
    }
}

pub(crate) fn relationship(
    m: crate::entity::entity_relationship::Model,
) -> DomainResult<nishan_domain::relationship::Relationship> {
    use nishan_domain::relationship::{Relationship, RelationshipType};
    Ok(Relationship {
        id: m.id.into(),
        project_id: m.project_id.into(),
        source: m.source_entity_id.into(),
        target: m.target_entity_id.into(),
        kind: RelationshipType::parse(&m.relationship_type)?,
        confidence: m.confidence_score,
        notes: m.notes,
        created_by: m.created_by.map(Into::into),
        created_at: m.created_at,
    })
}
