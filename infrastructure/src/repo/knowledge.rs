//! The knowledge base's storage: entries and their versions, links between entries, and the
//! link of a mention to its entry (`entities.knowledge_item_id`, through the narrow `mention`
//! model, so the entity repository never writes it).
//!
//! Every write first raises the project's knowledge revision (an upsert of its one row in
//! `knowledge_revisions`), which on PostgreSQL locks that row until commit: a project's
//! knowledge writes happen one after another, and each reads the entries it changes after the
//! lock, so a stale `expectedVersion`, a merge racing a delete or a link to an entry being
//! merged cannot slip through. (SQLite has one writer anyway.) The revision also tells each
//! server's candidate index (`knowledge_index`) when it is stale.

use std::collections::{HashMap, HashSet};

use nishan_domain::audit::AuditEntry;
use nishan_domain::entity::Entity;
use nishan_domain::ids::ProposalId;
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, KnowledgeItemId, KnowledgeLinkId, ProjectId};
use nishan_domain::job::JobId;
use nishan_domain::knowledge::cooccurrence::Placement;
use nishan_domain::knowledge::index::CandidateIndex;
use nishan_domain::knowledge::proposal::{Proposal, ProposalCounts, ProposalKind, ProposalStatus};
use nishan_domain::knowledge::{
    ExternalIds, KnowledgeContent, KnowledgeItem, KnowledgeLink, KnowledgeVersion, LinkType, VersionAction,
};
use nishan_domain::ports::{
    ItemChange, ItemMerge, KnowledgeFilter, KnowledgeRepository, MergePlan, Page, PageRequest, ProposalDecide,
    ProposalEffect, ProposalFilter, ReviewContext,
};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::Order;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Store, audit, convert, internal, page_of};
use crate::entity::{annotation, knowledge_item, knowledge_item_version, knowledge_link, knowledge_proposal, mention};

/// Ids per `IN (...)` list.
const CHUNK: usize = 500;

fn not_found() -> DomainError {
    DomainError::NotFound { resource: "knowledge item" }
}

/// Raises the project's knowledge revision; returns the new one. On PostgreSQL the row stays
/// locked until the transaction ends.
pub(crate) async fn bump_revision(txn: &DatabaseTransaction, project: ProjectId) -> DomainResult<i64> {
    let backend = txn.get_database_backend();
    let placeholder = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
    let sql = format!(
        "INSERT INTO knowledge_revisions (project_id, revision) VALUES ({placeholder}, 1) \
         ON CONFLICT (project_id) DO UPDATE SET revision = knowledge_revisions.revision + 1 RETURNING revision"
    );
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [project.0.into()]))
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::internal("raising the knowledge revision returned no row"))?;
    row.try_get::<i64>("", "revision").map_err(internal)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn to_item(m: knowledge_item::Model) -> KnowledgeItem {
    KnowledgeItem {
        id: m.id.into(),
        project_id: m.project_id.into(),
        content: KnowledgeContent {
            name: m.name,
            entity_type_id: m.entity_type_id.into(),
            aliases: strings(&m.aliases),
            description: m.description,
            external_ids: ExternalIds::from_json(&m.external_ids),
            attributes: m.attributes,
        },
        version: m.version as u32,
        approved: m.approved,
        approved_by: m.approved_by.map(Into::into),
        approved_at: m.approved_at,
        merged_into: m.merged_into_id.map(Into::into),
        deleted_at: m.deleted_at,
        created_by: m.created_by.map(Into::into),
        updated_by: m.updated_by.map(Into::into),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn item_row(i: &KnowledgeItem, revision: i64) -> knowledge_item::ActiveModel {
    knowledge_item::ActiveModel {
        id: Set(i.id.0),
        project_id: Set(i.project_id.0),
        entity_type_id: Set(i.content.entity_type_id.0),
        name: Set(i.content.name.clone()),
        aliases: Set(json!(i.content.aliases)),
        description: Set(i.content.description.clone()),
        external_ids: Set(i.content.external_ids.to_json()),
        attributes: Set(i.content.attributes.clone()),
        version: Set(i.version as i32),
        approved: Set(i.approved),
        approved_by: Set(i.approved_by.map(|u| u.0)),
        approved_at: Set(i.approved_at),
        merged_into_id: Set(i.merged_into.map(|m| m.0)),
        deleted_at: Set(i.deleted_at),
        revision: Set(revision),
        created_by: Set(i.created_by.map(|u| u.0)),
        updated_by: Set(i.updated_by.map(|u| u.0)),
        created_at: Set(i.created_at),
        updated_at: Set(i.updated_at),
    }
}

fn to_version(m: knowledge_item_version::Model) -> DomainResult<KnowledgeVersion> {
    Ok(KnowledgeVersion {
        id: m.id.into(),
        item_id: m.item_id.into(),
        project_id: m.project_id.into(),
        version: m.version as u32,
        action: VersionAction::parse(&m.action)?,
        content: KnowledgeContent {
            name: m.name,
            entity_type_id: m.entity_type_id.into(),
            aliases: strings(&m.aliases),
            description: m.description,
            external_ids: ExternalIds::from_json(&m.external_ids),
            attributes: m.attributes,
        },
        approved: m.approved,
        details: m.details,
        changed_by: m.changed_by.map(Into::into),
        changed_at: m.changed_at,
    })
}

fn version_row(v: &KnowledgeVersion) -> knowledge_item_version::ActiveModel {
    knowledge_item_version::ActiveModel {
        id: Set(v.id.0),
        item_id: Set(v.item_id.0),
        project_id: Set(v.project_id.0),
        version: Set(v.version as i32),
        action: Set(v.action.as_str().to_owned()),
        name: Set(v.content.name.clone()),
        entity_type_id: Set(v.content.entity_type_id.0),
        aliases: Set(json!(v.content.aliases)),
        description: Set(v.content.description.clone()),
        external_ids: Set(v.content.external_ids.to_json()),
        attributes: Set(v.content.attributes.clone()),
        approved: Set(v.approved),
        details: Set(v.details.clone()),
        changed_by: Set(v.changed_by.map(|u| u.0)),
        changed_at: Set(v.changed_at),
    }
}

fn to_link(m: knowledge_link::Model) -> DomainResult<KnowledgeLink> {
    Ok(KnowledgeLink {
        id: m.id.into(),
        project_id: m.project_id.into(),
        from: m.from_item_id.into(),
        to: m.to_item_id.into(),
        kind: LinkType::parse(&m.link_type)?,
        strength: m.strength,
        created_by: m.created_by.map(Into::into),
        created_at: m.created_at,
    })
}

fn link_row(l: &KnowledgeLink) -> knowledge_link::ActiveModel {
    knowledge_link::ActiveModel {
        id: Set(l.id.0),
        project_id: Set(l.project_id.0),
        from_item_id: Set(l.from.0),
        to_item_id: Set(l.to.0),
        link_type: Set(l.kind.as_str().to_owned()),
        strength: Set(l.strength),
        created_by: Set(l.created_by.map(|u| u.0)),
        created_at: Set(l.created_at),
    }
}

pub(crate) fn to_proposal(m: knowledge_proposal::Model) -> DomainResult<Proposal> {
    Ok(Proposal {
        id: m.id.into(),
        project_id: m.project_id.into(),
        job_id: m.job_id,
        kind: ProposalKind::parse(&m.kind)
            .ok_or_else(|| DomainError::internal(format!("unknown proposal kind {:?} in storage", m.kind)))?,
        status: ProposalStatus::parse(&m.status)?,
        confidence: m.confidence,
        reasoning: m.reasoning,
        entity_id: m.entity_id.map(Into::into),
        item_id: m.item_id.map(Into::into),
        source_item_id: m.source_item_id.map(Into::into),
        proposed_name: m.proposed_name,
        entity_type_id: m.entity_type_id.map(Into::into),
        reviewed_by: m.reviewed_by.map(Into::into),
        reviewed_at: m.reviewed_at,
        result_item_id: m.result_item_id.map(Into::into),
        created_at: m.created_at,
    })
}

pub(crate) fn proposal_row(p: &Proposal) -> knowledge_proposal::ActiveModel {
    knowledge_proposal::ActiveModel {
        id: Set(p.id.0),
        project_id: Set(p.project_id.0),
        job_id: Set(p.job_id),
        kind: Set(p.kind.as_str().to_owned()),
        status: Set(p.status.as_str().to_owned()),
        confidence: Set(p.confidence),
        reasoning: Set(p.reasoning.clone()),
        entity_id: Set(p.entity_id.map(|e| e.0)),
        item_id: Set(p.item_id.map(|i| i.0)),
        source_item_id: Set(p.source_item_id.map(|i| i.0)),
        proposed_name: Set(p.proposed_name.clone()),
        entity_type_id: Set(p.entity_type_id.map(|t| t.0)),
        dedup_key: Set(p.dedup_key()),
        reviewed_by: Set(p.reviewed_by.map(|u| u.0)),
        reviewed_at: Set(p.reviewed_at),
        result_item_id: Set(p.result_item_id.map(|i| i.0)),
        created_at: Set(p.created_at),
    }
}

fn live() -> Condition {
    Condition::all()
        .add(knowledge_item::Column::MergedIntoId.is_null())
        .add(knowledge_item::Column::DeletedAt.is_null())
}

async fn item_in(conn: &impl ConnectionTrait, id: KnowledgeItemId) -> DomainResult<Option<KnowledgeItem>> {
    Ok(knowledge_item::Entity::find_by_id(id.0).one(conn).await.map_err(internal)?.map(to_item))
}

/// A live entry, read in the transaction (after the revision lock).
async fn live_item(txn: &DatabaseTransaction, id: KnowledgeItemId) -> DomainResult<KnowledgeItem> {
    item_in(txn, id).await?.filter(KnowledgeItem::is_live).ok_or_else(not_found)
}

/// Stores a changed entry and its version.
async fn store_change(
    txn: &DatabaseTransaction,
    item: &KnowledgeItem,
    version: &KnowledgeVersion,
    revision: i64,
) -> DomainResult<()> {
    item_row(item, revision).update(txn).await.map_err(internal)?;
    version_row(version).insert(txn).await.map_err(internal)?;
    Ok(())
}

/// Applies a merge plan in the transaction: the entries' new versions, their mentions and
/// links moved to the target. Returns (mentions moved, links moved).
async fn merge_in(txn: &DatabaseTransaction, plan: MergePlan, revision: i64) -> DomainResult<(u64, u64)> {
    let MergePlan { target: (item, version), sources: merged } = plan;
    store_change(txn, &item, &version, revision).await?;
    for (s, v) in &merged {
        store_change(txn, s, v, revision).await?;
    }
    let source_ids: Vec<Uuid> = merged.iter().map(|(s, _)| s.id.0).collect();
    let moved = mention::Entity::update_many()
        .col_expr(mention::Column::KnowledgeItemId, Expr::value(item.id.0))
        .filter(mention::Column::KnowledgeItemId.is_in(source_ids.clone()))
        .exec(txn)
        .await
        .map_err(internal)?
        .rows_affected;
    // Links: every link touching a source now touches the target, once; a link of the
    // target to itself is dropped.
    let mut touching: Vec<Uuid> = source_ids.clone();
    touching.push(item.id.0);
    let links = knowledge_link::Entity::find()
        .filter(
            Condition::any()
                .add(knowledge_link::Column::FromItemId.is_in(touching.clone()))
                .add(knowledge_link::Column::ToItemId.is_in(touching)),
        )
        .all(txn)
        .await
        .map_err(internal)?;
    let sources_set: HashSet<Uuid> = source_ids.iter().copied().collect();
    let repoint = |id: Uuid| if sources_set.contains(&id) { item.id.0 } else { id };
    let mut kept: HashSet<(Uuid, Uuid, String)> = links
        .iter()
        .filter(|l| !sources_set.contains(&l.from_item_id) && !sources_set.contains(&l.to_item_id))
        .map(|l| (l.from_item_id, l.to_item_id, l.link_type.clone()))
        .collect();
    let mut links_moved = 0u64;
    for l in links.iter().filter(|l| sources_set.contains(&l.from_item_id) || sources_set.contains(&l.to_item_id)) {
        knowledge_link::Entity::delete_by_id(l.id).exec(txn).await.map_err(internal)?;
        let (from, to) = (repoint(l.from_item_id), repoint(l.to_item_id));
        if from != to && kept.insert((from, to, l.link_type.clone())) {
            let mut row: knowledge_link::ActiveModel = l.clone().into();
            row.from_item_id = Set(from);
            row.to_item_id = Set(to);
            knowledge_link::Entity::insert(row).exec_without_returning(txn).await.map_err(internal)?;
            links_moved += 1;
        }
    }
    Ok((moved, links_moved))
}

/// Links each entity to its entry in the transaction (only entities still unlinked, with
/// `only_unlinked`); returns the entities linked. Errors: `NotFound` when an entry is not live
/// (or, without `only_unlinked`, an entity is gone).
async fn link_in(
    txn: &DatabaseTransaction,
    links: &[(EntityId, KnowledgeItemId)],
    only_unlinked: bool,
) -> DomainResult<Vec<EntityId>> {
    let mut by_item: HashMap<KnowledgeItemId, Vec<Uuid>> = HashMap::new();
    for (e, i) in links {
        by_item.entry(*i).or_default().push(e.0);
    }
    let mut linked = Vec::with_capacity(links.len());
    for (item, entities) in &by_item {
        let item = live_item(txn, *item).await?;
        for chunk in entities.chunks(CHUNK) {
            let mut q = mention::Entity::update_many()
                .col_expr(mention::Column::KnowledgeItemId, Expr::value(item.id.0))
                .filter(mention::Column::Id.is_in(chunk.to_vec()))
                .filter(mention::Column::ProjectId.eq(item.project_id.0));
            if only_unlinked {
                q = q.filter(mention::Column::KnowledgeItemId.is_null());
            }
            let rows = q.exec_with_returning(txn).await.map_err(internal)?;
            if !only_unlinked && rows.len() != chunk.len() {
                return Err(DomainError::NotFound { resource: "entity" });
            }
            linked.extend(rows.into_iter().map(|r| EntityId(r.id)));
        }
    }
    linked.sort();
    Ok(linked)
}

impl Store {
    /// The project's knowledge revision as committed (0 before its first knowledge write).
    pub(crate) async fn knowledge_revision(&self, project: ProjectId) -> DomainResult<i64> {
        use crate::entity::knowledge_revision;
        Ok(knowledge_revision::Entity::find_by_id(project.0)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map_or(0, |r| r.revision))
    }

    /// Entries of a project changed after `revision`, live or not, with the latest revision
    /// among them.
    pub(crate) async fn knowledge_changes(
        &self,
        project: ProjectId,
        revision: i64,
    ) -> DomainResult<(Vec<KnowledgeItem>, i64)> {
        let rows = knowledge_item::Entity::find()
            .filter(knowledge_item::Column::ProjectId.eq(project.0))
            .filter(knowledge_item::Column::Revision.gt(revision))
            .all(self.connection())
            .await
            .map_err(internal)?;
        let latest = rows.iter().map(|r| r.revision).max().unwrap_or(revision);
        Ok((rows.into_iter().map(to_item).collect(), latest))
    }
}

impl KnowledgeRepository for Store {
    async fn create_item(
        &self,
        item: KnowledgeItem,
        version: KnowledgeVersion,
        link: Option<EntityId>,
        audit_entry: AuditEntry,
    ) -> DomainResult<KnowledgeItem> {
        let txn = self.write().await?;
        let revision = bump_revision(&txn, item.project_id).await?;
        knowledge_item::Entity::insert(item_row(&item, revision))
            .exec_without_returning(&txn)
            .await
            .map_err(internal)?;
        version_row(&version).insert(&txn).await.map_err(internal)?;
        if let Some(entity) = link {
            let linked = mention::Entity::update_many()
                .col_expr(mention::Column::KnowledgeItemId, Expr::value(item.id.0))
                .filter(mention::Column::Id.eq(entity.0))
                .filter(mention::Column::ProjectId.eq(item.project_id.0))
                .filter(mention::Column::KnowledgeItemId.is_null())
                .exec(&txn)
                .await
                .map_err(internal)?;
            if linked.rows_affected == 0 {
                let exists = mention::Entity::find_by_id(entity.0).one(&txn).await.map_err(internal)?;
                return Err(match exists {
                    None => DomainError::NotFound { resource: "entity" },
                    Some(_) => DomainError::conflict("the entity is linked to an entry already; unlink it first"),
                });
            }
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(item)
    }

    async fn item_by_id(&self, id: KnowledgeItemId) -> DomainResult<Option<KnowledgeItem>> {
        item_in(self.connection(), id).await
    }

    async fn items_by_ids(&self, ids: &[KnowledgeItemId]) -> DomainResult<Vec<KnowledgeItem>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let rows = knowledge_item::Entity::find()
                .filter(knowledge_item::Column::Id.is_in(chunk.iter().map(|i| i.0)))
                .all(self.connection())
                .await
                .map_err(internal)?;
            out.extend(rows.into_iter().map(to_item));
        }
        Ok(out)
    }

    async fn items_of_project(
        &self,
        project: ProjectId,
        filter: &KnowledgeFilter,
        page: PageRequest,
    ) -> DomainResult<Page<KnowledgeItem>> {
        if let Some(ids) = &filter.ids {
            // Already narrowed (and ordered by id) by the index: page through the ids.
            let window: Vec<KnowledgeItemId> =
                ids.iter().skip(page.offset as usize).take(page.limit as usize).copied().collect();
            let mut found: HashMap<KnowledgeItemId, KnowledgeItem> = self
                .items_by_ids(&window)
                .await?
                .into_iter()
                .filter(|i| i.is_live() && i.project_id == project)
                .map(|i| (i.id, i))
                .collect();
            let items = window.iter().filter_map(|id| found.remove(id)).collect();
            return Ok(Page { items, total: ids.len() as u64 });
        }
        let mut q =
            knowledge_item::Entity::find().filter(knowledge_item::Column::ProjectId.eq(project.0)).filter(live());
        if let Some(t) = filter.entity_type_id {
            q = q.filter(knowledge_item::Column::EntityTypeId.eq(t.0));
        }
        if let Some(a) = filter.approved {
            q = q.filter(knowledge_item::Column::Approved.eq(a));
        }
        let (rows, total) = page_of(self.connection(), q, &[(knowledge_item::Column::Id, Order::Asc)], page).await?;
        Ok(Page { items: rows.into_iter().map(to_item).collect(), total })
    }

    async fn change_item(
        &self,
        id: KnowledgeItemId,
        change: ItemChange,
        audit_entry: AuditEntry,
    ) -> DomainResult<KnowledgeItem> {
        let txn = self.write().await?;
        let project = item_in(&txn, id).await?.ok_or_else(not_found)?.project_id;
        let revision = bump_revision(&txn, project).await?;
        let current = live_item(&txn, id).await?;
        let (item, version) = change(current)?;
        store_change(&txn, &item, &version, revision).await?;
        let mut entry = audit_entry;
        entry.changes["version"] = json!(item.version);
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(item)
    }

    async fn merge_items(
        &self,
        target: KnowledgeItemId,
        sources: &[KnowledgeItemId],
        plan: ItemMerge,
        audit_entry: AuditEntry,
    ) -> DomainResult<KnowledgeItem> {
        let txn = self.write().await?;
        let project = item_in(&txn, target).await?.ok_or_else(not_found)?.project_id;
        let revision = bump_revision(&txn, project).await?;
        let current = live_item(&txn, target).await?;
        let mut found = Vec::with_capacity(sources.len());
        for s in sources {
            found.push(live_item(&txn, *s).await?);
        }
        let plan = plan(current, found)?;
        let item = plan.target.0.clone();
        let (moved, links_moved) = merge_in(&txn, plan, revision).await?;
        let mut entry = audit_entry;
        entry.changes["version"] = json!(item.version);
        entry.changes["mentionsMoved"] = json!(moved);
        entry.changes["linksMoved"] = json!(links_moved);
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(item)
    }

    async fn delete_item(&self, id: KnowledgeItemId, change: ItemChange, audit_entry: AuditEntry) -> DomainResult<u64> {
        let txn = self.write().await?;
        let project = item_in(&txn, id).await?.ok_or_else(not_found)?.project_id;
        let revision = bump_revision(&txn, project).await?;
        let current = live_item(&txn, id).await?;
        let (item, version) = change(current)?;
        store_change(&txn, &item, &version, revision).await?;
        let unlinked = mention::Entity::update_many()
            .col_expr(mention::Column::KnowledgeItemId, Expr::value(Option::<Uuid>::None))
            .filter(mention::Column::KnowledgeItemId.eq(id.0))
            .exec(&txn)
            .await
            .map_err(internal)?
            .rows_affected;
        let links = knowledge_link::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(knowledge_link::Column::FromItemId.eq(id.0))
                    .add(knowledge_link::Column::ToItemId.eq(id.0)),
            )
            .exec(&txn)
            .await
            .map_err(internal)?
            .rows_affected;
        let mut entry = audit_entry;
        entry.changes["unlinked"] = json!(unlinked);
        entry.changes["linksRemoved"] = json!(links);
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(unlinked)
    }

    async fn versions(&self, item: KnowledgeItemId) -> DomainResult<Vec<KnowledgeVersion>> {
        knowledge_item_version::Entity::find()
            .filter(knowledge_item_version::Column::ItemId.eq(item.0))
            .order_by_desc(knowledge_item_version::Column::Version)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(to_version)
            .collect()
    }

    async fn merged_into(&self, items: &[KnowledgeItemId]) -> DomainResult<Vec<KnowledgeItem>> {
        let ids: Vec<Uuid> = items.iter().map(|i| i.0).collect();
        Ok(knowledge_item::Entity::find()
            .filter(knowledge_item::Column::MergedIntoId.is_in(ids))
            .order_by_asc(knowledge_item::Column::Id)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(to_item)
            .collect())
    }

    async fn create_link(&self, link: KnowledgeLink, audit_entry: AuditEntry) -> DomainResult<KnowledgeLink> {
        let txn = self.write().await?;
        bump_revision(&txn, link.project_id).await?;
        live_item(&txn, link.from).await?;
        live_item(&txn, link.to).await?;
        knowledge_link::Entity::insert(link_row(&link))
            .exec_without_returning(&txn)
            .await
            .map_err(|e| super::conflict_or_internal(e, "the entries are linked so already"))?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(link)
    }

    async fn link_by_id(&self, id: KnowledgeLinkId) -> DomainResult<Option<KnowledgeLink>> {
        knowledge_link::Entity::find_by_id(id.0)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(to_link)
            .transpose()
    }

    async fn delete_link(&self, id: KnowledgeLinkId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let Some(link) = knowledge_link::Entity::find_by_id(id.0).one(&txn).await.map_err(internal)? else {
            return Err(DomainError::NotFound { resource: "knowledge link" });
        };
        bump_revision(&txn, link.project_id.into()).await?;
        let gone = knowledge_link::Entity::delete_by_id(id.0).exec(&txn).await.map_err(internal)?;
        if gone.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "knowledge link" });
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn links_of(&self, items: &[KnowledgeItemId], outgoing: bool) -> DomainResult<Vec<KnowledgeLink>> {
        let mut out = Vec::new();
        for chunk in items.chunks(CHUNK) {
            let ids: Vec<Uuid> = chunk.iter().map(|i| i.0).collect();
            let column = if outgoing { knowledge_link::Column::FromItemId } else { knowledge_link::Column::ToItemId };
            let rows = knowledge_link::Entity::find()
                .filter(column.is_in(ids))
                .order_by_asc(knowledge_link::Column::Id)
                .all(self.connection())
                .await
                .map_err(internal)?;
            for r in rows {
                out.push(to_link(r)?);
            }
        }
        Ok(out)
    }

    async fn link_mentions(
        &self,
        links: &[(EntityId, KnowledgeItemId)],
        only_unlinked: bool,
        audit_entry: AuditEntry,
    ) -> DomainResult<Vec<EntityId>> {
        let txn = self.write().await?;
        if let Some(project) = audit_entry.project_id {
            bump_revision(&txn, project).await?;
        }
        let linked = link_in(&txn, links, only_unlinked).await?;
        let mut entry = audit_entry;
        entry.changes["linked"] = json!(linked.len());
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(linked)
    }

    async fn unlink_mentions(&self, entities: &[EntityId], audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        if let Some(project) = audit_entry.project_id {
            bump_revision(&txn, project).await?;
        }
        for chunk in entities.chunks(CHUNK) {
            let ids: Vec<Uuid> = chunk.iter().map(|e| e.0).collect();
            let done = mention::Entity::update_many()
                .col_expr(mention::Column::KnowledgeItemId, Expr::value(Option::<Uuid>::None))
                .filter(mention::Column::Id.is_in(ids))
                .exec(&txn)
                .await
                .map_err(internal)?;
            if done.rows_affected != chunk.len() as u64 {
                return Err(DomainError::NotFound { resource: "entity" });
            }
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn entity_items(&self, entities: &[EntityId]) -> DomainResult<HashMap<EntityId, KnowledgeItemId>> {
        let mut out = HashMap::new();
        for chunk in entities.chunks(CHUNK) {
            let rows: Vec<(Uuid, Option<Uuid>)> = mention::Entity::find()
                .select_only()
                .column(mention::Column::Id)
                .column(mention::Column::KnowledgeItemId)
                .filter(mention::Column::Id.is_in(chunk.iter().map(|e| e.0)))
                .filter(mention::Column::KnowledgeItemId.is_not_null())
                .into_tuple()
                .all(self.connection())
                .await
                .map_err(internal)?;
            out.extend(rows.into_iter().filter_map(|(e, i)| Some((EntityId(e), KnowledgeItemId(i?)))));
        }
        Ok(out)
    }

    async fn mentions(&self, item: KnowledgeItemId, page: PageRequest) -> DomainResult<Page<Entity>> {
        let ids = mention::Entity::find()
            .select_only()
            .column(mention::Column::Id)
            .filter(mention::Column::KnowledgeItemId.eq(item.0));
        let total = ids.clone().count(self.connection()).await.map_err(internal)?;
        let window: Vec<Uuid> = ids
            .order_by_asc(mention::Column::DocumentId)
            .order_by_asc(mention::Column::StartOffset)
            .order_by_asc(mention::Column::Id)
            .offset(page.offset)
            .limit(page.limit)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        let mut rows: HashMap<Uuid, annotation::Model> = annotation::Entity::find()
            .filter(annotation::Column::Id.is_in(window.clone()))
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let items =
            window.iter().filter_map(|id| rows.remove(id)).map(convert::annotation).collect::<DomainResult<_>>()?;
        Ok(Page { items, total })
    }

    async fn mention_counts(&self, items: &[KnowledgeItemId]) -> DomainResult<HashMap<KnowledgeItemId, u64>> {
        let mut out = HashMap::new();
        for chunk in items.chunks(CHUNK) {
            let rows: Vec<(Option<Uuid>, i64)> = mention::Entity::find()
                .select_only()
                .column(mention::Column::KnowledgeItemId)
                .column_as(mention::Column::Id.count(), "n")
                .filter(mention::Column::KnowledgeItemId.is_in(chunk.iter().map(|i| i.0)))
                .group_by(mention::Column::KnowledgeItemId)
                .into_tuple()
                .all(self.connection())
                .await
                .map_err(internal)?;
            out.extend(rows.into_iter().filter_map(|(i, n)| Some((KnowledgeItemId(i?), n as u64))));
        }
        Ok(out)
    }

    async fn mentions_by_document(&self, item: KnowledgeItemId) -> DomainResult<Vec<(DocumentId, u64)>> {
        let rows: Vec<(Uuid, i64)> = mention::Entity::find()
            .select_only()
            .column(mention::Column::DocumentId)
            .column_as(mention::Column::Id.count(), "n")
            .filter(mention::Column::KnowledgeItemId.eq(item.0))
            .group_by(mention::Column::DocumentId)
            .order_by_asc(mention::Column::DocumentId)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|(d, n)| (DocumentId(d), n as u64)).collect())
    }

    async fn unlinked_entities(
        &self,
        project: ProjectId,
        documents: Option<&[DocumentId]>,
    ) -> DomainResult<Vec<Entity>> {
        let ids: Vec<Uuid> = {
            let mut q = mention::Entity::find()
                .select_only()
                .column(mention::Column::Id)
                .filter(mention::Column::ProjectId.eq(project.0))
                .filter(mention::Column::KnowledgeItemId.is_null());
            if let Some(docs) = documents {
                q = q.filter(mention::Column::DocumentId.is_in(docs.iter().map(|d| d.0)));
            }
            q.order_by_asc(mention::Column::DocumentId)
                .order_by_asc(mention::Column::StartOffset)
                .into_tuple()
                .all(self.connection())
                .await
                .map_err(internal)?
        };
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let rows = annotation::Entity::find()
                .filter(annotation::Column::Id.is_in(chunk.to_vec()))
                .order_by_asc(annotation::Column::DocumentId)
                .order_by_asc(annotation::Column::StartOffset)
                .all(self.connection())
                .await
                .map_err(internal)?;
            for r in rows {
                out.push(convert::annotation(r)?);
            }
        }
        Ok(out)
    }

    async fn placements(&self, project: ProjectId) -> DomainResult<Vec<Placement>> {
        let rows: Vec<(Option<Uuid>, Uuid, i32, i32)> = mention::Entity::find()
            .select_only()
            .column(mention::Column::KnowledgeItemId)
            .column(mention::Column::DocumentId)
            .column(mention::Column::LineNumber)
            .column(mention::Column::StanzaNumber)
            .filter(mention::Column::ProjectId.eq(project.0))
            .filter(mention::Column::KnowledgeItemId.is_not_null())
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .filter_map(|(item, doc, line, stanza)| {
                Some(Placement {
                    item: KnowledgeItemId(item?),
                    document: DocumentId(doc),
                    line: line as u32,
                    stanza: stanza as u32,
                })
            })
            .collect())
    }

    async fn approved_names(&self, project: ProjectId) -> DomainResult<Vec<(String, EntityTypeId)>> {
        let rows = knowledge_item::Entity::find()
            .filter(knowledge_item::Column::ProjectId.eq(project.0))
            .filter(knowledge_item::Column::Approved.eq(true))
            .filter(live())
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(to_item)
            .flat_map(|i| {
                let t = i.content.entity_type_id;
                i.content.names().map(|n| (n.to_owned(), t)).collect::<Vec<_>>()
            })
            .collect())
    }

    async fn proposals(
        &self,
        project: ProjectId,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> DomainResult<Page<Proposal>> {
        let mut q = knowledge_proposal::Entity::find().filter(knowledge_proposal::Column::ProjectId.eq(project.0));
        if let Some(s) = filter.status {
            q = q.filter(knowledge_proposal::Column::Status.eq(s.as_str()));
        }
        if let Some(k) = filter.kind {
            q = q.filter(knowledge_proposal::Column::Kind.eq(k.as_str()));
        }
        if let Some(j) = filter.job {
            q = q.filter(knowledge_proposal::Column::JobId.eq(j));
        }
        let (rows, total) =
            page_of(self.connection(), q, &[(knowledge_proposal::Column::Id, Order::Asc)], page).await?;
        Ok(Page { items: rows.into_iter().map(to_proposal).collect::<DomainResult<_>>()?, total })
    }

    async fn proposals_by_ids(&self, ids: &[ProposalId]) -> DomainResult<Vec<Proposal>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let rows = knowledge_proposal::Entity::find()
                .filter(knowledge_proposal::Column::Id.is_in(chunk.iter().map(|i| i.0)))
                .all(self.connection())
                .await
                .map_err(internal)?;
            for r in rows {
                out.push(to_proposal(r)?);
            }
        }
        Ok(out)
    }

    async fn proposal_counts(&self, jobs: &[JobId]) -> DomainResult<HashMap<JobId, ProposalCounts>> {
        let rows: Vec<(Option<Uuid>, String, i64)> = knowledge_proposal::Entity::find()
            .select_only()
            .column(knowledge_proposal::Column::JobId)
            .column(knowledge_proposal::Column::Status)
            .column_as(knowledge_proposal::Column::Id.count(), "n")
            .filter(knowledge_proposal::Column::JobId.is_in(jobs.to_vec()))
            .group_by(knowledge_proposal::Column::JobId)
            .group_by(knowledge_proposal::Column::Status)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        let mut out: HashMap<JobId, ProposalCounts> = HashMap::new();
        for (job, status, n) in rows {
            let Some(job) = job else { continue };
            let c = out.entry(job).or_default();
            match ProposalStatus::parse(&status)? {
                ProposalStatus::Pending => c.pending = n as u64,
                ProposalStatus::Approved => c.approved = n as u64,
                ProposalStatus::Rejected => c.rejected = n as u64,
            }
        }
        Ok(out)
    }

    async fn review_proposals(
        &self,
        ids: &[ProposalId],
        mut decide: ProposalDecide,
        audit_entry: AuditEntry,
    ) -> DomainResult<Vec<Proposal>> {
        let not_found = || DomainError::NotFound { resource: "knowledge proposal" };
        let txn = self.write().await?;
        let first = knowledge_proposal::Entity::find_by_id(ids.first().ok_or_else(not_found)?.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        let revision = bump_revision(&txn, first.project_id.into()).await?;
        let mut reviewed = Vec::with_capacity(ids.len());
        let mut effects = serde_json::Map::new();
        for id in ids {
            let row = knowledge_proposal::Entity::find_by_id(id.0)
                .one(&txn)
                .await
                .map_err(internal)?
                .ok_or_else(not_found)?;
            let proposal = to_proposal(row)?;
            let mut ctx = ReviewContext::default();
            for item in [proposal.item_id, proposal.source_item_id].into_iter().flatten() {
                if let Some(i) = item_in(&txn, item).await? {
                    ctx.items.insert(i.id, i);
                }
            }
            if let Some(e) = proposal.entity_id {
                let entity = annotation::Entity::find_by_id(e.0).one(&txn).await.map_err(internal)?;
                let linked: Option<Option<Uuid>> = mention::Entity::find_by_id(e.0)
                    .select_only()
                    .column(mention::Column::KnowledgeItemId)
                    .into_tuple()
                    .one(&txn)
                    .await
                    .map_err(internal)?;
                if let Some(entity) = entity {
                    ctx.entity = Some((convert::annotation(entity)?, linked.flatten().map(KnowledgeItemId)));
                }
            }
            let (proposal, effect) = decide(proposal, ctx)?;
            let what = match effect {
                ProposalEffect::Nothing => "nothing",
                ProposalEffect::Link { entity, item } => {
                    link_in(&txn, &[(entity, item)], false).await?;
                    "linked"
                }
                ProposalEffect::NewItem { item, version, link } => {
                    knowledge_item::Entity::insert(item_row(&item, revision))
                        .exec_without_returning(&txn)
                        .await
                        .map_err(internal)?;
                    version_row(&version).insert(&txn).await.map_err(internal)?;
                    if let Some(entity) = link {
                        link_in(&txn, &[(entity, item.id)], true).await?;
                    }
                    "created"
                }
                ProposalEffect::AddAlias { item, version, link } => {
                    store_change(&txn, &item, &version, revision).await?;
                    if let Some(entity) = link {
                        link_in(&txn, &[(entity, item.id)], true).await?;
                    }
                    "aliased"
                }
                ProposalEffect::Merge(plan) => {
                    merge_in(&txn, plan, revision).await?;
                    "merged"
                }
            };
            effects.insert(proposal.id.to_string(), json!(what));
            knowledge_proposal::Entity::update(proposal_row(&proposal)).exec(&txn).await.map_err(internal)?;
            reviewed.push(proposal);
        }
        let mut entry = audit_entry;
        entry.changes["effects"] = Value::Object(effects);
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(reviewed)
    }

    async fn with_candidate_index<R: Send>(
        &self,
        project: ProjectId,
        f: impl FnOnce(&CandidateIndex) -> R + Send,
    ) -> DomainResult<R> {
        let index = self.fresh_knowledge_index(project).await?;
        Ok(index.read(f))
    }
}
