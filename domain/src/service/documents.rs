//! Documents: ingestion (pasted or uploaded text), metadata, versioned content edits that
//! carry entities along, and deletion. Reading needs read access to the project; every
//! change needs the upload-documents permission.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use crate::artifact::{Artifact, NewArtifact};
use crate::audit::{AuditEntry, RequestMeta};
use crate::document::{
    Direction, Document, DocumentFields, DocumentHead, DocumentInfo, DocumentVersion, EntityCounts, FileInfo,
    ProcessingStatus, content_hash, file_base_name, validate_language, validate_title,
};
use crate::entity::{EntityCursor, Placement};
use crate::error::{DomainError, DomainResult};
use crate::events::{ActivityEvent, ActivityKind, DomainEvent, EventPublisher};
use crate::formats::{self, Format, archive, archive::ZipLimits};
use crate::ids::{ArtifactId, DocumentId, EntityId, ProjectId, VersionId};
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{
    ArtifactRepository, CarriedEntities, ContentEdit, DocumentRepository, Page, PageRequest, PlacementDelta,
    ProjectRepository, Shift, StoredSpan,
};
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

    /// As [`find`](Self::find), without reading the content.
    pub async fn head_access(
        &self,
        actor: Option<&Actor>,
        id: DocumentId,
    ) -> DomainResult<(DocumentHead, ProjectAccess)> {
        let (head, _, access) = self.head_project_access(actor, id).await?;
        Ok((head, access))
    }

    /// As [`head_access`](Self::head_access), with the document's project (its annotation
    /// mode decides which layer a caller reads and writes).
    pub async fn head_project_access(
        &self,
        actor: Option<&Actor>,
        id: DocumentId,
    ) -> DomainResult<(DocumentHead, crate::project::Project, ProjectAccess)> {
        let not_found = DomainError::NotFound { resource: "document" };
        let head = self.store.document_head(id).await?.ok_or(not_found.clone())?;
        let (project, access) = self.projects().find(actor, ProjectRef::Id(head.project_id)).await?.ok_or(not_found)?;
        Ok((head, project, access))
    }

    /// The caller's access to a document already read (a request's loader shares one read
    /// among the fields that name it); `NotFound` when the caller may not read it.
    pub async fn access(&self, actor: Option<&Actor>, doc: &DocumentInfo) -> DomainResult<ProjectAccess> {
        let not_found = DomainError::NotFound { resource: "document" };
        let (_, access) = self.projects().find(actor, ProjectRef::Id(doc.project_id)).await?.ok_or(not_found)?;
        Ok(access)
    }

    async fn require(&self, actor: &Actor, id: DocumentId, permission: Permission) -> DomainResult<DocumentHead> {
        let (doc, access) = self.head_access(Some(actor), id).await?;
        access.require(permission)?;
        Ok(doc)
    }

    pub async fn list(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
        filter: &crate::document::DocumentFilter,
        page: PageRequest,
    ) -> DomainResult<Page<DocumentInfo>> {
        self.projects()
            .find(actor, ProjectRef::Id(project))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        self.store.documents_of_project(project, filter, page).await
    }

    /// Ingests a text: line endings normalised to `\n`, metrics, hash and direction computed.
    pub async fn create(&self, meta: &RequestMeta, actor: &Actor, input: NewDocument) -> DomainResult<Document> {
        let project_id = input.project_id.ok_or_else(|| DomainError::invalid("projectId", "is required"))?;
        self.require_upload(actor, project_id).await?;
        let (doc, first, audit) = self.prepare(meta, actor, project_id, input)?;
        self.store.create_document(doc, first, audit).await
    }

    async fn require_upload(&self, actor: &Actor, project_id: ProjectId) -> DomainResult<()> {
        let (_, access) = self
            .projects()
            .find(Some(actor), ProjectRef::Id(project_id))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        access.require(Permission::UploadDocuments)
    }

    /// A new document of a project the actor may upload to, validated, with its audit entry.
    fn prepare(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        project_id: ProjectId,
        mut input: NewDocument,
    ) -> DomainResult<(Document, DocumentVersion, AuditEntry)> {
        input.file.file_name = input.file.file_name.as_deref().and_then(file_base_name);
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
        let (doc, first) = new_document(project_id, fields, content, input.file, actor.user_id);
        let audit = AuditEntry::new(meta, Some(actor.user_id), "document.create", "document")
            .resource(doc.id, &doc.title)
            .project(doc.project_id)
            .changes(json!({"title": doc.title, "characters": doc.character_count, "fileName": doc.file.file_name}));
        Ok((doc, first, audit))
    }

    pub async fn update(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: DocumentId,
        fields: DocumentFields,
    ) -> DomainResult<DocumentInfo> {
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
    ///
    /// Everything costly (the diff, indexing the new text, placing every entity) is done from
    /// the cached text of the current version and a snapshot of the entities' spans, before
    /// the write transaction; inside it, the version is checked again and only entities added
    /// or moved since the snapshot are placed anew.
    pub async fn update_content(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: DocumentId,
        expected_version: Option<u32>,
        content: &str,
        change_summary: Option<String>,
    ) -> DomainResult<Document> {
        let (head, access) = self.head_access(Some(actor), id).await?;
        access.require(Permission::UploadDocuments)?;
        let expected_version = expected_version.unwrap_or(head.current_version);
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
        if head.current_version != expected_version {
            return Err(version_conflict(expected_version, head.current_version));
        }
        let summary = change_summary.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let audit = AuditEntry::new(meta, Some(actor.user_id), "document.update_content", "document")
            .resource(head.id, &head.title)
            .project(head.project_id)
            .changes(json!({"fromVersion": expected_version}));
        let old = self.store.document_text(&head).await?;
        let snapshot = self.store.entity_spans(id).await?;
        let plan = ContentPlan::prepare(&head, &old, snapshot, content, summary, actor.user_id)?;
        let edit = plan.edit.clone();
        let doc = self.store.update_content(edit, move |stored| plan.carry(stored), audit).await?;
        let mut event = ActivityEvent::new(doc.id, ActivityKind::VersionCreated, &[], Some(actor.user_id));
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
    pub async fn versions_of(&self, doc: &DocumentInfo) -> DomainResult<Vec<DocumentVersion>> {
        self.store.versions(doc.id).await
    }
}

/// What an upload made: one document per file (a `.zip` gives one per member, in archive
/// order).
#[derive(Debug, Clone)]
pub struct UploadReport {
    pub documents: Vec<Document>,
    pub files: Vec<UploadedFile>,
}

/// One file of an upload and the document made from it.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    /// The file's name (a member's path inside a `.zip`).
    pub file_name: String,
    pub format: Format,
    pub document: DocumentId,
    pub artifact_sha256: String,
}

impl<S: DocumentRepository + ProjectRepository + ArtifactRepository, E: EventPublisher> Documents<'_, S, E> {
    /// Ingests an uploaded file: `.txt` and `.md` (UTF-8 with or without BOM, or UTF-16 with
    /// BOM), `.docx`, `.pdf`, `.html`, or a `.zip` of them (one document each, all or none).
    /// Each document keeps its original as an artifact. A file's format is known by its
    /// extension, else by its first bytes.
    pub async fn upload(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        input: NewDocument,
        bytes: &[u8],
    ) -> DomainResult<UploadReport> {
        let project_id = input.project_id.ok_or_else(|| DomainError::invalid("projectId", "is required"))?;
        self.require_upload(actor, project_id).await?;
        if bytes.len() > self.max_bytes {
            return Err(DomainError::invalid("file", format!("is larger than the limit of {} bytes", self.max_bytes)));
        }
        let name = input.file.file_name.clone().unwrap_or_else(|| "upload.txt".to_owned());
        let format = Format::detect(Some(&name), bytes);
        let files: Vec<(String, Format, Vec<u8>)> = if format == Format::Zip {
            let members = archive::members(bytes, ZipLimits::for_document_bytes(self.max_bytes))?;
            if members.is_empty() {
                return Err(DomainError::invalid("file", "is a .zip archive with no files"));
            }
            members
                .into_iter()
                .map(|m| {
                    let f = Format::detect(Some(&m.name), &m.bytes);
                    (m.name, f, m.bytes)
                })
                .collect()
        } else {
            vec![(name, format, bytes.to_vec())]
        };
        let in_archive = format == Format::Zip;
        let mut items = Vec::with_capacity(files.len());
        let mut audits = Vec::with_capacity(files.len());
        let mut report = Vec::with_capacity(files.len());
        for (file_name, format, bytes) in files {
            let in_member = |e: DomainError| if in_archive { in_member(&file_name, e) } else { e };
            let extracted = formats::extract(format, &bytes, self.max_bytes).map_err(in_member)?;
            let new = NewDocument {
                project_id: Some(project_id),
                title: if in_archive { None } else { input.title.clone() },
                content: extracted.text,
                language: input.language.clone(),
                tags: input.tags.clone(),
                file: FileInfo {
                    file_name: Some(file_name.clone()),
                    file_size: Some(bytes.len() as i64),
                    content_type: Some(format.mime_type().to_owned()),
                    encoding: extracted.encoding,
                },
            };
            let (doc, first, audit) = self.prepare(meta, actor, project_id, new).map_err(in_member)?;
            let base = file_base_name(&file_name).unwrap_or_else(|| file_name.clone());
            let artifact = NewArtifact::new(base, format.mime_type(), bytes);
            let audit = audit.changes(json!({
                "title": doc.title,
                "characters": doc.character_count,
                "fileName": file_name,
                "format": format.as_str(),
                "sha256": artifact.sha256,
            }));
            report.push(UploadedFile { file_name, format, document: doc.id, artifact_sha256: artifact.sha256.clone() });
            items.push((doc, first, artifact));
            audits.push(audit);
        }
        let documents = self.store.create_uploaded_documents(items, audits).await?;
        Ok(UploadReport { documents, files: report })
    }

    /// The original a readable document was made from.
    pub async fn artifact_of(&self, doc: DocumentId) -> DomainResult<Option<Artifact>> {
        self.store.artifact_of_document(doc).await
    }

    /// An artifact and its bytes, for a caller who may read a document made from it;
    /// NOT_FOUND otherwise, whether or not it exists.
    pub async fn artifact(&self, actor: Option<&Actor>, id: ArtifactId) -> DomainResult<(Artifact, Vec<u8>)> {
        let not_found = DomainError::NotFound { resource: "artifact" };
        let mut readable = false;
        for project in self.store.artifact_projects(id).await? {
            if self.projects().find(actor, ProjectRef::Id(project)).await?.is_some() {
                readable = true;
                break;
            }
        }
        if !readable {
            return Err(not_found);
        }
        self.store.artifact_content(id).await?.ok_or(not_found)
    }
}

/// An error about one member of an archive, naming it.
fn in_member(name: &str, e: DomainError) -> DomainError {
    match e {
        DomainError::Invalid { field, message } => {
            DomainError::Invalid { field, message: format!("{name}: {message}") }
        }
        DomainError::Conflict(m) => DomainError::Conflict(format!("{name}: {m}")),
        other => other,
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
    let info = DocumentInfo {
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
    };
    let doc = Document { info, content };
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

/// The CONFLICT of an edit made against a version that is no longer current.
pub fn version_conflict(expected: u32, current: u32) -> DomainError {
    DomainError::conflict(format!(
        "the document changed since version {expected}: it is at version {current} now; reload it and edit again"
    ))
}

/// A content edit worked out from the current text and a snapshot of the entities' spans:
/// the new content indexed, its version, and where each entity of the snapshot lands.
/// [`carry`](Self::carry) then applies it to the entities as stored when the edit commits.
#[derive(Debug)]
pub struct ContentPlan {
    pub edit: ContentEdit,
    /// The new version; its diff summary gets the entity figures in `carry`.
    version: DocumentVersion,
    remap: Remap,
    /// Each snapshot entity: its placement in the old text, and in the new (None: dropped).
    planned: HashMap<EntityId, (Placement, Option<Placement>)>,
}

/// Spans in reading order, so mapping them (which decides which of two spans on a repeated
/// text keeps it) does not depend on the order the store lists them in.
fn in_reading_order(spans: &mut [StoredSpan]) {
    spans.sort_by_key(|s| (s.start, s.end, s.id));
}

impl ContentPlan {
    /// Diffs the old text against `content`, indexes the new text and places every entity of
    /// the snapshot in both texts (what is stored is what the old text gives, so a placement
    /// that comes out the same needs no write).
    pub fn prepare(
        head: &DocumentHead,
        old: &Arc<DocumentText>,
        mut snapshot: Vec<StoredSpan>,
        content: String,
        change_summary: Option<String>,
        by: crate::ids::UserId,
    ) -> DomainResult<Self> {
        let text = DocumentText::new(content.as_str());
        text.index_words();
        let remap = Remap::with_offsets(old.text(), &content, text.offsets().clone(), text::remap::DIFF_TIMEOUT);
        in_reading_order(&mut snapshot);
        let spans: Vec<(u32, u32)> = snapshot.iter().map(|s| (s.start, s.end)).collect();
        let mut planned = HashMap::with_capacity(snapshot.len());
        for (s, mapped) in snapshot.iter().zip(remap.map_spans(&spans)) {
            let was = Placement::new(s.id, (s.start, s.end), span_context(old, s.start, s.end)?);
            let new = match mapped {
                Some(span) => Some(Placement::new(s.id, span, span_context(&text, span.0, span.1)?)),
                None => None,
            };
            planned.insert(s.id, (was, new));
        }
        let now = Utc::now();
        let diff = remap.summary();
        let hash = content_hash(&content);
        let version = DocumentVersion {
            id: VersionId::new(),
            document_id: head.id,
            version_number: head.current_version + 1,
            content_hash: hash.clone(),
            change_summary,
            changed_by: Some(by),
            changed_at: now,
            diff_summary: json!({
                "linesAdded": diff.lines_added,
                "linesRemoved": diff.lines_removed,
                "charsAdded": diff.chars_added,
                "charsRemoved": diff.chars_removed,
            }),
            unified_diff: text::unified_diff(old.text(), &content),
            content,
        };
        let edit = ContentEdit {
            document: head.id,
            project: head.project_id,
            expected_version: head.current_version,
            metrics: text.metrics(),
            text: Arc::new(text),
            previous: Arc::clone(old),
            content_hash: hash,
            by,
            at: now,
        };
        Ok(Self { edit, version, remap, planned })
    }

    /// What the edit does to the entities as stored now: those of the snapshot as planned
    /// (written only where their placement changed), and any added or moved since the
    /// snapshot placed anew. Every span is mapped together, as in the snapshot.
    pub fn carry(self, mut stored: Vec<StoredSpan>) -> DomainResult<CarriedEntities> {
        in_reading_order(&mut stored);
        let unchanged_since_snapshot = stored.len() == self.planned.len()
            && stored
                .iter()
                .all(|s| self.planned.get(&s.id).is_some_and(|(was, _)| (was.start, was.end) == (s.start, s.end)));
        let mapped: Vec<Option<(u32, u32)>> = if unchanged_since_snapshot {
            stored.iter().map(|s| self.planned[&s.id].1.as_ref().map(|p| (p.start, p.end))).collect()
        } else {
            let spans: Vec<(u32, u32)> = stored.iter().map(|s| (s.start, s.end)).collect();
            self.remap.map_spans(&spans)
        };
        let text = &self.edit.text;
        let (mut fates, mut dropped, mut moved, mut unchanged) = (Vec::new(), Vec::new(), 0u32, 0u32);
        for (s, mapped) in stored.iter().zip(mapped) {
            let Some(span) = mapped else {
                dropped.push(s.id);
                fates.push(Fate::Stays);
                continue;
            };
            if span == (s.start, s.end) {
                unchanged += 1;
            } else {
                moved += 1;
            }
            fates.push(match self.planned.get(&s.id) {
                // As planned: written only if something about its place changed.
                Some((was, Some(new))) if (was.start, was.end) == (s.start, s.end) && (new.start, new.end) == span => {
                    if was == new {
                        Fate::Stays
                    } else {
                        match PlacementDelta::between(was, new) {
                            Some(by) => Fate::Shifted(by, new.clone()),
                            None => Fate::Rewrite(new.clone()),
                        }
                    }
                }
                // Added or moved since the snapshot (or mapped otherwise among new spans).
                _ => Fate::Rewrite(Placement::new(s.id, span, span_context(text, span.0, span.1)?)),
            });
        }
        let (rewrite, shifts) = shifts_and_rewrites(&stored, fates);
        let mut version = self.version;
        version.diff_summary["entitiesMoved"] = json!(moved);
        version.diff_summary["entitiesUnchanged"] = json!(unchanged);
        version.diff_summary["entitiesDropped"] = json!(dropped.len());
        Ok(CarriedEntities { rewrite, shifts, dropped, version })
    }
}

/// A run shorter than this is written entity by entity (with the placements that change):
/// a shift is worth its own statement only for many entities.
const MIN_SHIFT_RUN: usize = 16;

/// What an edit does to one stored entity.
enum Fate {
    /// Its placement stays (or it is dropped: `dropped` says which).
    Stays,
    /// It gets a new placement.
    Rewrite(Placement),
    /// It moves by a delta, its text and contexts unchanged (its new placement, should it be
    /// written after all).
    Shifted(PlacementDelta, Placement),
}

/// Groups the shifted entities, in reading order (`stored` is in it), into runs of the same
/// delta with no other entity between them; short runs are written as placements. When a
/// shifted entity would land on a span some entity holds now, no run is shifted (one UPDATE
/// moving a range could pass through the unique index's forbidden states): all are written
/// as placements, which the store orders safely.
fn shifts_and_rewrites(stored: &[StoredSpan], fates: Vec<Fate>) -> (Vec<Placement>, Vec<Shift>) {
    let cursor = |s: &StoredSpan| EntityCursor { start: s.start, end: s.end, id: s.id };
    let mut rewrite = Vec::new();
    let mut runs: Vec<(Shift, Vec<Placement>)> = Vec::new();
    let mut open: Option<(Shift, Vec<Placement>)> = None;
    let mut close = |open: &mut Option<(Shift, Vec<Placement>)>, rewrite: &mut Vec<Placement>| {
        if let Some((shift, members)) = open.take() {
            if members.len() >= MIN_SHIFT_RUN {
                runs.push((shift, members));
            } else {
                rewrite.extend(members);
            }
        }
    };
    for (s, fate) in stored.iter().zip(fates) {
        match fate {
            Fate::Shifted(by, new) => match &mut open {
                Some((shift, members)) if shift.by == by => {
                    shift.last = cursor(s);
                    members.push(new);
                }
                _ => {
                    close(&mut open, &mut rewrite);
                    open = Some((Shift { first: cursor(s), last: cursor(s), by }, vec![new]));
                }
            },
            Fate::Rewrite(new) => {
                close(&mut open, &mut rewrite);
                rewrite.push(new);
            }
            Fate::Stays => close(&mut open, &mut rewrite),
        }
    }
    close(&mut open, &mut rewrite);
    let held: HashSet<(u32, u32)> = stored.iter().map(|s| (s.start, s.end)).collect();
    let lands_on_held = runs.iter().flat_map(|(_, members)| members).any(|p| held.contains(&(p.start, p.end)));
    if lands_on_held {
        rewrite.extend(runs.into_iter().flat_map(|(_, members)| members));
        return (rewrite, Vec::new());
    }
    (rewrite, runs.into_iter().map(|(shift, _)| shift).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    fn head(content: &str) -> DocumentHead {
        let fields = InitialFields { title: "t".into(), language: "ur".into(), direction: None, tags: vec![] };
        new_document(ProjectId::new(), fields, content.into(), FileInfo::default(), UserId::new()).0.head()
    }

    fn prepare(old: &str, snapshot: &[Placement], new: String) -> ContentPlan {
        let spans = snapshot.iter().map(stored).collect();
        ContentPlan::prepare(&head(old), &Arc::new(DocumentText::new(old)), spans, new, None, UserId::new()).unwrap()
    }

    /// Placements of `words` in `content`, as a store would hold them.
    fn placed(content: &str, words: &[&str]) -> Vec<Placement> {
        let text = DocumentText::new(content);
        words
            .iter()
            .map(|w| {
                let byte = content.find(w).unwrap();
                let start = content[..byte].chars().count() as u32;
                let span = (start, start + w.chars().count() as u32);
                Placement::new(EntityId::new(), span, span_context(&text, span.0, span.1).unwrap())
            })
            .collect()
    }

    fn stored(p: &Placement) -> StoredSpan {
        StoredSpan { id: p.id, layer: crate::rounds::Layer::Curated, start: p.start, end: p.end, is_verified: false }
    }

    #[test]
    fn carrying_writes_only_changed_placements_and_places_late_entities() {
        let old = format!("حسین ابن علی\n{}\nعباس فرات پر\n", "ب ".repeat(40));
        let new = old.replace("عباس", "حضرت عباس");
        let snapshot = placed(&old, &["حسین", "عباس", "فرات"]);
        let plan = prepare(&old, &snapshot, new.clone());
        // Since the snapshot, another writer added "علی" and deleted "حسین".
        let late = placed(&old, &["علی"]).remove(0);
        let now: Vec<StoredSpan> = [&snapshot[1], &snapshot[2], &late].into_iter().map(stored).collect();
        let carried = plan.carry(now).unwrap();
        assert!(carried.dropped.is_empty());
        let text = DocumentText::new(new.as_str());
        let mut rewritten: Vec<(EntityId, String)> =
            carried.rewrite.iter().map(|p| (p.id, text.slice(p.start, p.end).unwrap().to_owned())).collect();
        rewritten.sort();
        let mut expected = vec![(snapshot[1].id, "عباس".to_owned()), (snapshot[2].id, "فرات".to_owned())];
        // "علی" did not move and its context is far from the edit, but it was not in the
        // snapshot, so it is placed (and written) anew.
        expected.push((late.id, "علی".to_owned()));
        expected.sort();
        assert_eq!(rewritten, expected);
        for p in &carried.rewrite {
            let fresh = Placement::new(p.id, (p.start, p.end), span_context(&text, p.start, p.end).unwrap());
            assert_eq!(*p, fresh, "a written placement is the one the new text gives");
        }
        assert_eq!(carried.version.diff_summary["entitiesMoved"], 2);
        assert_eq!(carried.version.diff_summary["entitiesUnchanged"], 1);
        assert_eq!(carried.version.diff_summary["entitiesDropped"], 0);
    }

    #[test]
    fn an_unchanged_snapshot_is_carried_as_planned() {
        let old = format!("حسین ابن علی\n{}\nعباس فرات پر\n", "ب ".repeat(40));
        let new = old.replace("فرات", "فراط");
        let snapshot = placed(&old, &["حسین", "علی", "عباس", "فرات"]);
        let plan = prepare(&old, &snapshot, new);
        let carried = plan.carry(snapshot.iter().map(stored).collect()).unwrap();
        assert_eq!(carried.dropped, [snapshot[3].id]);
        // "عباس" keeps its span but its context changed; the first line is far from the edit.
        let ids: Vec<EntityId> = carried.rewrite.iter().map(|p| p.id).collect();
        assert_eq!(ids, [snapshot[2].id]);
        assert_eq!(carried.version.diff_summary["entitiesUnchanged"], 3);
    }
}
