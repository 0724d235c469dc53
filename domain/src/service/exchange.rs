//! Import and export: exporting a document or a whole project (export permission, audited),
//! importing annotations into a document (edit-entities permission) and importing documents
//! with their annotations into a project (upload-documents permission). Imports are all or
//! nothing: any problem refuses the whole import with BAD_USER_INPUT naming the first problem;
//! a dry run stores nothing and lists every problem.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::document::Document;
use crate::entity_type::EntityType;
use crate::error::{DomainError, DomainResult};
use crate::events::{ActivityEvent, ActivityKind, DomainEvent, EventPublisher};
use crate::exchange::linked::{Linked, LinkedItem};
use crate::exchange::{
    self, ExportDocument, ExportEntity, Format, ImportIssue, ParsedDocument, conll, csv, inline_tags, jsonl,
};
use crate::ids::{DocumentId, EntityId, ProjectId, UserId};
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{
    AssignmentRepository, AuditRepository, DocumentRepository, EntityTypeRepository, ExchangeRepository,
    ImportedDocument, KnowledgeRepository, ProjectRepository, Scope, UserRepository,
};
use crate::relationship::RelationshipType;
use crate::rounds::{Layer, LayerRequest, reported_layer, writable_layer};
use crate::service::assignments::fills_from_models;
use crate::service::documents::{Documents, InitialFields, new_document};
use crate::service::projects::{ProjectRef, Projects};
use crate::text::{self, DocumentText};

/// How much larger than a document an import may be: tags, JSON and CSV columns add to it.
pub const IMPORT_SIZE_FACTOR: usize = 4;

/// What an import stored, or (for a dry run) would store.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Entities created.
    pub created: u32,
    /// Entities not created because the document already has them, or the data repeats them.
    pub skipped: u32,
    /// Spans refused (a dry run counts them; a real import with any is refused as a whole).
    pub rejected: u32,
    pub relationships_created: u32,
    /// Every problem found (a dry run; a refused import names the first in its error).
    pub issues: Vec<ImportIssue>,
    /// Documents created by `import_documents`.
    pub documents: Vec<Document>,
}

/// Import and export use cases. An import into a document publishes `ENTITIES_IMPORTED`
/// activity once committed (documents an import creates have no subscribers yet).
pub struct Exchange<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
    /// The largest document, in bytes; an import may be [`IMPORT_SIZE_FACTOR`] times larger.
    pub max_bytes: usize,
}

impl<S, E> Exchange<'_, S, E>
where
    S: ExchangeRepository
        + DocumentRepository
        + ProjectRepository
        + EntityTypeRepository
        + UserRepository
        + AuditRepository
        + KnowledgeRepository
        + AssignmentRepository,
    E: EventPublisher,
{
    fn projects(&self) -> Projects<'_, S, E> {
        Projects { store: self.store, events: self.events }
    }

    fn documents(&self) -> Documents<'_, S, E> {
        Documents { store: self.store, events: self.events, max_bytes: self.max_bytes }
    }

    /// The scope's project and the caller's access to it; NOT_FOUND when they may not read it.
    async fn access(&self, actor: &Actor, scope: Scope) -> DomainResult<(ProjectId, String, ProjectAccess)> {
        match scope {
            Scope::Document(id) => {
                let (doc, access) = self.documents().head_access(Some(actor), id).await?;
                Ok((doc.project_id, doc.title, access))
            }
            Scope::Project(id) => {
                let (project, access) = self
                    .projects()
                    .find(Some(actor), ProjectRef::Id(id))
                    .await?
                    .ok_or(DomainError::NotFound { resource: "project" })?;
                Ok((project.id, project.name, access))
            }
        }
    }

    /// Exports a document or a project in a format (the export permission), and records the
    /// export in the audit trail. It reads the curated layer unless `layer` names another: an
    /// annotator's own layer, or any layer for the project's managers ([`reported_layer`]).
    pub async fn export(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        scope: Scope,
        format: Format,
        verified_only: bool,
        layer: LayerRequest,
    ) -> DomainResult<String> {
        let (project, name, access) = self.access(actor, scope).await?;
        access.require(Permission::ExportData)?;
        let layer = if layer == LayerRequest::default() {
            Layer::Curated
        } else {
            let (p, _) = self
                .projects()
                .find(Some(actor), ProjectRef::Id(project))
                .await?
                .ok_or(DomainError::NotFound { resource: "project" })?;
            reported_layer(p.annotation_mode, &access, Some(actor.user_id), layer)?
        };
        let snapshot = self.store.snapshot(scope, layer, verified_only).await?;
        let types: HashMap<_, _> = self.store.entity_types().await?.into_iter().map(|t| (t.id, t.name)).collect();
        let mut verifiers: Vec<UserId> = snapshot.entities.iter().filter_map(|e| e.verified_by).collect();
        verifiers.sort_unstable();
        verifiers.dedup();
        let usernames: HashMap<UserId, String> =
            self.store.users_by_ids(&verifiers).await?.into_iter().map(|u| (u.id, u.username)).collect();
        let linked = if format.is_linked() { Some(self.linked(&snapshot, &types, &name).await?) } else { None };
        let mut by_document: HashMap<DocumentId, Vec<ExportEntity>> = HashMap::new();
        for e in snapshot.entities {
            by_document.entry(e.document_id).or_default().push(ExportEntity {
                id: e.id,
                type_name: types.get(&e.entity_type_id).cloned().unwrap_or_default(),
                start: e.start,
                end: e.end,
                line_number: e.line_number,
                confidence: e.confidence,
                source: e.source,
                verified: e.is_verified,
                verified_by: e.verified_by.and_then(|u| usernames.get(&u).cloned()),
                context_before: e.context_before,
                context_after: e.context_after,
                text: e.text,
            });
        }
        let relations: Vec<(EntityId, EntityId, RelationshipType)> =
            snapshot.relationships.iter().map(|r| (r.source, r.target, r.kind)).collect();
        let docs: Vec<ExportDocument> = snapshot
            .documents
            .iter()
            .map(|d| ExportDocument::new(d, by_document.remove(&d.id).unwrap_or_default(), &relations))
            .collect();
        let exported = match &linked {
            Some(linked) => exchange::export_linked(format, &docs, linked),
            None => exchange::export(format, &docs),
        };
        let (action, resource_type, resource) = match scope {
            Scope::Document(id) => ("document.export", "document", id.to_string()),
            Scope::Project(id) => ("project.export", "project", id.to_string()),
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), action, resource_type)
            .resource(resource, name)
            .project(project)
            .changes(json!({
                "format": format.as_str(),
                "verifiedOnly": verified_only,
                "layer": layer.key(),
                "documents": docs.len(),
                "entities": docs.iter().map(|d| d.entities.len()).sum::<usize>(),
                "omitted": exported.omitted,
                "bytes": exported.data.len(),
            }));
        self.store.record(audit).await?;
        Ok(exported.data)
    }

    /// The knowledge-base entries the snapshot's entities are linked to, for TEI and Web
    /// Annotation.
    async fn linked(
        &self,
        snapshot: &crate::ports::Snapshot,
        types: &HashMap<crate::ids::EntityTypeId, String>,
        title: &str,
    ) -> DomainResult<Linked> {
        let ids: Vec<EntityId> = snapshot.entities.iter().map(|e| e.id).collect();
        let links = self.store.entity_items(&ids).await?;
        let mut item_ids: Vec<_> = links.values().copied().collect();
        item_ids.sort();
        item_ids.dedup();
        let items = self
            .store
            .items_by_ids(&item_ids)
            .await?
            .into_iter()
            .filter(|i| i.is_live())
            .map(|item| {
                let type_name = types.get(&item.content.entity_type_id).cloned().unwrap_or_default();
                (item.id, LinkedItem { item, type_name })
            })
            .collect();
        let languages = snapshot.documents.iter().map(|d| (d.content_hash.clone(), d.language.clone())).collect();
        Ok(Linked { links, items, title: title.to_owned(), languages })
    }

    fn check_size(&self, data: &str) -> DomainResult<()> {
        let limit = self.max_bytes.saturating_mul(IMPORT_SIZE_FACTOR);
        if data.len() > limit {
            return Err(DomainError::invalid("data", format!("is larger than the limit of {limit} bytes")));
        }
        Ok(())
    }

    /// Imports annotations into a document (source IMPORT): the data's text must be the
    /// document's, every span valid; spans the document already has are skipped.
    pub async fn import_entities(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: DocumentId,
        format: Format,
        data: &str,
        dry_run: bool,
    ) -> DomainResult<ImportReport> {
        self.check_size(data)?;
        let (doc, access) = self.documents().find(Some(actor), id).await?;
        access.require(Permission::EditEntities)?;
        // The caller's layer, as for `createEntity`: an annotator of an INDEPENDENT project
        // imports into their own layer (claiming their assignment), a manager into the gold.
        let (project, _) = self
            .projects()
            .find(Some(actor), ProjectRef::Id(doc.project_id))
            .await?
            .ok_or(DomainError::NotFound { resource: "document" })?;
        let layer = writable_layer(project.annotation_mode, &access, actor.user_id, LayerRequest::default())?;
        let data = text::normalize_newlines(data);
        let (parsed, mut issues) = match format {
            Format::Jsonl => one_document(jsonl::parse(&data)),
            Format::InlineTags => one_document(inline_tags::parse(&data)),
            Format::Conll | Format::ConllCommented => conll::parse(&data, &doc.content),
            Format::Csv => csv::parse(&data),
            Format::Tei | Format::WebAnnotation => return Err(export_only(format)),
        };
        let types = self.store.entity_types().await?;
        let mut report = ImportReport { dry_run, ..Default::default() };
        let now = Utc::now();
        let mut plan = if issues.is_empty() {
            exchange::plan(&doc, &DocumentText::new(&doc.content), &parsed, &types, actor.user_id, now, &mut issues)
        } else {
            report.rejected = parsed.spans.len() as u32;
            Default::default()
        };
        report.rejected += plan.rejected;
        report.skipped = plan.repeated;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "entity.import", "document")
            .resource(doc.id, &doc.title)
            .project(doc.project_id)
            .changes(json!({"format": format.as_str(), "dryRun": dry_run, "spans": parsed.spans.len()}));
        for e in &mut plan.entities {
            e.layer = layer;
        }
        if dry_run {
            // The spans the layer written already has.
            let existing = self.store.snapshot(Scope::Document(doc.id), layer, false).await?.entities;
            let have: std::collections::HashSet<_> =
                existing.iter().map(|e| (e.start, e.end, e.entity_type_id)).collect();
            let already = plan.entities.iter().filter(|e| have.contains(&(e.start, e.end, e.entity_type_id))).count();
            report.created = (plan.entities.len() - already) as u32;
            report.skipped += already as u32;
            // At most: relationships the document has already are not counted out here.
            report.relationships_created = plan.relations.len() as u32;
            report.issues = issues;
            self.store.record(audit).await?;
            return Ok(report);
        }
        refuse_on(&issues)?;
        // The import's first start of the assignment may fill the layer with suggestions too.
        let fills = fills_from_models(self.store, project.id, project.pre_annotate, doc.id, layer).await?;
        let counts = self.store.import_entities(doc.id, layer, plan.entities, plan.relations, audit).await?;
        if counts.created > 0 || counts.relationships_created > 0 || fills {
            let mut event =
                ActivityEvent::new(doc.id, ActivityKind::EntitiesImported, &[], Some(actor.user_id)).in_layer(layer);
            event.count = counts.created;
            self.events.publish(DomainEvent::DocumentActivity(event));
        }
        report.created = counts.created;
        report.skipped += counts.skipped;
        report.relationships_created = counts.relationships_created;
        Ok(report)
    }

    /// Creates documents with their annotations in a project from JSONL (`{title, text,
    /// label?, ...}` per line) or inline-tagged text, in one transaction.
    pub async fn import_documents(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        project: ProjectId,
        format: Format,
        data: &str,
        dry_run: bool,
    ) -> DomainResult<ImportReport> {
        self.check_size(data)?;
        let (project, access) = self
            .projects()
            .find(Some(actor), ProjectRef::Id(project))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        access.require(Permission::UploadDocuments)?;
        let data = text::normalize_newlines(data);
        let (parsed, mut issues) = match format {
            Format::Jsonl => jsonl::parse(&data),
            Format::InlineTags => inline_tags::parse(&data),
            Format::Tei | Format::WebAnnotation => return Err(export_only(format)),
            Format::Conll | Format::ConllCommented | Format::Csv => {
                return Err(DomainError::invalid(
                    "format",
                    "importDocuments reads JSONL and INLINE_TAGS: CONLL, CONLL_COMMENTED and CSV files do not hold the whole text",
                ));
            }
        };
        if parsed.iter().any(|d| !d.spans.is_empty()) {
            access.require(Permission::EditEntities)?;
            // New documents' entities are the gold: in an INDEPENDENT project only a manager
            // imports them (FORBIDDEN for an annotator, who has no assignment of them yet).
            writable_layer(project.annotation_mode, &access, actor.user_id, LayerRequest::of(Layer::Curated))?;
        }
        if parsed.is_empty() && issues.is_empty() {
            issues.push(ImportIssue::new(1, "the data holds no document"));
        }
        let types = self.store.entity_types().await?;
        let mut report = ImportReport { dry_run, ..Default::default() };
        let mut planned = Vec::with_capacity(parsed.len());
        let mut seen: HashMap<String, u32> = HashMap::new();
        for p in &parsed {
            // PostgreSQL cannot store U+0000, and no text needs it: refused on every database.
            if [&p.title, &p.text].into_iter().flatten().any(|t| t.contains('\0')) {
                issues.push(ImportIssue::new(p.line, "the document holds U+0000 (NUL), which is not accepted"));
                report.rejected += p.spans.len() as u32;
                continue;
            }
            match self.plan_document(project.id, p, &types, actor.user_id, &mut seen, &mut issues) {
                Some((imported, repeated, rejected)) => {
                    report.skipped += repeated;
                    report.rejected += rejected;
                    planned.push(imported);
                }
                None => report.rejected += p.spans.len() as u32,
            }
        }
        let audit = AuditEntry::new(meta, Some(actor.user_id), "document.import", "project")
            .resource(project.id, &project.name)
            .project(project.id)
            .changes(json!({
                "format": format.as_str(),
                "dryRun": dry_run,
                "documents": planned.iter().map(|d| json!({"id": d.document.id, "title": d.document.title})).collect::<Vec<_>>(),
                "entities": planned.iter().map(|d| d.entities.len()).sum::<usize>(),
            }));
        report.created = planned.iter().map(|d| d.entities.len() as u32).sum();
        report.relationships_created = planned.iter().map(|d| d.relations.len() as u32).sum();
        if dry_run {
            report.issues = issues;
            self.store.record(audit).await?;
            return Ok(report);
        }
        refuse_on(&issues)?;
        report.documents = self.store.import_documents(planned, audit).await?;
        Ok(report)
    }

    /// One parsed document as a new document with its entities: `(document, spans repeated,
    /// spans rejected)`, or None (with issues) when the document itself is unusable.
    fn plan_document(
        &self,
        project: ProjectId,
        p: &ParsedDocument,
        types: &[EntityType],
        by: UserId,
        seen: &mut HashMap<String, u32>,
        issues: &mut Vec<ImportIssue>,
    ) -> Option<(ImportedDocument, u32, u32)> {
        let content = p.text.clone().unwrap_or_default();
        let mut refuse = |message: String| {
            issues.push(ImportIssue::new(p.line, message));
            None
        };
        if content.trim().is_empty() {
            return refuse("the text is empty".into());
        }
        if content.len() > self.max_bytes {
            return refuse(format!("the text is larger than the limit of {} bytes", self.max_bytes));
        }
        if let Some(first) = seen.insert(crate::document::content_hash(&content), p.line) {
            return refuse(format!("the same text as the document on line {first}"));
        }
        // Without a title, a poem goes by its first line, as Marsiyas are known.
        let title = p.title.clone().unwrap_or_else(|| {
            let first = content.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
            first.chars().take(100).collect()
        });
        let title = match crate::document::validate_title(&title) {
            Ok(t) => t,
            Err(e) => return refuse(e.to_string()),
        };
        let language = match crate::document::validate_language(p.language.as_deref().unwrap_or("ur")) {
            Ok(l) => l,
            Err(e) => return refuse(e.to_string()),
        };
        let fields = InitialFields { title, language, direction: p.direction, tags: vec![] };
        let (document, first_version) = new_document(project, fields, content, Default::default(), by);
        let text = DocumentText::new(&document.content);
        let plan = exchange::plan(&document, &text, p, types, by, document.created_at, issues);
        let (repeated, rejected) = (plan.repeated, plan.rejected);
        Some((
            ImportedDocument { document, first_version, entities: plan.entities, relations: plan.relations },
            repeated,
            rejected,
        ))
    }
}

/// The refusal to import a format that is only exported.
fn export_only(format: Format) -> DomainError {
    DomainError::invalid(
        "format",
        format!("{} is an export format; import JSONL, CONLL, INLINE_TAGS or CSV", format.as_str()),
    )
}

/// The one document of data that must hold one.
fn one_document((docs, mut issues): (Vec<ParsedDocument>, Vec<ImportIssue>)) -> (ParsedDocument, Vec<ImportIssue>) {
    if issues.is_empty() && docs.len() != 1 {
        let line = docs.get(1).map_or(1, |d| d.line);
        issues.push(ImportIssue::new(
            line,
            format!("the data holds {} documents; importEntities reads one (importDocuments reads many)", docs.len()),
        ));
    }
    (docs.into_iter().next().unwrap_or_default(), issues)
}

/// Refuses an import with problems: BAD_USER_INPUT on `data`, naming the first.
fn refuse_on(issues: &[ImportIssue]) -> DomainResult<()> {
    match issues {
        [] => Ok(()),
        [only] => Err(DomainError::invalid("data", only.to_string())),
        [first, rest @ ..] => Err(DomainError::invalid(
            "data",
            format!("{first} (and {} more problems; a dry run lists them all)", rest.len()),
        )),
    }
}
