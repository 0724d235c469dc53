//! Documents: ingestion (pasted or uploaded text), metadata, versioned content edits that
//! carry entities along, and deletion. Reading needs read access to the project; every
//! change needs the upload-documents permission.

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::document::{
    Direction, Document, DocumentFields, DocumentVersion, EntityCounts, FileInfo, ProcessingStatus, content_hash,
    file_base_name, validate_language, validate_title,
};
use crate::entity::Entity;
use crate::error::{DomainError, DomainResult};
use crate::events::{ActivityEvent, ActivityKind, DomainEvent, EventPublisher};
use crate::ids::{DocumentId, ProjectId, VersionId};
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{ContentChange, DocumentRepository, Page, PageRequest, ProjectRepository};
use crate::service::projects::{ProjectRef, Projects};
use crate::text::{self, DocumentText, Remap, span_context};

/// A document as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct NewDocument {
    pub project_id: Option<ProjectId>,
    pub title: Option<String>,
    pub content: String,
    pub language: Option<String>,
    pub tags: Option<Vec<String>>,
    pub file: FileInfo,
}

/// Document use cases. A content edit publishes `VERSION_CREATED` activity once committed.
pub struct Documents<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
    /// Largest accepted content, in bytes.
    pub max_bytes: usize,
}

impl<S: DocumentRepository + ProjectRepository, E: EventPublisher> Documents<'_, S, E> {
    fn projects(&self) -> Projects<'_, S, E> {
        Projects { store: self.store, events: self.events }
    }

    /// The document and what the caller may do in its project; NOT_FOUND when it does not
    /// exist or the caller may not read the project.
    pub async fn find(&self, actor: Option<&Actor>, id: DocumentId) -> DomainResult<(Document, ProjectAccess)> {
        let not_found = DomainError::NotFound { resource: "document" };
        let doc = self.store.document_by_id(id).await?.ok_or(not_found.clone())?;
        let (_, access) = self.projects().find(actor, ProjectRef::Id(doc.project_id)).await?.ok_or(not_found)?;
        Ok((doc, access))
    }

    /// The caller's access to a document already read (a request's loader shares one read
    /// among the fields that name it); `NotFound` when the caller may not read it.
    pub async fn access(&self, actor: Option<&Actor>, doc: &Document) -> DomainResult<ProjectAccess> {
        let not_found = DomainError::NotFound { resource: "document" };
        let (_, access) = self.projects().find(actor, ProjectRef::Id(doc.project_id)).await?.ok_or(not_found)?;
        Ok(access)
    }

    async fn require(&self, actor: &Actor, id: DocumentId, permission: Permission) -> DomainResult<Document> {
        let (doc, access) = self.find(Some(actor), id).await?;
        access.require(permission)?;
        Ok(doc)
    }

    pub async fn list(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<Document>> {
        self.projects()
            .find(actor, ProjectRef::Id(project))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        self.store.documents_of_project(project, page).await
    }

    /// Ingests a text: line endings normalised to `\n`, metrics, hash and direction computed.
    pub async fn create(&self, meta: &RequestMeta, actor: &Actor, mut input: NewDocument) -> DomainResult<Document> {
        input.file.file_name = input.file.file_name.as_deref().and_then(file_base_name);
        let project_id = input.project_id.ok_or_else(|| DomainError::invalid("projectId", "is required"))?;
        let (project, access) = self
            .projects()
            .find(Some(actor), ProjectRef::Id(project_id))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        access.require(Permission::UploadDocuments)?;
        let field = if input.file.file_name.is_some() { "file" } else { "content" };
        if input.content.len() > self.max_bytes {
            return Err(DomainError::invalid(field, format!("is larger than the limit of {} bytes", self.max_bytes)));
        }
        let content = text::normalize_newlines(&input.content);
        if content.trim().is_empty() {
            return Err(DomainError::invalid(field, "is empty"));
        }
        let title = match input.title {
            Some(t) => validate_title(&t)?,
            None => validate_title(input.file.file_name.as_deref().unwrap_or("Untitled"))?,
        };
        let language = validate_language(input.language.as_deref().unwrap_or("ur"))?;
        let fields = DocumentFields { tags: input.tags, ..Default::default() }.validated()?;
        let fields = InitialFields { title, language, direction: None, tags: fields.tags.unwrap_or_default() };
        let (doc, first) = new_document(project.id, fields, content, input.file, actor.user_id);
        let audit = AuditEntry::new(meta, Some(actor.user_id), "document.create", "document")
            .resource(doc.id, &doc.title)
            .project(doc.project_id)
            .changes(json!({"title": doc.title, "characters": doc.character_count, "fileName": doc.file.file_name}));
        self.store.create_document(doc, first, audit).await
    }

    /// Ingests an uploaded `.txt` file (UTF-8 with or without BOM, or UTF-16 with BOM).
    pub async fn upload(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        mut input: NewDocument,
        bytes: &[u8],
    ) -> DomainResult<Document> {
        if bytes.len() > self.max_bytes {
            return Err(DomainError::invalid("file", format!("is larger than the limit of {} bytes", self.max_bytes)));
        }
        let decoded = text::decode_upload(bytes)?;
        input.content = decoded.text;
        input.file.file_size = Some(bytes.len() as i64);
        input.file.encoding = Some(decoded.encoding.to_owned());
        self.create(meta, actor, input).await
    }

    pub async fn update(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: DocumentId,
        fields: DocumentFields,
    ) -> DomainResult<Document> {
        let fields = fields.validated()?;
        let doc = self.require(actor, id, Permission::UploadDocuments).await?;
        let mut changed = serde_json::Map::new();
        if let Some(t) = &fields.title {
            changed.insert("title".into(), json!(t));
        }
        if let Some(d) = fields.direction {
            changed.insert("direction".into(), json!(d.as_str()));
        }
        if let Some(l) = &fields.language {
            changed.insert("language".into(), json!(l));
        }
        for (k, set) in [
            ("tags", fields.tags.is_some()),
            ("metadata", fields.metadata.is_some()),
            ("notes", fields.notes.is_some()),
        ] {
            if set {
                changed.insert(k.into(), json!(true));
            }
        }
        let audit = AuditEntry::new(meta, Some(actor.user_id), "document.update", "document")
            .resource(doc.id, &doc.title)
            .project(doc.project_id)
            .changes(serde_json::Value::Object(changed));
        self.store.update_document(id, fields, actor.user_id, audit).await
    }

    /// Replaces the content if the document is still at `expected_version`, storing a new
    /// version with its diff; entities in unchanged text move with it, the others are dropped.
    pub async fn update_content(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: DocumentId,
        expected_version: Option<u32>,
        content: &str,
        change_summary: Option<String>,
    ) -> DomainResult<Document> {
        let doc = self.require(actor, id, Permission::UploadDocuments).await?;
        let expected_version = expected_version.unwrap_or(doc.current_version);
        if content.len() > self.max_bytes {
            return Err(DomainError::invalid(
                "content",
                format!("is larger than the limit of {} bytes", self.max_bytes),
            ));
        }
        let content = text::normalize_newlines(content);
        if content.trim().is_empty() {
            return Err(DomainError::invalid("content", "is empty"));
        }
        let summary = change_summary.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let user = actor.user_id;
        let audit = AuditEntry::new(meta, Some(user), "document.update_content", "document")
            .resource(doc.id, &doc.title)
            .project(doc.project_id)
            .changes(json!({"fromVersion": expected_version}));
        let plan = move |current: Document, entities: Vec<Entity>| {
            plan_content_change(current, entities, content, summary, user)
        };
        let doc = self.store.update_content(id, expected_version, plan, audit).await?;
        let mut event = ActivityEvent::new(doc.id, ActivityKind::VersionCreated, &[], Some(user));
        event.version = Some(doc.current_version);
        self.events.publish(DomainEvent::DocumentActivity(event));
        Ok(doc)
    }

    pub async fn delete(&self, meta: &RequestMeta, actor: &Actor, id: DocumentId) -> DomainResult<()> {
        let doc = self.require(actor, id, Permission::UploadDocuments).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "document.delete", "document")
            .resource(doc.id, &doc.title)
            .project(doc.project_id);
        self.store.delete_document(id, audit).await
    }

    /// Versions of a document the caller has already been allowed to read.
    pub async fn versions_of(&self, doc: &Document) -> DomainResult<Vec<DocumentVersion>> {
        self.store.versions(doc.id).await
    }
}

/// The editable fields of a new document, validated.
#[derive(Debug, Clone)]
pub struct InitialFields {
    pub title: String,
    pub language: String,
    /// Detected from the letters when None.
    pub direction: Option<Direction>,
    pub tags: Vec<String>,
}

/// A new document of `project` with its first version, and everything the server computes
/// (hash, metrics, and the direction unless given). `content` is already newline-normalised.
pub fn new_document(
    project: ProjectId,
    fields: InitialFields,
    content: String,
    file: FileInfo,
    by: crate::ids::UserId,
) -> (Document, DocumentVersion) {
    let metrics = text::metrics(&content);
    let now = Utc::now();
    let doc = Document {
        id: DocumentId::new(),
        project_id: project,
        title: fields.title,
        content_hash: content_hash(&content),
        direction: fields.direction.unwrap_or_else(|| Direction::detect(&content)),
        file,
        language: fields.language,
        word_count: metrics.words,
        character_count: metrics.characters,
        line_count: metrics.lines,
        processing_status: ProcessingStatus::Pending,
        processing_started_at: None,
        processing_completed_at: None,
        processing_duration_ms: None,
        counts: EntityCounts::default(),
        confidence_score: None,
        quality_score: None,
        tags: fields.tags,
        metadata: json!({}),
        notes: None,
        current_version: 1,
        created_by: Some(by),
        updated_by: Some(by),
        created_at: now,
        updated_at: now,
        content,
    };
    let first = DocumentVersion {
        id: VersionId::new(),
        document_id: doc.id,
        version_number: 1,
        content: doc.content.clone(),
        content_hash: doc.content_hash.clone(),
        change_summary: Some("created".into()),
        changed_by: Some(by),
        changed_at: now,
        diff_summary: json!({}),
        unified_diff: String::new(),
    };
    (doc, first)
}

/// The new state of a document and its entities after a content edit: the pure core of
/// `update_content`, run inside the store's transaction.
pub fn plan_content_change(
    current: Document,
    entities: Vec<Entity>,
    content: String,
    change_summary: Option<String>,
    by: crate::ids::UserId,
) -> DomainResult<ContentChange> {
    let remap = Remap::new(&current.content, &content);
    let new_text = DocumentText::new(&content);
    let now = Utc::now();
    let mut moved = Vec::new();
    let mut dropped = Vec::new();
    let mut unchanged = 0u32;
    // Mapped together, so two entities on repeated text ("علی علی" edited to "علی") do not
    // both land on the one word that is left.
    let spans: Vec<(u32, u32)> = entities.iter().map(|e| (e.start, e.end)).collect();
    for (mut e, mapped) in entities.into_iter().zip(remap.map_spans(&spans)) {
        match mapped {
            Some((start, end)) => {
                if (start, end) == (e.start, e.end) {
                    unchanged += 1;
                }
                e.place((start, end), span_context(&new_text, start, end)?);
                e.updated_at = now;
                moved.push(e);
            }
            None => dropped.push(e.id),
        }
    }
    let diff = remap.summary();
    let version_number = current.current_version + 1;
    let version = DocumentVersion {
        id: VersionId::new(),
        document_id: current.id,
        version_number,
        content: content.clone(),
        content_hash: content_hash(&content),
        change_summary,
        changed_by: Some(by),
        changed_at: now,
        diff_summary: json!({
            "linesAdded": diff.lines_added,
            "linesRemoved": diff.lines_removed,
            "charsAdded": diff.chars_added,
            "charsRemoved": diff.chars_removed,
            "entitiesMoved": moved.len() as u32 - unchanged,
            "entitiesUnchanged": unchanged,
            "entitiesDropped": dropped.len(),
        }),
        unified_diff: text::unified_diff(&current.content, &content),
    };
    let metrics = text::metrics(&content);
    let document = Document {
        content_hash: version.content_hash.clone(),
        word_count: metrics.words,
        character_count: metrics.characters,
        line_count: metrics.lines,
        current_version: version_number,
        updated_by: Some(by),
        updated_at: now,
        content,
        ..current
    };
    Ok(ContentChange { document, version, moved, dropped })
}
