//! The knowledge base as clients see it: entries, their versions and links, candidates for a
//! text, co-occurrences. An entry object is only made for an entry the caller may read (its
//! project's read access was checked on the way to it), so its fields check nothing again.

use async_graphql::{Context, Enum, ID, MergedObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::knowledge::cooccurrence::Unit;
use nishan_domain::knowledge::export::KnowledgeFormat;
use nishan_domain::knowledge::index::{Candidate, MatchKind};
use nishan_domain::knowledge::proposal::{Proposal, ProposalKind, ProposalStatus};
use nishan_domain::knowledge::{
    ExternalIds as DomainExternalIds, KnowledgeContent, KnowledgeItem as DomainItem, KnowledgeLink as DomainLink,
    KnowledgeVersion, LinkType, VersionAction,
};
use nishan_domain::ports::KnowledgeRepository;

use super::document::{EntityConnection, EntityCount};
use super::{Document, Entity, EntityType, User};
use crate::error::ApiResult;
use crate::graphql::loaders::{
    DocumentLoader, EntityTypeLoader, KnowledgeItemLoader, Loaded, MentionCountLoader, UserLoader,
};
use crate::graphql::pagination;
use crate::graphql::state;

/// How one entry relates to another.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "KnowledgeRelationType", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlLinkType {
    SonOf,
    DaughterOf,
    SiblingOf,
    SpouseOf,
    CompanionOf,
    LocatedIn,
    RelatedTo,
}

impl From<GqlLinkType> for LinkType {
    fn from(t: GqlLinkType) -> Self {
        match t {
            GqlLinkType::SonOf => Self::SonOf,
            GqlLinkType::DaughterOf => Self::DaughterOf,
            GqlLinkType::SiblingOf => Self::SiblingOf,
            GqlLinkType::SpouseOf => Self::SpouseOf,
            GqlLinkType::CompanionOf => Self::CompanionOf,
            GqlLinkType::LocatedIn => Self::LocatedIn,
            GqlLinkType::RelatedTo => Self::RelatedTo,
        }
    }
}

impl From<LinkType> for GqlLinkType {
    fn from(t: LinkType) -> Self {
        match t {
            LinkType::SonOf => Self::SonOf,
            LinkType::DaughterOf => Self::DaughterOf,
            LinkType::SiblingOf => Self::SiblingOf,
            LinkType::SpouseOf => Self::SpouseOf,
            LinkType::CompanionOf => Self::CompanionOf,
            LinkType::LocatedIn => Self::LocatedIn,
            LinkType::RelatedTo => Self::RelatedTo,
        }
    }
}

/// What a version records having happened.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "KnowledgeVersionAction", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlVersionAction {
    Create,
    Update,
    Approve,
    /// Other entries were merged into this one.
    Merge,
    /// This entry was merged into another.
    MergedInto,
    /// A reviewed proposal added an alias.
    AddAlias,
    Delete,
}

impl From<VersionAction> for GqlVersionAction {
    fn from(a: VersionAction) -> Self {
        match a {
            VersionAction::Create => Self::Create,
            VersionAction::Update => Self::Update,
            VersionAction::Approve => Self::Approve,
            VersionAction::Merge => Self::Merge,
            VersionAction::MergedInto => Self::MergedInto,
            VersionAction::AddAlias => Self::AddAlias,
            VersionAction::Delete => Self::Delete,
        }
    }
}

/// How a candidate matched the text.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "KnowledgeMatchKind", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlMatchKind {
    /// The text is a name or alias, under folding.
    Exact,
    /// The text begins a name or alias, or one of its later words.
    Prefix,
    /// The text is a few edits away from a name or alias.
    Fuzzy,
}

impl From<MatchKind> for GqlMatchKind {
    fn from(k: MatchKind) -> Self {
        match k {
            MatchKind::Exact => Self::Exact,
            MatchKind::Prefix => Self::Prefix,
            MatchKind::Fuzzy => Self::Fuzzy,
        }
    }
}

/// The unit two entries must appear together in.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "CooccurrenceUnit", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlUnit {
    Line,
    Stanza,
    Document,
}

impl From<GqlUnit> for Unit {
    fn from(u: GqlUnit) -> Self {
        match u {
            GqlUnit::Line => Self::Line,
            GqlUnit::Stanza => Self::Stanza,
            GqlUnit::Document => Self::Document,
        }
    }
}

/// The formats of `exportKnowledgeBase`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "KnowledgeBaseFormat", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlKnowledgeFormat {
    /// One JSON object per entry, with aliases, identifiers, approval, mentions and links.
    Jsonl,
    /// One row per entry; aliases joined by ` | `.
    Csv,
}

impl From<GqlKnowledgeFormat> for KnowledgeFormat {
    fn from(f: GqlKnowledgeFormat) -> Self {
        match f {
            GqlKnowledgeFormat::Jsonl => Self::Jsonl,
            GqlKnowledgeFormat::Csv => Self::Csv,
        }
    }
}

/// One identifier in an outside authority file.
#[derive(SimpleObject)]
pub struct ExternalId {
    /// `wikidata`, `viaf` or `geonames`.
    pub scheme: String,
    pub id: String,
    pub uri: String,
}

/// Identifiers of an entry in outside authority files.
pub struct ExternalIds(pub DomainExternalIds);

#[Object]
impl ExternalIds {
    /// A Wikidata item (`Q193236`).
    async fn wikidata(&self) -> Option<&str> {
        self.0.wikidata.as_deref()
    }
    /// A VIAF cluster.
    async fn viaf(&self) -> Option<&str> {
        self.0.viaf.as_deref()
    }
    /// A GeoNames feature.
    async fn geonames(&self) -> Option<&str> {
        self.0.geonames.as_deref()
    }
    /// Each identifier with its URI.
    async fn uris(&self) -> Vec<ExternalId> {
        self.0
            .uris()
            .into_iter()
            .map(|(scheme, id, uri)| ExternalId { scheme: scheme.into(), id: id.into(), uri })
            .collect()
    }
}

/// What an entry says, as the entry and each of its versions show it.
pub struct KnowledgeContentFields(KnowledgeContent);

#[Object]
impl KnowledgeContentFields {
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The other names it goes by (each once under folding; never the name itself).
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }
    async fn entity_type(&self, ctx: &Context<'_>) -> ApiResult<Option<EntityType>> {
        let t = self.0.entity_type_id;
        Ok(ctx.data_unchecked::<Loaded<EntityTypeLoader>>().load_one(t).await?.map(EntityType))
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn external_ids(&self) -> ExternalIds {
        ExternalIds(self.0.external_ids.clone())
    }
    /// Free attributes (a JSON object).
    async fn attributes(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.attributes.clone())
    }
}

/// An entry of a project's knowledge base: a person, place or other thing the texts name.
#[derive(MergedObject)]
pub struct KnowledgeItem(KnowledgeItemFields, KnowledgeContentFields);

impl KnowledgeItem {
    pub fn new(item: DomainItem) -> Self {
        let content = KnowledgeContentFields(item.content.clone());
        Self(KnowledgeItemFields(item), content)
    }
}

/// The fields of an entry beside its content.
pub struct KnowledgeItemFields(DomainItem);

#[Object]
impl KnowledgeItemFields {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// 1 for a new entry, one more for every change; send it as `expectedVersion`.
    async fn version(&self) -> u32 {
        self.0.version
    }
    async fn approved(&self) -> bool {
        self.0.approved
    }
    async fn approved_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.approved_by else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    async fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.0.approved_at
    }
    async fn created_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.created_by else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Mentions linked to the entry, in every document of the project.
    async fn mention_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(ctx.data_unchecked::<Loaded<MentionCountLoader>>().load_one(self.0.id).await?.unwrap_or(0))
    }
    /// The mentions linked to the entry, across documents (by document, then offset).
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn mentions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<EntityConnection> {
        let page = pagination::page_request(first, after.as_deref())?;
        let found = state(ctx).store.mentions(self.0.id, page).await?;
        Ok(EntityCount::connection(pagination::connection(found, page, Entity)))
    }
    /// How often each document mentions the entry.
    async fn mentions_by_document(&self, ctx: &Context<'_>) -> ApiResult<Vec<DocumentMentions>> {
        let counts = state(ctx).store.mentions_by_document(self.0.id).await?;
        Ok(counts.into_iter().map(|(document, count)| DocumentMentions { document, count }).collect())
    }
    /// Every version, newest first.
    async fn versions(&self, ctx: &Context<'_>) -> ApiResult<Vec<KnowledgeItemVersion>> {
        Ok(state(ctx).store.versions(self.0.id).await?.into_iter().map(KnowledgeItemVersion::new).collect())
    }
    /// The entries merged into this one, with their own versions.
    async fn merged_items(&self, ctx: &Context<'_>) -> ApiResult<Vec<MergedKnowledgeItem>> {
        Ok(state(ctx).store.merged_into(&[self.0.id]).await?.into_iter().map(MergedKnowledgeItem).collect())
    }
    /// Links from this entry.
    async fn outgoing_links(&self, ctx: &Context<'_>) -> ApiResult<Vec<KnowledgeLink>> {
        Ok(state(ctx).store.links_of(&[self.0.id], true).await?.into_iter().map(KnowledgeLink).collect())
    }
    /// Links to this entry.
    async fn incoming_links(&self, ctx: &Context<'_>) -> ApiResult<Vec<KnowledgeLink>> {
        Ok(state(ctx).store.links_of(&[self.0.id], false).await?.into_iter().map(KnowledgeLink).collect())
    }
}

/// An entry's mentions in one document.
pub struct DocumentMentions {
    document: nishan_domain::ids::DocumentId,
    count: u64,
}

#[Object(name = "KnowledgeDocumentMentions")]
impl DocumentMentions {
    async fn document(&self, ctx: &Context<'_>) -> ApiResult<Option<Document>> {
        Ok(ctx.data_unchecked::<Loaded<DocumentLoader>>().load_one(self.document).await?.map(Document))
    }
    async fn count(&self) -> u64 {
        self.count
    }
}

/// An entry merged into another: what it was, and its versions.
pub struct MergedKnowledgeItem(pub DomainItem);

#[Object]
impl MergedKnowledgeItem {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.content.name
    }
    async fn aliases(&self) -> &[String] {
        &self.0.content.aliases
    }
    /// When it was merged.
    async fn merged_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn versions(&self, ctx: &Context<'_>) -> ApiResult<Vec<KnowledgeItemVersion>> {
        Ok(state(ctx).store.versions(self.0.id).await?.into_iter().map(KnowledgeItemVersion::new).collect())
    }
}

/// One immutable version of an entry.
#[derive(MergedObject)]
pub struct KnowledgeItemVersion(KnowledgeVersionFields, KnowledgeContentFields);

impl KnowledgeItemVersion {
    pub fn new(version: KnowledgeVersion) -> Self {
        let content = KnowledgeContentFields(version.content.clone());
        Self(KnowledgeVersionFields(version), content)
    }
}

/// The fields of a version beside its content.
pub struct KnowledgeVersionFields(KnowledgeVersion);

#[Object]
impl KnowledgeVersionFields {
    async fn version(&self) -> u32 {
        self.0.version
    }
    async fn action(&self) -> GqlVersionAction {
        self.0.action.into()
    }
    async fn approved(&self) -> bool {
        self.0.approved
    }
    /// What the action concerned: `{"fields": [...]}`, `{"mergedFrom": [...]}`, `{"mergedInto": id}`.
    async fn details(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.details.clone())
    }
    async fn changed_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.changed_by else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
}

/// A link from one entry to another.
pub struct KnowledgeLink(pub DomainLink);

#[Object]
impl KnowledgeLink {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn relation_type(&self) -> GqlLinkType {
        self.0.kind.into()
    }
    /// In [0, 1].
    async fn strength(&self) -> f64 {
        self.0.strength
    }
    async fn from(&self, ctx: &Context<'_>) -> ApiResult<Option<KnowledgeItem>> {
        Ok(ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_one(self.0.from).await?.map(KnowledgeItem::new))
    }
    async fn to(&self, ctx: &Context<'_>) -> ApiResult<Option<KnowledgeItem>> {
        Ok(ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_one(self.0.to).await?.map(KnowledgeItem::new))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An entry a text may name.
pub struct KnowledgeCandidate(pub Candidate);

#[Object]
impl KnowledgeCandidate {
    async fn item(&self, ctx: &Context<'_>) -> ApiResult<Option<KnowledgeItem>> {
        Ok(ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_one(self.0.item).await?.map(KnowledgeItem::new))
    }
    /// 1 for an exact match under folding; prefixes 0.4–0.9; fuzzy matches below 0.9.
    async fn score(&self) -> f64 {
        self.0.score
    }
    /// The name or alias that matched, as the entry writes it.
    async fn matched_alias(&self) -> &str {
        &self.0.matched_alias
    }
    async fn match_kind(&self) -> GqlMatchKind {
        self.0.kind.into()
    }
}

/// Two entries named together, and in how many units (lines, stanzas or documents).
pub struct KnowledgeCooccurrence(pub nishan_domain::knowledge::cooccurrence::Pair);

#[Object]
impl KnowledgeCooccurrence {
    async fn item_a(&self, ctx: &Context<'_>) -> ApiResult<Option<KnowledgeItem>> {
        Ok(ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_one(self.0.a).await?.map(KnowledgeItem::new))
    }
    async fn item_b(&self, ctx: &Context<'_>) -> ApiResult<Option<KnowledgeItem>> {
        Ok(ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_one(self.0.b).await?.map(KnowledgeItem::new))
    }
    /// Units in which both are mentioned.
    async fn count(&self) -> u32 {
        self.0.count
    }
    /// Documents those units are in.
    async fn documents(&self) -> u32 {
        self.0.documents
    }
}

/// What `linkMatchingMentions` did.
pub struct LinkMatchingResult(pub nishan_domain::service::knowledge::MatchReport);

#[Object]
impl LinkMatchingResult {
    /// Unlinked mentions looked at.
    async fn examined(&self) -> u32 {
        self.0.examined
    }
    async fn linked(&self) -> u32 {
        self.0.linked
    }
    /// Mentions whose text names several entries of their type: left unlinked.
    async fn ambiguous(&self) -> u32 {
        self.0.ambiguous
    }
    /// The entries mentions were linked to.
    async fn items(&self, ctx: &Context<'_>) -> ApiResult<Vec<KnowledgeItem>> {
        let found = ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_many(self.0.items.iter().copied()).await?;
        Ok(self.0.items.iter().filter_map(|id| found.get(id).cloned()).map(KnowledgeItem::new).collect())
    }
}

/// What a LINKING job proposes.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "KnowledgeProposalKind", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlProposalKind {
    /// Link the mention to the entry.
    Link,
    /// Make an entry for the mention.
    NewItem,
    /// Add the mention's text to the entry's aliases (and link the mention).
    NewAlias,
    /// Merge `sourceItem` into `item`.
    Merge,
}

impl From<ProposalKind> for GqlProposalKind {
    fn from(k: ProposalKind) -> Self {
        match k {
            ProposalKind::Link => Self::Link,
            ProposalKind::NewItem => Self::NewItem,
            ProposalKind::NewAlias => Self::NewAlias,
            ProposalKind::Merge => Self::Merge,
        }
    }
}

impl From<GqlProposalKind> for ProposalKind {
    fn from(k: GqlProposalKind) -> Self {
        match k {
            GqlProposalKind::Link => Self::Link,
            GqlProposalKind::NewItem => Self::NewItem,
            GqlProposalKind::NewAlias => Self::NewAlias,
            GqlProposalKind::Merge => Self::Merge,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "KnowledgeProposalStatus", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlProposalStatus {
    Pending,
    Approved,
    Rejected,
}

impl From<ProposalStatus> for GqlProposalStatus {
    fn from(s: ProposalStatus) -> Self {
        match s {
            ProposalStatus::Pending => Self::Pending,
            ProposalStatus::Approved => Self::Approved,
            ProposalStatus::Rejected => Self::Rejected,
        }
    }
}

impl From<GqlProposalStatus> for ProposalStatus {
    fn from(s: GqlProposalStatus) -> Self {
        match s {
            GqlProposalStatus::Pending => Self::Pending,
            GqlProposalStatus::Approved => Self::Approved,
            GqlProposalStatus::Rejected => Self::Rejected,
        }
    }
}

/// A researcher's decision on a proposal.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProposalDecision", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlDecision {
    Approve,
    Reject,
}

/// A LINKING job's proposals by status.
#[derive(SimpleObject)]
#[graphql(name = "KnowledgeProposalCounts")]
pub struct ProposalCounts {
    pub pending: u64,
    pub approved: u64,
    pub rejected: u64,
    pub total: u64,
    /// Proposals of the model that named an entity or entry that does not exist: not stored.
    pub dropped: u64,
}

/// The proposal counts of a LINKING job (None for other kinds).
pub(crate) async fn proposal_counts(
    ctx: &Context<'_>,
    job: &nishan_domain::job::Job,
) -> ApiResult<Option<ProposalCounts>> {
    if job.kind != nishan_domain::job::JobKind::Linking {
        return Ok(None);
    }
    let c = state(ctx).store.proposal_counts(&[job.id]).await?.remove(&job.id).unwrap_or_default();
    let dropped = job.checkpoint.get("dropped").and_then(serde_json::Value::as_u64).unwrap_or(0);
    Ok(Some(ProposalCounts {
        pending: c.pending,
        approved: c.approved,
        rejected: c.rejected,
        total: c.pending + c.approved + c.rejected,
        dropped,
    }))
}

/// A LINKING job's proposal for the knowledge base, awaiting a researcher's review.
pub struct KnowledgeProposal(pub Proposal);

#[Object]
impl KnowledgeProposal {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> GqlProposalKind {
        self.0.kind.into()
    }
    async fn status(&self) -> GqlProposalStatus {
        self.0.status.into()
    }
    /// In [0, 1].
    async fn confidence(&self) -> f64 {
        self.0.confidence
    }
    /// Why, in the proposer's words.
    async fn reasoning(&self) -> &str {
        &self.0.reasoning
    }
    /// The mention (LINK, NEW_ITEM, NEW_ALIAS).
    async fn entity(&self, ctx: &Context<'_>) -> ApiResult<Option<Entity>> {
        let Some(id) = self.0.entity_id else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<crate::graphql::loaders::EntityLoader>>().load_one(id).await?.map(Entity))
    }
    /// The entry to link to, add an alias to, or merge into.
    async fn item(&self, ctx: &Context<'_>) -> ApiResult<Option<KnowledgeItem>> {
        let Some(id) = self.0.item_id else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_one(id).await?.map(KnowledgeItem::new))
    }
    /// The entry to merge (MERGE).
    async fn source_item(&self, ctx: &Context<'_>) -> ApiResult<Option<KnowledgeItem>> {
        let Some(id) = self.0.source_item_id else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_one(id).await?.map(KnowledgeItem::new))
    }
    /// The new entry's name (NEW_ITEM) or the new alias (NEW_ALIAS).
    async fn proposed_name(&self) -> Option<&str> {
        self.0.proposed_name.as_deref()
    }
    /// The new entry's type (NEW_ITEM).
    async fn entity_type(&self, ctx: &Context<'_>) -> ApiResult<Option<EntityType>> {
        let Some(t) = self.0.entity_type_id else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<EntityTypeLoader>>().load_one(t).await?.map(EntityType))
    }
    /// The entry an approved NEW_ITEM made.
    async fn result_item(&self, ctx: &Context<'_>) -> ApiResult<Option<KnowledgeItem>> {
        let Some(id) = self.0.result_item_id else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_one(id).await?.map(KnowledgeItem::new))
    }
    async fn job_id(&self) -> Option<ID> {
        self.0.job_id.map(|j| ID(j.to_string()))
    }
    async fn reviewed_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.reviewed_by else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.reviewed_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
