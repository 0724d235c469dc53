//! The knowledge base as researchers use it: entries made, edited (naming the version edited),
//! approved by managers, merged and deleted; links between entries; mentions linked to
//! entries one by one or all that match at once; candidates for a text; co-occurrence; the
//! knowledge base exported. Reading needs read access to the project; every change needs the
//! edit-entities permission, approval the edit-project permission (OWNER and ADMIN, the
//! project's managers); exporting needs the export permission.

use crate::events::{ActivityEvent, ActivityKind, DomainEvent, EventPublisher, NoEvents};
use std::collections::{HashMap, HashSet};

use chrono::Utc;
use serde_json::{Value, json};

use crate::audit::{AuditEntry, RequestMeta};
use crate::entity::Entity;
use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, EntityId, EntityTypeId, KnowledgeItemId, KnowledgeLinkId, ProjectId};
use crate::knowledge::cooccurrence::{Pair, Unit, cooccurrence};
use crate::knowledge::export::{ExportItem, KnowledgeFormat};
use crate::knowledge::index::Candidate;
use crate::knowledge::proposal::{Proposal, ProposalKind};
use crate::knowledge::{
    ExternalIds, KnowledgeContent, KnowledgeItem, KnowledgeLink, LinkType, MAX_MERGE_SOURCES, VersionAction,
    check_link, check_version, merged_content, validate_strength,
};
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{
    AuditRepository, DocumentRepository, EntityRepository, EntityTypeRepository, KnowledgeFilter, KnowledgeRepository,
    MergePlan, Page, PageRequest, ProjectRepository, ProposalEffect, ProposalFilter, RelationshipRepository,
    ReviewContext, UserRepository,
};
use crate::project::Project;
use crate::service::entities::Entities;
use crate::service::projects::{ProjectRef, Projects};

/// Longest text `knowledgeCandidates` and `knowledgeItems(search)` take, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most candidates one call answers.
pub const MAX_CANDIDATES: usize = 50;
/// Candidates answered when `first` is not given.
pub const DEFAULT_CANDIDATES: usize = 10;
/// Most entries or documents `linkMatchingMentions` may be narrowed to.
pub const MAX_LINK_SCOPE: usize = 1000;

/// External identifiers as a client sends them.
#[derive(Debug, Clone, Default)]
pub struct RawExternalIds {
    pub wikidata: Option<String>,
    pub viaf: Option<String>,
    pub geonames: Option<String>,
}

impl RawExternalIds {
    fn validated(self) -> DomainResult<ExternalIds> {
        ExternalIds::new(self.wikidata, self.viaf, self.geonames)
    }
}

/// An entry as a client asks for it.
#[derive(Debug, Clone)]
pub struct NewKnowledgeItem {
    pub project_id: ProjectId,
    pub entity_type_id: EntityTypeId,
    pub name: String,
    pub aliases: Vec<String>,
    pub description: Option<String>,
    pub external_ids: RawExternalIds,
    pub attributes: Option<Value>,
}

/// Changes to an entry; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct KnowledgePatch {
    pub name: Option<String>,
    pub entity_type_id: Option<EntityTypeId>,
    /// The whole new list.
    pub aliases: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    /// The whole new set.
    pub external_ids: Option<RawExternalIds>,
    pub attributes: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct NewKnowledgeLink {
    pub from: KnowledgeItemId,
    pub to: KnowledgeItemId,
    pub kind: LinkType,
    pub strength: Option<f64>,
}

/// What `linkMatchingMentions` looks at.
#[derive(Debug, Clone, Default)]
pub struct MatchScope {
    /// Only mentions that match these entries.
    pub items: Option<Vec<KnowledgeItemId>>,
    /// Only mentions in these documents.
    pub documents: Option<Vec<DocumentId>>,
    /// Only approved entries.
    pub approved_only: bool,
}

/// What `linkMatchingMentions` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchReport {
    /// Unlinked mentions looked at.
    pub examined: u32,
    /// Mentions linked.
    pub linked: u32,
    /// Mentions whose text names more than one entry of their type: left for a researcher.
    pub ambiguous: u32,
    /// The entries mentions were linked to.
    pub items: Vec<KnowledgeItemId>,
}

pub struct Knowledge<'a, S, E> {
    pub store: &'a S,
    /// Where a mention linked or unlinked is announced to its document's viewers.
    pub events: &'a E,
}

/// Most steps followed from a merged entry to the one it lives on in.
const MAX_MERGE_HOPS: usize = 32;

fn not_found() -> DomainError {
    DomainError::NotFound { resource: "knowledge item" }
}

impl<S, E> Knowledge<'_, S, E>
where
    E: EventPublisher,
    S: KnowledgeRepository
        + ProjectRepository
        + DocumentRepository
        + EntityRepository
        + EntityTypeRepository
        + RelationshipRepository
        + UserRepository
        + AuditRepository
        + crate::ports::AssignmentRepository,
{
    /// Reads only (access checks): nothing is published through them.
    fn projects(&self) -> Projects<'_, S, NoEvents> {
        Projects { store: self.store, events: &NoEvents }
    }

    /// Reads only (an entity and the caller's access to it).
    fn entities(&self) -> Entities<'_, S, NoEvents> {
        Entities { store: self.store, events: &NoEvents }
    }

    /// The project and the caller's access; NOT_FOUND when they may not read it.
    pub async fn project(&self, actor: Option<&Actor>, id: ProjectId) -> DomainResult<(Project, ProjectAccess)> {
        self.projects().find(actor, ProjectRef::Id(id)).await?.ok_or(DomainError::NotFound { resource: "project" })
    }

    async fn access_to(&self, actor: Option<&Actor>, item: &KnowledgeItem) -> DomainResult<ProjectAccess> {
        let (_, access) = self.project(actor, item.project_id).await.map_err(|_| not_found())?;
        Ok(access)
    }

    /// An entry the caller may read. The id of an entry merged into another names that one
    /// (so links kept from before a merge still lead somewhere); a deleted entry is NOT_FOUND.
    pub async fn find(
        &self,
        actor: Option<&Actor>,
        id: KnowledgeItemId,
    ) -> DomainResult<(KnowledgeItem, ProjectAccess)> {
        let mut item = self.store.item_by_id(id).await?.ok_or_else(not_found)?;
        for _ in 0..MAX_MERGE_HOPS {
            match item.merged_into {
                Some(next) => item = self.store.item_by_id(next).await?.ok_or_else(not_found)?,
                None => break,
            }
        }
        if !item.is_live() {
            return Err(not_found());
        }
        let access = self.access_to(actor, &item).await?;
        Ok((item, access))
    }

    /// A live entry the caller may change (with the edit-entities permission), and whether the
    /// caller is one of the project's managers.
    async fn editable(&self, actor: &Actor, id: KnowledgeItemId) -> DomainResult<(KnowledgeItem, bool)> {
        let item = self.store.item_by_id(id).await?.ok_or_else(not_found)?;
        let access = self.access_to(Some(actor), &item).await?;
        access.require(Permission::EditEntities)?;
        if let Some(into) = item.merged_into {
            return Err(DomainError::conflict(format!("the entry was merged into {into}; change that one")));
        }
        if item.deleted_at.is_some() {
            return Err(not_found());
        }
        Ok((item, access.permissions.allows(Permission::EditProject)))
    }

    /// An active entity type for an entry.
    async fn usable_type(&self, id: EntityTypeId) -> DomainResult<()> {
        let t = self
            .store
            .entity_types_by_ids(&[id])
            .await?
            .pop()
            .ok_or_else(|| DomainError::invalid("entityTypeId", "no such entity type"))?;
        if !t.is_active {
            return Err(DomainError::invalid("entityTypeId", format!("the entity type {} is inactive", t.name)));
        }
        Ok(())
    }

    /// A project's live entries, in creation order; with a search text, those with a name or
    /// alias containing it under folding.
    pub async fn list(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
        search: Option<&str>,
        mut filter: KnowledgeFilter,
        page: PageRequest,
    ) -> DomainResult<Page<KnowledgeItem>> {
        self.project(actor, project).await?;
        if let Some(text) = search.map(str::trim).filter(|s| !s.is_empty()) {
            check_query(text, "search")?;
            let text = text.to_owned();
            let (t, a) = (filter.entity_type_id, filter.approved);
            let ids = self.store.with_candidate_index(project, move |index| index.search(&text, t, a)).await?;
            filter.ids = Some(ids);
        }
        self.store.items_of_project(project, &filter, page).await
    }

    pub async fn create(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        input: NewKnowledgeItem,
    ) -> DomainResult<KnowledgeItem> {
        let (project, access) = self.project(Some(actor), input.project_id).await?;
        access.require(Permission::EditEntities)?;
        self.usable_type(input.entity_type_id).await?;
        let content = KnowledgeContent::new(
            &input.name,
            input.entity_type_id,
            input.aliases,
            input.description,
            input.external_ids.validated()?,
            input.attributes,
        )?;
        let item = KnowledgeItem::new(project.id, content, actor.user_id, Utc::now());
        let version = item.snapshot(VersionAction::Create, json!({}));
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_item.create", "knowledge_item")
            .resource(item.id, &item.content.name)
            .project(project.id)
            .changes(json!({"name": item.content.name, "aliases": item.content.aliases, "entityTypeId": item.content.entity_type_id}));
        self.store.create_item(item, version, None, audit).await
    }

    /// Changes an entry made from version `expected_version`: CONFLICT when it has changed
    /// since. A change of content by a researcher withdraws the entry's approval.
    pub async fn update(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: KnowledgeItemId,
        patch: KnowledgePatch,
        expected_version: u32,
    ) -> DomainResult<KnowledgeItem> {
        let (item, is_manager) = self.editable(actor, id).await?;
        if let Some(t) = patch.entity_type_id {
            self.usable_type(t).await?;
        }
        // Validated before the transaction; applied to the entry as stored inside it.
        let external_ids = patch.external_ids.clone().map(RawExternalIds::validated).transpose()?;
        let changed: Vec<&str> = [
            ("name", patch.name.is_some()),
            ("entityTypeId", patch.entity_type_id.is_some()),
            ("aliases", patch.aliases.is_some()),
            ("description", patch.description.is_some()),
            ("externalIds", patch.external_ids.is_some()),
            ("attributes", patch.attributes.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_item.update", "knowledge_item")
            .resource(item.id, &item.content.name)
            .project(item.project_id)
            .changes(json!({"fields": changed, "expectedVersion": expected_version}));
        let by = actor.user_id;
        let details = json!({"fields": changed});
        let change = Box::new(move |mut item: KnowledgeItem| {
            check_version(&item, expected_version)?;
            let c = &item.content;
            let content = KnowledgeContent::new(
                patch.name.as_deref().unwrap_or(&c.name),
                patch.entity_type_id.unwrap_or(c.entity_type_id),
                patch.aliases.unwrap_or_else(|| c.aliases.clone()),
                patch.description.unwrap_or_else(|| c.description.clone()),
                external_ids.unwrap_or_else(|| c.external_ids.clone()),
                Some(patch.attributes.unwrap_or_else(|| c.attributes.clone())),
            )?;
            item.change(content, by, is_manager, Utc::now());
            let version = item.snapshot(VersionAction::Update, details);
            Ok((item, version))
        });
        self.store.change_item(id, change, audit).await
    }

    /// Approves an entry (managers only): who and when are recorded, in a new version.
    pub async fn approve(&self, meta: &RequestMeta, actor: &Actor, id: KnowledgeItemId) -> DomainResult<KnowledgeItem> {
        let (item, is_manager) = self.editable(actor, id).await?;
        if !is_manager {
            return Err(DomainError::forbidden("only the project's owners and admins may approve entries"));
        }
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_item.approve", "knowledge_item")
            .resource(item.id, &item.content.name)
            .project(item.project_id)
            .changes(json!({"fromVersion": item.version}));
        let by = actor.user_id;
        let change = Box::new(move |mut item: KnowledgeItem| {
            item.approve(by, Utc::now());
            let version = item.snapshot(VersionAction::Approve, json!({}));
            Ok((item, version))
        });
        self.store.change_item(id, change, audit).await
    }

    /// Merges duplicates into one entry: their mentions, names (as aliases) and links go to
    /// the target; they stop being entries of their own, their versions stay.
    pub async fn merge(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        target: KnowledgeItemId,
        sources: Vec<KnowledgeItemId>,
    ) -> DomainResult<KnowledgeItem> {
        if sources.is_empty() {
            return Err(DomainError::invalid("sourceIds", "name at least one entry to merge"));
        }
        if sources.len() > MAX_MERGE_SOURCES {
            return Err(DomainError::invalid("sourceIds", format!("at most {MAX_MERGE_SOURCES} entries at once")));
        }
        if sources.contains(&target) {
            return Err(DomainError::invalid("sourceIds", "an entry cannot be merged into itself"));
        }
        let sources: Vec<KnowledgeItemId> = {
            let mut seen = HashSet::new();
            sources.into_iter().filter(|s| seen.insert(*s)).collect()
        };
        let (item, is_manager) = self.editable(actor, target).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_item.merge", "knowledge_item")
            .resource(item.id, &item.content.name)
            .project(item.project_id)
            .changes(json!({"sources": sources, "count": sources.len()}));
        let by = actor.user_id;
        let plan = Box::new(move |target: KnowledgeItem, found: Vec<KnowledgeItem>| {
            plan_merge(target, found, by, is_manager, Utc::now())
        });
        self.store.merge_items(target, &sources, plan, audit).await
    }

    /// Deletes an entry: its mentions are unlinked; its versions stay. Returns how many
    /// mentions were unlinked.
    pub async fn delete(&self, meta: &RequestMeta, actor: &Actor, id: KnowledgeItemId) -> DomainResult<u64> {
        let (item, _) = self.editable(actor, id).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_item.delete", "knowledge_item")
            .resource(item.id, &item.content.name)
            .project(item.project_id)
            .changes(json!({"version": item.version}));
        let by = actor.user_id;
        let change = Box::new(move |mut item: KnowledgeItem| {
            let now = Utc::now();
            item.deleted_at = Some(now);
            item.version += 1;
            item.updated_by = Some(by);
            item.updated_at = now;
            let v = item.snapshot(VersionAction::Delete, json!({}));
            Ok((item, v))
        });
        self.store.delete_item(id, change, audit).await
    }

    /// Links one entry to another of its project (edit-entities permission on both).
    pub async fn relate(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        input: NewKnowledgeLink,
    ) -> DomainResult<KnowledgeLink> {
        let (from, _) = self.editable(actor, input.from).await?;
        let (to, _) = self.editable(actor, input.to).await.map_err(|e| match e {
            DomainError::NotFound { .. } => DomainError::invalid("toId", "no such entry"),
            other => other,
        })?;
        check_link(&from, &to)?;
        let link = KnowledgeLink {
            id: KnowledgeLinkId::new(),
            project_id: from.project_id,
            from: from.id,
            to: to.id,
            kind: input.kind,
            strength: validate_strength(input.strength)?,
            created_by: Some(actor.user_id),
            created_at: Utc::now(),
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_link.create", "knowledge_link")
            .resource(link.id, link.kind.as_str())
            .project(link.project_id)
            .changes(json!({"from": from.id, "to": to.id, "type": link.kind.as_str(), "strength": link.strength}));
        self.store.create_link(link, audit).await
    }

    pub async fn unrelate(&self, meta: &RequestMeta, actor: &Actor, id: KnowledgeLinkId) -> DomainResult<()> {
        let link_not_found = || DomainError::NotFound { resource: "knowledge link" };
        let link = self.store.link_by_id(id).await?.ok_or_else(link_not_found)?;
        let (project, access) = self.project(Some(actor), link.project_id).await.map_err(|_| link_not_found())?;
        access.require(Permission::EditEntities)?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_link.delete", "knowledge_link")
            .resource(link.id, link.kind.as_str())
            .project(project.id)
            .changes(json!({"from": link.from, "to": link.to, "type": link.kind.as_str()}));
        self.store.delete_link(id, audit).await
    }

    /// An entity the caller may edit.
    async fn editable_entity(&self, actor: &Actor, id: EntityId) -> DomainResult<Entity> {
        let (entity, access) = self.entities().find(Some(actor), id).await?;
        access.require(Permission::EditEntities)?;
        Ok(entity)
    }

    /// Links a mention to an entry of its project (replacing the entry it was linked to).
    pub async fn link(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        entity: EntityId,
        item: KnowledgeItemId,
    ) -> DomainResult<Entity> {
        let e = self.editable_entity(actor, entity).await?;
        let (item, _) = self.editable(actor, item).await.map_err(|e| match e {
            DomainError::NotFound { .. } => DomainError::invalid("itemId", "no such entry"),
            other => other,
        })?;
        if item.project_id != e.project_id {
            return Err(DomainError::invalid("itemId", "the entry belongs to another project than the entity"));
        }
        let audit = AuditEntry::new(meta, Some(actor.user_id), "entity.link", "entity")
            .resource(e.id, &e.text)
            .project(e.project_id)
            .changes(json!({"itemId": item.id, "item": item.content.name, "documentId": e.document_id}));
        self.store.link_mentions(&[(e.id, item.id)], false, audit).await.map_err(|err| match err {
            DomainError::NotFound { resource: "knowledge item" } => DomainError::invalid("itemId", "no such entry"),
            other => other,
        })?;
        self.announce(&e, actor);
        Ok(e)
    }

    /// Tells the mention's document's viewers that the mention changed (after the commit).
    fn announce(&self, e: &Entity, actor: &Actor) {
        let event = ActivityEvent::new(e.document_id, ActivityKind::EntityUpdated, &[e.id], Some(actor.user_id));
        self.events.publish(DomainEvent::DocumentActivity(event));
    }

    pub async fn unlink(&self, meta: &RequestMeta, actor: &Actor, entity: EntityId) -> DomainResult<Entity> {
        let e = self.editable_entity(actor, entity).await?;
        let was = self.store.entity_items(&[e.id]).await?.get(&e.id).copied();
        let audit = AuditEntry::new(meta, Some(actor.user_id), "entity.unlink", "entity")
            .resource(e.id, &e.text)
            .project(e.project_id)
            .changes(json!({"itemId": was, "documentId": e.document_id}));
        self.store.unlink_mentions(&[e.id], audit).await?;
        self.announce(&e, actor);
        Ok(e)
    }

    /// Makes an entry from a mention (its text the name unless one is given, its type the
    /// entity's) and links the mention to it, in one step. CONFLICT when the mention is linked
    /// already.
    pub async fn create_from_entity(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        entity: EntityId,
        name: Option<String>,
    ) -> DomainResult<KnowledgeItem> {
        let e = self.editable_entity(actor, entity).await?;
        if let Some(item) = self.store.entity_items(&[e.id]).await?.get(&e.id) {
            return Err(DomainError::conflict(format!(
                "the entity is linked to entry {item} already; unlink it first"
            )));
        }
        let name = name.unwrap_or_else(|| e.text.clone());
        let content =
            KnowledgeContent::new(&name, e.entity_type_id, vec![e.text.clone()], None, ExternalIds::default(), None)?;
        let item = KnowledgeItem::new(e.project_id, content, actor.user_id, Utc::now());
        let version = item.snapshot(VersionAction::Create, json!({"fromEntity": e.id}));
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_item.create_from_entity", "knowledge_item")
            .resource(item.id, &item.content.name)
            .project(e.project_id)
            .changes(json!({"entityId": e.id, "documentId": e.document_id, "name": item.content.name}));
        let created = self.store.create_item(item, version, Some(e.id), audit).await?;
        self.announce(&e, actor);
        Ok(created)
    }

    /// Links every unlinked mention whose text is, under folding, a name or alias of exactly
    /// one entry of the mention's type, in one transaction. A text naming several entries is
    /// left unlinked (counted as ambiguous).
    pub async fn link_matching(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        project: ProjectId,
        scope: MatchScope,
    ) -> DomainResult<MatchReport> {
        let (project, access) = self.project(Some(actor), project).await?;
        access.require(Permission::EditEntities)?;
        for (field, n) in [
            ("itemIds", scope.items.as_ref().map_or(0, Vec::len)),
            ("documentIds", scope.documents.as_ref().map_or(0, Vec::len)),
        ] {
            if n > MAX_LINK_SCOPE {
                return Err(DomainError::invalid(field, format!("at most {MAX_LINK_SCOPE} ids")));
            }
        }
        let unlinked = self.store.unlinked_entities(project.id, scope.documents.as_deref()).await?;
        let wanted: Option<HashSet<KnowledgeItemId>> = scope.items.clone().map(|v| v.into_iter().collect());
        let approved_only = scope.approved_only;
        let texts: Vec<(EntityId, String, EntityTypeId)> =
            unlinked.iter().map(|e| (e.id, e.text.clone(), e.entity_type_id)).collect();
        let (pairs, ambiguous) = self
            .store
            .with_candidate_index(project.id, move |index| {
                let mut pairs = Vec::new();
                let mut ambiguous = 0u32;
                for (entity, text, t) in texts {
                    let named: Vec<KnowledgeItemId> = index
                        .exact(&text, Some(t))
                        .into_iter()
                        .filter(|(id, approved)| {
                            (!approved_only || *approved) && wanted.as_ref().is_none_or(|w| w.contains(id))
                        })
                        .map(|(id, _)| id)
                        .collect();
                    match named.as_slice() {
                        [] => {}
                        [only] => pairs.push((entity, *only)),
                        _ => ambiguous += 1,
                    }
                }
                (pairs, ambiguous)
            })
            .await?;
        let mut report = MatchReport { examined: unlinked.len() as u32, ambiguous, ..Default::default() };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "entity.link_matching", "project")
            .resource(project.id, &project.name)
            .project(project.id)
            .changes(json!({"examined": report.examined, "matched": pairs.len(), "ambiguous": ambiguous}));
        let linked = self.store.link_mentions(&pairs, true, audit).await?;
        // Each document's viewers hear which of its mentions changed.
        let document_of: HashMap<EntityId, DocumentId> = unlinked.iter().map(|e| (e.id, e.document_id)).collect();
        let mut by_document: std::collections::BTreeMap<DocumentId, Vec<EntityId>> = Default::default();
        for id in &linked {
            if let Some(doc) = document_of.get(id) {
                by_document.entry(*doc).or_default().push(*id);
            }
        }
        for (doc, ids) in by_document {
            let event = ActivityEvent::new(doc, ActivityKind::EntityUpdated, &ids, Some(actor.user_id));
            self.events.publish(DomainEvent::DocumentActivity(event));
        }
        let by_entity: HashMap<EntityId, KnowledgeItemId> = pairs.into_iter().collect();
        let mut items: Vec<KnowledgeItemId> = linked.iter().filter_map(|e| by_entity.get(e).copied()).collect();
        items.sort();
        items.dedup();
        report.linked = linked.len() as u32;
        report.items = items;
        Ok(report)
    }

    /// The entries a text may name, best first (see `knowledge::index`).
    pub async fn candidates(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
        text: &str,
        entity_type: Option<EntityTypeId>,
        first: Option<usize>,
    ) -> DomainResult<Vec<Candidate>> {
        self.project(actor, project).await?;
        check_query(text, "text")?;
        let first = first.unwrap_or(DEFAULT_CANDIDATES);
        if first > MAX_CANDIDATES {
            return Err(DomainError::invalid("first", format!("must be at most {MAX_CANDIDATES}")));
        }
        let text = text.to_owned();
        self.store.with_candidate_index(project, move |index| index.candidates(&text, entity_type, first)).await
    }

    /// Which entries the project's texts name together in one line, stanza or document; the
    /// pairs appearing together at least `min_count` times, most frequent first.
    pub async fn cooccurrence(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
        unit: Unit,
        min_count: u32,
    ) -> DomainResult<Vec<Pair>> {
        self.project(actor, project).await?;
        let placements = self.store.placements(project).await?;
        Ok(cooccurrence(&placements, unit).into_iter().filter(|p| p.count >= min_count.max(1)).collect())
    }

    /// A project's proposals (read access), oldest first.
    pub async fn proposals(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
        filter: ProposalFilter,
        page: PageRequest,
    ) -> DomainResult<Page<Proposal>> {
        self.project(actor, project).await?;
        self.store.proposals(project, &filter, page).await
    }

    /// Approves or rejects proposals (edit-entities permission), in order, in one transaction:
    /// all of one project; CONFLICT (nothing written) when one was reviewed already or no
    /// longer applies.
    pub async fn review(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        ids: Vec<crate::ids::ProposalId>,
        approve: bool,
    ) -> DomainResult<Vec<Proposal>> {
        if ids.is_empty() || ids.len() > MAX_REVIEW {
            return Err(DomainError::invalid("ids", format!("review 1 to {MAX_REVIEW} proposals at once")));
        }
        let mut unique = HashSet::new();
        if !ids.iter().all(|id| unique.insert(*id)) {
            return Err(DomainError::invalid("ids", "a proposal is named twice"));
        }
        let found = self.store.proposals_by_ids(&ids).await?;
        let projects: HashSet<ProjectId> = found.iter().map(|p| p.project_id).collect();
        let not_found = || DomainError::NotFound { resource: "knowledge proposal" };
        if found.len() != ids.len() {
            return Err(not_found());
        }
        let [project] = projects.into_iter().collect::<Vec<_>>()[..] else {
            return Err(DomainError::invalid("ids", "review the proposals of one project at a time"));
        };
        let (project, access) = self.project(Some(actor), project).await.map_err(|_| not_found())?;
        access.require(Permission::EditEntities)?;
        let is_manager = access.permissions.allows(Permission::EditProject);
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_proposal.review", "knowledge_proposal")
            .project(project.id)
            .changes(json!({"ids": ids, "decision": if approve { "APPROVE" } else { "REJECT" }, "count": ids.len()}));
        let audit = match ids.as_slice() {
            [only] => audit.resource(only, found[0].kind.as_str()),
            _ => audit,
        };
        let by = actor.user_id;
        let decide = Box::new(move |p: Proposal, ctx: ReviewContext| {
            decide_proposal(p, ctx, approve, by, is_manager, Utc::now())
        });
        self.store.review_proposals(&ids, decide, audit).await
    }

    /// The project's knowledge base as a file (export permission; audited).
    pub async fn export(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        project: ProjectId,
        format: KnowledgeFormat,
    ) -> DomainResult<String> {
        let (project, access) = self.project(Some(actor), project).await?;
        access.require(Permission::ExportData)?;
        let all = PageRequest { offset: 0, limit: u64::MAX >> 1 };
        let items = self.store.items_of_project(project.id, &KnowledgeFilter::default(), all).await?.items;
        let ids: Vec<KnowledgeItemId> = items.iter().map(|i| i.id).collect();
        let counts = self.store.mention_counts(&ids).await?;
        let links = self.store.links_of(&ids, true).await?;
        let types: HashMap<EntityTypeId, String> =
            self.store.entity_types().await?.into_iter().map(|t| (t.id, t.name)).collect();
        let mut approvers: Vec<crate::ids::UserId> = items.iter().filter_map(|i| i.approved_by).collect();
        approvers.sort();
        approvers.dedup();
        let names: HashMap<_, _> =
            self.store.users_by_ids(&approvers).await?.into_iter().map(|u| (u.id, u.username)).collect();
        let export: Vec<ExportItem<'_>> = items
            .iter()
            .map(|i| ExportItem {
                item: i,
                type_name: types.get(&i.content.entity_type_id).cloned().unwrap_or_default(),
                mentions: counts.get(&i.id).copied().unwrap_or(0),
                approved_by: i.approved_by.and_then(|u| names.get(&u).cloned()),
                links: links.iter().filter(|l| l.from == i.id).collect(),
            })
            .collect();
        let data = crate::knowledge::export::write(format, &export);
        let audit = AuditEntry::new(meta, Some(actor.user_id), "knowledge_base.export", "project")
            .resource(project.id, &project.name)
            .project(project.id)
            .changes(json!({"format": format.as_str(), "items": items.len(), "bytes": data.len()}));
        self.store.record(audit).await?;
        Ok(data)
    }
}

/// Merges `found` into `target`: checks they are entries of its project and type, and makes
/// the target's new version and each source's last.
pub fn plan_merge(
    mut target: KnowledgeItem,
    found: Vec<KnowledgeItem>,
    by: crate::ids::UserId,
    is_manager: bool,
    now: chrono::DateTime<Utc>,
) -> DomainResult<MergePlan> {
    for s in &found {
        if s.project_id != target.project_id {
            return Err(DomainError::invalid("sourceIds", "every entry must belong to the target's project"));
        }
        if s.content.entity_type_id != target.content.entity_type_id {
            return Err(DomainError::invalid(
                "sourceIds",
                format!("{} is of another entity type than the target; only entries of one type merge", s.id),
            ));
        }
    }
    let contents: Vec<&KnowledgeContent> = found.iter().map(|s| &s.content).collect();
    let content = merged_content(&target.content, &contents);
    target.change(content, by, is_manager, now);
    let ids: Vec<KnowledgeItemId> = found.iter().map(|s| s.id).collect();
    let target_version = target.snapshot(VersionAction::Merge, json!({"mergedFrom": ids}));
    let sources = found
        .into_iter()
        .map(|mut s| {
            s.merged_into = Some(target.id);
            s.version += 1;
            s.updated_by = Some(by);
            s.updated_at = now;
            let v = s.snapshot(VersionAction::MergedInto, json!({"mergedInto": target.id}));
            (s, v)
        })
        .collect();
    Ok(MergePlan { target: (target, target_version), sources })
}

/// What approving (or rejecting) a proposal does, given what it names as stored: the reviewed
/// proposal and its change. CONFLICT when it was reviewed already, or when what it names has
/// changed so that it no longer applies (its entry merged or deleted, its mention deleted or
/// linked to another entry meanwhile).
pub fn decide_proposal(
    mut p: Proposal,
    ctx: ReviewContext,
    approve: bool,
    by: crate::ids::UserId,
    is_manager: bool,
    now: chrono::DateTime<Utc>,
) -> DomainResult<(Proposal, ProposalEffect)> {
    p.review(approve, by, now)?;
    if !approve {
        return Ok((p, ProposalEffect::Nothing));
    }
    let live =
        |id: Option<KnowledgeItemId>| -> DomainResult<KnowledgeItem> {
            let id = id.ok_or_else(|| DomainError::internal("a proposal without its entry"))?;
            ctx.items.get(&id).filter(|i| i.is_live()).cloned().ok_or_else(|| {
                DomainError::conflict(format!("the entry {id} was merged or deleted since the proposal"))
            })
        };
    // The mention to link, if it is still there and not linked to another entry.
    let mention = |to: Option<KnowledgeItemId>| -> DomainResult<Option<EntityId>> {
        match (&ctx.entity, p.entity_id) {
            (_, None) => Ok(None),
            (None, Some(_)) => Err(DomainError::conflict("the proposal's mention was deleted")),
            (Some((e, linked)), Some(_)) => match linked {
                Some(other) if Some(*other) != to => Err(DomainError::conflict(format!(
                    "the mention was linked to entry {other} meanwhile; unlink it first"
                ))),
                Some(_) => Ok(None),
                None => Ok(Some(e.id)),
            },
        }
    };
    let effect = match p.kind {
        ProposalKind::Link => {
            let item = live(p.item_id)?;
            match mention(Some(item.id))? {
                Some(entity) => ProposalEffect::Link { entity, item: item.id },
                None if p.entity_id.is_some() => ProposalEffect::Nothing, // linked so already
                None => return Err(DomainError::internal("a LINK proposal without its mention")),
            }
        }
        ProposalKind::NewItem => {
            let (e, _) =
                ctx.entity.clone().ok_or_else(|| DomainError::conflict("the proposal's mention was deleted"))?;
            let name = p.proposed_name.clone().unwrap_or_else(|| e.text.clone());
            let t = p.entity_type_id.unwrap_or(e.entity_type_id);
            let content = KnowledgeContent::new(&name, t, vec![e.text.clone()], None, ExternalIds::default(), None)?;
            let item = KnowledgeItem::new(p.project_id, content, by, now);
            let version = item.snapshot(VersionAction::Create, json!({"fromProposal": p.id}));
            let link = mention(None)?;
            p.result_item_id = Some(item.id);
            ProposalEffect::NewItem { item, version, link }
        }
        ProposalKind::NewAlias => {
            let mut item = live(p.item_id)?;
            let link = mention(Some(item.id))?;
            let mut content = item.content.clone();
            let alias = p.proposed_name.clone().unwrap_or_default();
            content.add_aliases([alias]);
            item.change(content, by, is_manager, now);
            let version =
                item.snapshot(VersionAction::AddAlias, json!({"fromProposal": p.id, "alias": p.proposed_name}));
            ProposalEffect::AddAlias { item, version, link }
        }
        ProposalKind::Merge => {
            let target = live(p.item_id)?;
            let source = live(p.source_item_id)?;
            ProposalEffect::Merge(plan_merge(target, vec![source], by, is_manager, now)?)
        }
    };
    Ok((p, effect))
}

/// Most proposals reviewed at once.
pub const MAX_REVIEW: usize = 100;

/// A search or candidate text: at most [`MAX_QUERY_CHARS`] characters.
fn check_query(text: &str, field: &str) -> DomainResult<()> {
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(DomainError::invalid(field, format!("must be at most {MAX_QUERY_CHARS} characters")));
    }
    Ok(())
}
