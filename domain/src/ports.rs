//! The ports: what the domain needs from storage and from the outside world. Infrastructure
//! implements them; every mutating method writes its `AuditEntry` in the same transaction as
//! its change, so a change and its audit row exist together or not at all.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::audit::{AuditEntry, AuditFilter};
use crate::document::{
    Document, DocumentFields, DocumentHead, DocumentInfo, DocumentVersion, EntityCounts, ProcessingStatus,
};
use crate::entity::{Entity, EntityCursor, EntityFilter, EntitySlice, Rejection};
use crate::entity_type::{EntityType, EntityTypeFields};
use crate::error::DomainResult;
use crate::exchange::PlannedRelation;
use crate::ids::{AuditId, ProjectId, SessionId, UserId};
use crate::ids::{DocumentId, EntityId, EntityTypeId, RelationshipId};
use crate::ids::{KnowledgeItemId, KnowledgeLinkId, ProposalId};
use crate::job::{Job, JobAction, JobId, JobKind, JobStatus};
use crate::knowledge::index::CandidateIndex;
use crate::knowledge::proposal::{Proposal, ProposalCounts, ProposalKind, ProposalStatus};
use crate::knowledge::{KnowledgeItem, KnowledgeLink, KnowledgeVersion};
use crate::llm::model::{CallWindow, LlmModel, ModelFields, ModelId, ProcessingConfig, Reservation, ValidationStatus};
use crate::membership::{Membership, MembershipChange, Role};
use crate::policy::Actor;
use crate::project::{Project, ProjectFields};
use crate::relationship::Relationship;
use crate::rounds::assignment::{Assignment, AssignmentId, AssignmentState};
use crate::session::Session;
use crate::statistics::{EntityTally, RejectionRecord, SpanRecord};
use crate::user::{NewUser, User, UserLookup, UserPatch, UserProfile};

/// A page of results with the total count of the whole list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self { items: Vec::new(), total: 0 }
    }
}

/// Offset and size of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u64,
}

pub trait UserRepository {
    /// Creates the user and its empty profile. The first user ever registered becomes a global
    /// admin (decided inside the transaction). Errors: `Conflict` naming the taken field.
    async fn create_user(&self, new: NewUser, audit: AuditEntry) -> DomainResult<User>;
    async fn user_by_id(&self, id: UserId) -> DomainResult<Option<User>>;
    async fn users_by_ids(&self, ids: &[UserId]) -> DomainResult<Vec<User>>;
    /// The user and password hash for a username or (case-insensitive) email.
    async fn credentials(&self, username_or_email: &str) -> DomainResult<Option<(User, String)>>;
    /// The user a lookup names (a username exactly, an email case-insensitively), if any.
    async fn find_user(&self, lookup: &UserLookup) -> DomainResult<Option<User>>;
    async fn password_hash(&self, id: UserId) -> DomainResult<String>;
    async fn profile(&self, id: UserId) -> DomainResult<UserProfile>;
    /// Applies the patch and recomputes the profile completion. Errors: `NotFound`.
    async fn update_user(&self, id: UserId, patch: UserPatch, audit: AuditEntry) -> DomainResult<(User, UserProfile)>;
    /// Stores the new hash and revokes every session of the user but `keep`; returns how many
    /// sessions were revoked.
    async fn change_password(
        &self,
        id: UserId,
        new_hash: String,
        keep: SessionId,
        audit: AuditEntry,
    ) -> DomainResult<u64>;
}

pub trait SessionRepository {
    /// Stores a new session (by token hash) and stamps the user's last login.
    async fn create_session(&self, session: &Session, token_hash: &str, audit: AuditEntry) -> DomainResult<()>;
    /// The session and its user, if the token hash names a session valid at `now` whose user
    /// is active. Marks the session used.
    async fn authenticate(&self, token_hash: &str, now: DateTime<Utc>) -> DomainResult<Option<(Session, User)>>;
    async fn revoke_session(&self, id: SessionId, now: DateTime<Utc>, audit: AuditEntry) -> DomainResult<()>;
}

pub trait ProjectRepository {
    /// Inserts the project, and the creator's OWNER membership, with a slug from its name
    /// made unique among the projects the creator can see (public ones, their own, all for a
    /// global admin): projects hidden from the creator never change the slug they get, so a
    /// slug tells nothing about them. Creations of one slug are serialised.
    async fn create_project(&self, project: Project, owner: Membership, audit: AuditEntry) -> DomainResult<Project>;
    async fn project_by_id(&self, id: ProjectId) -> DomainResult<Option<Project>>;
    /// The project and the user's active role in it, in one read (every access check of a
    /// request starts here).
    async fn project_with_role(&self, id: ProjectId, user: UserId) -> DomainResult<Option<(Project, Option<Role>)>>;
    /// Every project with the slug, oldest first (slugs are unique only among the projects
    /// one user can see).
    async fn projects_by_slug(&self, slug: &str) -> DomainResult<Vec<Project>>;
    async fn projects_by_ids(&self, ids: &[ProjectId]) -> DomainResult<Vec<Project>>;
    /// Projects the actor is an active member of, plus public ones (all for global admins;
    /// public-with-public-view for anonymous callers), newest first.
    async fn visible_projects(&self, actor: Option<Actor>, page: PageRequest) -> DomainResult<Page<Project>>;
    async fn update_project(
        &self,
        id: ProjectId,
        fields: ProjectFields,
        by: UserId,
        audit: AuditEntry,
    ) -> DomainResult<Project>;
    async fn delete_project(&self, id: ProjectId, audit: AuditEntry) -> DomainResult<()>;
    /// The user's active roles in the given projects.
    async fn roles_of(&self, user: UserId, projects: &[ProjectId]) -> DomainResult<HashMap<ProjectId, Role>>;
    async fn members(&self, project: ProjectId, page: PageRequest) -> DomainResult<Page<Membership>>;
    async fn member_counts(&self, projects: &[ProjectId]) -> DomainResult<HashMap<ProjectId, u64>>;
    /// Applies a membership change after `membership::authorize_membership_change` approves
    /// it against the roles and owner count read in the same transaction. Returns the
    /// membership after the change (`None` after a removal). Errors: `NotFound` for an
    /// unknown target user, and whatever the rule answers.
    async fn change_membership(
        &self,
        project: ProjectId,
        actor: Actor,
        target: UserId,
        change: MembershipChange,
        audit: AuditEntry,
    ) -> DomainResult<Option<Membership>>;
}

pub trait AuditRepository {
    /// Records an entry that goes with no other change (a failed login, say).
    async fn record(&self, entry: AuditEntry) -> DomainResult<()>;
    /// Entries matching the filter, newest first (by id: ids are time-ordered), starting after
    /// the entry `after`; with the number of all matching entries.
    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        after: Option<AuditId>,
        limit: u64,
    ) -> DomainResult<Page<AuditEntry>>;
}

pub trait PasswordHasher {
    /// A PHC-format hash of the password.
    async fn hash(&self, password: &str) -> DomainResult<String>;
    /// Whether the password matches the hash (false for a malformed hash). With no hash (no
    /// such account) it spends the same time and answers false, so timing does not tell
    /// which usernames exist.
    async fn verify(&self, password: &str, hash: Option<&str>) -> DomainResult<bool>;
}

/// Issues session tokens: a random secret for the client, and the digest that is stored.
pub trait TokenIssuer {
    /// A new `(token, digest)` pair.
    fn issue(&self) -> (String, String);
    /// The stored digest of a token a client presents.
    fn digest(&self, token: &str) -> String;
}

/// What to do when an entity to insert has the exact span and type of an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Refuse the whole insert with CONFLICT.
    Conflict,
    /// Leave the existing entity and skip the new one.
    Skip,
}

/// A stored entity's span as a content edit finds it inside its write transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSpan {
    pub id: EntityId,
    /// The entity's layer (an edit of the content moves the entities of every layer).
    pub layer: crate::rounds::Layer,
    pub start: u32,
    pub end: u32,
    pub is_verified: bool,
}

/// A content edit, prepared outside the write transaction (the diff and the new text's index
/// and metrics are computed before it).
#[derive(Debug, Clone)]
pub struct ContentEdit {
    pub document: DocumentId,
    pub project: ProjectId,
    /// The version the edit was made against; the edit makes `expected_version + 1`.
    pub expected_version: u32,
    /// The new content, indexed (the store keeps it for the actions that follow).
    pub text: std::sync::Arc<crate::text::DocumentText>,
    /// The content at `expected_version` (the search index is moved from it line by line).
    pub previous: std::sync::Arc<crate::text::DocumentText>,
    pub content_hash: String,
    pub metrics: crate::text::TextMetrics,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// What a content edit does to the entities as stored when it commits.
#[derive(Debug, Clone)]
pub struct CarriedEntities {
    /// New placements of the entities whose placement changed (only those are written), but
    /// for those moved by a [`Shift`].
    pub rewrite: Vec<crate::entity::Placement>,
    /// Runs of entities that all move the same way (their text and contexts unchanged): one
    /// statement each moves a run, however many entities it holds.
    pub shifts: Vec<Shift>,
    /// Entities whose own text changed.
    pub dropped: Vec<EntityId>,
    /// The new version, its diff summary counting what happened to the entities.
    pub version: DocumentVersion,
}

/// Entities that all move by the same amounts: every entity of the document (all layers)
/// from `first` to `last` in reading order, both included. None of them changes its text or its
/// contexts, and no entity outside the run lies between them, so the run is a range of the
/// reading order and one UPDATE moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    pub first: crate::entity::EntityCursor,
    pub last: crate::entity::EntityCursor,
    pub by: PlacementDelta,
}

impl Shift {
    /// Whether the entity at `at` (as stored before the edit) is one the shift moves.
    pub fn holds(&self, at: crate::entity::EntityCursor) -> bool {
        self.first <= at && at <= self.last
    }
}

/// How a placement moves: what is added to each of its numbers (to start and end alike, the
/// entity's text being unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlacementDelta {
    pub chars: i64,
    pub utf16: i64,
    pub lines: i64,
    pub stanzas: i64,
    pub words: i64,
}

impl PlacementDelta {
    /// The move from `was` to `now`, if it is a pure shift: same length in both counts, same
    /// contexts.
    pub fn between(was: &crate::entity::Placement, now: &crate::entity::Placement) -> Option<Self> {
        let d = |a: u32, b: u32| i64::from(b) - i64::from(a);
        let chars = d(was.start, now.start);
        let utf16 = d(was.utf16_start, now.utf16_start);
        let same_shape = d(was.end, now.end) == chars
            && d(was.utf16_end, now.utf16_end) == utf16
            && was.context_before == now.context_before
            && was.context_after == now.context_after;
        same_shape.then(|| Self {
            chars,
            utf16,
            lines: d(was.line_number, now.line_number),
            stanzas: d(was.stanza_number, now.stanza_number),
            words: d(was.word_position, now.word_position),
        })
    }
}

/// Uploaded originals (artifacts) and the documents made from them.
pub trait ArtifactRepository {
    /// Inserts the documents, each with its first version and its original, all or none, with
    /// the audit entries, in one transaction. An original whose SHA-256 is already stored is
    /// linked, not stored again. Errors: `Conflict` naming the existing document when a
    /// project already holds the same content (or two of `documents` hold the same).
    async fn create_uploaded_documents(
        &self,
        documents: Vec<(Document, DocumentVersion, crate::artifact::NewArtifact)>,
        audit: Vec<AuditEntry>,
    ) -> DomainResult<Vec<Document>>;
    /// The original a document was made from.
    async fn artifact_of_document(&self, document: DocumentId) -> DomainResult<Option<crate::artifact::Artifact>>;
    /// The originals of documents, keyed by document.
    async fn artifacts_of_documents(
        &self,
        documents: &[DocumentId],
    ) -> DomainResult<HashMap<DocumentId, crate::artifact::Artifact>>;
    /// The projects of the documents that link an artifact (empty when it does not exist).
    async fn artifact_projects(&self, id: crate::ids::ArtifactId) -> DomainResult<Vec<ProjectId>>;
    /// An artifact and its bytes.
    async fn artifact_content(
        &self,
        id: crate::ids::ArtifactId,
    ) -> DomainResult<Option<(crate::artifact::Artifact, Vec<u8>)>>;
}

pub trait DocumentRepository {
    /// Inserts the document and its first version. Errors: `Conflict` naming the existing
    /// document when the project already holds the same content.
    async fn create_document(
        &self,
        document: Document,
        first: DocumentVersion,
        audit: AuditEntry,
    ) -> DomainResult<Document>;
    async fn document_by_id(&self, id: DocumentId) -> DomainResult<Option<Document>>;
    /// The document without its content.
    async fn document_head(&self, id: DocumentId) -> DomainResult<Option<DocumentHead>>;
    /// The indexed text of the content `head` names (by its hash). The store keeps recently
    /// used texts in memory, so actions on one version of a document do not read and index
    /// its whole text each time. Errors: `Conflict` when the content changed since `head` was
    /// read; `NotFound` when the document is gone.
    async fn document_text(&self, head: &DocumentHead) -> DomainResult<std::sync::Arc<crate::text::DocumentText>>;
    /// The contents of documents, each as of the content hash given (a document whose content
    /// has another hash now, or which is gone, is left out): the cached text's when the store
    /// holds it, else read in one statement (not indexed: a client reading the text needs no
    /// index).
    async fn document_contents(
        &self,
        documents: &[(DocumentId, String)],
    ) -> DomainResult<HashMap<(DocumentId, String), std::sync::Arc<str>>>;
    async fn documents_by_ids(&self, ids: &[DocumentId]) -> DomainResult<Vec<Document>>;
    /// The documents without their content (what a page of entities, the counts or a list
    /// needs; the text is read by [`document_text`](Self::document_text) when asked for).
    async fn document_infos_by_ids(&self, ids: &[DocumentId]) -> DomainResult<Vec<DocumentInfo>>;
    /// A project's documents, oldest first, without their content, those the filter keeps.
    async fn documents_of_project(
        &self,
        project: ProjectId,
        filter: &crate::document::DocumentFilter,
        page: PageRequest,
    ) -> DomainResult<Page<DocumentInfo>>;
    /// Numbers of documents and of entities per project.
    async fn project_totals(&self, projects: &[ProjectId]) -> DomainResult<HashMap<ProjectId, (u64, u64)>>;
    async fn update_document(
        &self,
        id: DocumentId,
        fields: DocumentFields,
        by: UserId,
        audit: AuditEntry,
    ) -> DomainResult<DocumentInfo>;
    /// Every entity's span, for preparing a content edit (read outside any write).
    async fn entity_spans(&self, document: DocumentId) -> DomainResult<Vec<StoredSpan>>;
    /// Applies a content edit if the document is still at `edit.expected_version` (else
    /// `Conflict`), in one transaction: `carry` gets the entities' spans as stored inside it
    /// (so an entity added meanwhile is carried too) and says what to write and drop.
    /// Errors: `NotFound`, `Conflict` (another version, or content another document of the
    /// project holds).
    async fn update_content(
        &self,
        edit: ContentEdit,
        carry: impl FnOnce(Vec<StoredSpan>) -> DomainResult<CarriedEntities> + Send,
        audit: AuditEntry,
    ) -> DomainResult<Document>;
    async fn delete_document(&self, id: DocumentId, audit: AuditEntry) -> DomainResult<()>;
    /// All versions of a document, newest first.
    async fn versions(&self, document: DocumentId) -> DomainResult<Vec<DocumentVersion>>;
}

pub trait EntityTypeRepository {
    /// All types, ordered by sort order, then name.
    async fn entity_types(&self) -> DomainResult<Vec<EntityType>>;
    async fn entity_types_by_ids(&self, ids: &[EntityTypeId]) -> DomainResult<Vec<EntityType>>;
    /// Errors: `Conflict` when the name is taken.
    async fn create_entity_type(&self, entity_type: EntityType, audit: AuditEntry) -> DomainResult<EntityType>;
    async fn update_entity_type(
        &self,
        id: EntityTypeId,
        fields: EntityTypeFields,
        audit: AuditEntry,
    ) -> DomainResult<EntityType>;
}

pub trait EntityRepository {
    /// Inserts entities of one document with multi-row inserts in one transaction, keeping
    /// the document's counts exact; returns those inserted.
    async fn insert_entities(
        &self,
        document: DocumentId,
        entities: Vec<Entity>,
        on_duplicate: OnDuplicate,
        audit: AuditEntry,
    ) -> DomainResult<Vec<Entity>>;
    /// As [`insert_entities`](Self::insert_entities), for entities placed in the text of the
    /// document's version `version`: `Conflict` (and nothing inserted) if the content changed
    /// since, so no entity lands on offsets of another text.
    async fn insert_entities_at(
        &self,
        document: DocumentId,
        version: u32,
        entities: Vec<Entity>,
        on_duplicate: OnDuplicate,
        audit: AuditEntry,
    ) -> DomainResult<Vec<Entity>>;
    async fn entity_by_id(&self, id: EntityId) -> DomainResult<Option<Entity>>;
    async fn entities_by_ids(&self, ids: &[EntityId]) -> DomainResult<Vec<Entity>>;
    /// Up to `limit` entities of each document matching the filter, in reading order (start,
    /// end, id), after `after` (from the first when `None`), with whether more follow: one
    /// round trip for all the documents, each a range of the reading-order index.
    async fn entities_after(
        &self,
        documents: &[DocumentId],
        filter: &EntityFilter,
        after: Option<EntityCursor>,
        limit: u64,
    ) -> DomainResult<HashMap<DocumentId, EntitySlice>>;
    /// How many entities of each document match the filter (documents with none are missing).
    async fn count_matching(
        &self,
        documents: &[DocumentId],
        filter: &EntityFilter,
    ) -> DomainResult<HashMap<DocumentId, u64>>;
    /// Stores a changed entity (never its verification). With `placed_at`, the entity was
    /// placed in the text of that version of its document: `Conflict` if the content changed
    /// since. Errors: `Conflict` if it now duplicates another span; `NotFound`.
    async fn update_entity(&self, entity: Entity, placed_at: Option<u32>, audit: AuditEntry) -> DomainResult<Entity>;
    /// Deletes the entity; a rejected model suggestion is kept on record.
    async fn delete_entity(&self, id: EntityId, rejection: Option<Rejection>, audit: AuditEntry) -> DomainResult<()>;
    /// Marks entities verified (with who and when) or unverified, and sets their notes when
    /// given, writing the audit rows (one per project touched) in the same transaction.
    /// Errors: `NotFound` if any id is unknown.
    async fn set_verified(
        &self,
        ids: &[EntityId],
        verified_by: Option<(UserId, DateTime<Utc>)>,
        notes: Option<String>,
        audits: Vec<AuditEntry>,
    ) -> DomainResult<Vec<Entity>>;
    /// Counts of one layer straight from the entity rows (the stored counts must always equal
    /// these).
    async fn count_entities(&self, document: DocumentId, layer: crate::rounds::Layer) -> DomainResult<EntityCounts>;
    /// The stored counts of one layer of each document (documents whose layer holds nothing
    /// are missing): the curated layer's are the document's own counts.
    async fn layer_counts(
        &self,
        documents: &[DocumentId],
        layer: crate::rounds::Layer,
    ) -> DomainResult<HashMap<DocumentId, EntityCounts>>;
    /// The distinct (text, type) of the entities researchers verified in a project's curated
    /// layer.
    async fn verified_names(&self, project: ProjectId) -> DomainResult<Vec<(String, EntityTypeId)>>;
}

/// Which (document, annotator) pairs to add, given each annotator's load in the project and
/// the pairs assigned already (both read inside the assigning transaction).
pub type AssignmentPlan = Box<
    dyn FnOnce(
            &HashMap<UserId, u64>,
            &std::collections::HashSet<(DocumentId, UserId)>,
        ) -> DomainResult<Vec<(DocumentId, UserId)>>
        + Send,
>;

/// How an assignment changes, given it as stored (read under its lock).
pub type AssignmentChange = Box<dyn FnOnce(Assignment) -> DomainResult<Assignment> + Send>;

/// Assignments of documents to annotators. Every write to an annotator's layer of a document
/// (in the entity repository) claims that annotator's assignment in its own transaction: NEW
/// becomes IN_PROGRESS and `touched_at` moves; a FINISHED or LOCKED assignment refuses the
/// write (CONFLICT) and a missing one FORBIDDEN. The claim and a state change lock the same
/// row, so an edit racing `finishAssignment` lands before FINISHED or not at all.
pub trait AssignmentRepository {
    /// Adds what `plan` says (serialised per project: two plans never read the same loads),
    /// returns the assignments of the given documents to the given annotators afterwards.
    async fn assign(
        &self,
        project: ProjectId,
        documents: &[DocumentId],
        annotators: &[UserId],
        plan: AssignmentPlan,
        audit: AuditEntry,
    ) -> DomainResult<Vec<Assignment>>;
    async fn assignment_by_id(&self, id: AssignmentId) -> DomainResult<Option<Assignment>>;
    /// Changes an assignment as `change` says; the audit row is written with it.
    async fn change_assignment(
        &self,
        id: AssignmentId,
        change: AssignmentChange,
        audit: AuditEntry,
    ) -> DomainResult<Assignment>;
    /// One annotator's assignments in a project, oldest first.
    async fn assignments_of(
        &self,
        project: ProjectId,
        annotator: UserId,
        page: PageRequest,
    ) -> DomainResult<Page<Assignment>>;
    /// Every assignment of a project (of these documents only, when given), by document then
    /// annotator.
    async fn project_assignments(
        &self,
        project: ProjectId,
        documents: Option<&[DocumentId]>,
    ) -> DomainResult<Vec<Assignment>>;
    /// How many assignments each annotator holds in each state.
    async fn assignment_counts(&self, project: ProjectId) -> DomainResult<Vec<(UserId, AssignmentState, u64)>>;
    /// The models' layers (by model id) holding at least one entity, of these documents of a
    /// project: `(document, model)` pairs, each once.
    async fn model_layers(
        &self,
        project: ProjectId,
        documents: &[DocumentId],
    ) -> DomainResult<Vec<(DocumentId, uuid::Uuid)>>;
    /// Puts back to NEW every IN_PROGRESS assignment untouched for its project's
    /// `abandon_after_hours` at `now`; returns how many.
    async fn reopen_abandoned(&self, now: DateTime<Utc>) -> DomainResult<u64>;
}

/// One step of a document's curation, given what it reads under the curation lock.
pub type CurationStep = Box<
    dyn FnOnce(crate::rounds::curating::CurationInputs) -> DomainResult<crate::rounds::curating::CurationWrite> + Send,
>;

/// The audit rows of a curation step, given what it writes.
pub type CurationAudits = Box<dyn FnOnce(&crate::rounds::curating::CurationWrite) -> Vec<AuditEntry> + Send>;

/// Curation (issue 12): the steps over one document are serialised (one document's curation
/// lock; entity writes in its layers are not held up by it).
pub trait CurationRepository {
    /// Reads the document's curation inputs under its lock, runs `step` and writes what it says
    /// in the same transaction: the entities into the curated layer (CONFLICT if the content
    /// changed since the version read), the decisions, the record, and the audit rows
    /// (`audits(&write)`, written with it). Returns the write with the entities as stored.
    /// Errors: `NotFound` for a missing document.
    async fn curation_step(
        &self,
        document: DocumentId,
        step: CurationStep,
        audits: CurationAudits,
    ) -> DomainResult<crate::rounds::curating::CurationWrite>;
    /// The document's curation inputs as they stand (no lock).
    async fn curation_inputs(&self, document: DocumentId) -> DomainResult<crate::rounds::curating::CurationInputs>;
    async fn curation_record(
        &self,
        document: DocumentId,
    ) -> DomainResult<Option<crate::rounds::curating::CurationRecord>>;
}

pub trait RelationshipRepository {
    /// Errors: `Conflict` when (source, target, type) exists.
    async fn create_relationship(&self, relationship: Relationship, audit: AuditEntry) -> DomainResult<Relationship>;
    async fn relationship_by_id(&self, id: RelationshipId) -> DomainResult<Option<Relationship>>;
    async fn delete_relationship(&self, id: RelationshipId, audit: AuditEntry) -> DomainResult<()>;
    /// Relationships whose source (outgoing) or target (incoming) is among `entities`.
    async fn relationships_of(&self, entities: &[EntityId], outgoing: bool) -> DomainResult<Vec<Relationship>>;
}

/// What a listing of knowledge-base entries is narrowed to (every given part must hold).
#[derive(Debug, Clone, Default)]
pub struct KnowledgeFilter {
    pub entity_type_id: Option<EntityTypeId>,
    pub approved: Option<bool>,
    /// Only these entries (the ids a search of the candidate index found).
    pub ids: Option<Vec<KnowledgeItemId>>,
}

/// An entry after a merge, and the entries merged into it, each with its new version.
#[derive(Debug, Clone)]
pub struct MergePlan {
    pub target: (KnowledgeItem, KnowledgeVersion),
    pub sources: Vec<(KnowledgeItem, KnowledgeVersion)>,
}

/// How an entry changes: given the entry as stored (read inside the write transaction), the
/// entry as it is to be and the version that records it, or why not.
pub type ItemChange = Box<dyn FnOnce(KnowledgeItem) -> DomainResult<(KnowledgeItem, KnowledgeVersion)> + Send>;

/// How entries merge: given the target and the sources as stored, the plan, or why not.
pub type ItemMerge = Box<dyn FnOnce(KnowledgeItem, Vec<KnowledgeItem>) -> DomainResult<MergePlan> + Send>;

/// The knowledge base. Every write raises the project's knowledge revision in its transaction
/// (which also serialises the project's knowledge writes), so an in-memory index knows when
/// it is stale. Entries merged or deleted are not live: they are never changed again, and no
/// mention or link is made to them.
pub trait KnowledgeRepository {
    /// Inserts an entry and its first version; with `link`, links that entity to it in the
    /// same transaction. Errors: `NotFound` for an entity gone meanwhile, `Conflict` for one
    /// that is linked already.
    async fn create_item(
        &self,
        item: KnowledgeItem,
        version: KnowledgeVersion,
        link: Option<EntityId>,
        audit: AuditEntry,
    ) -> DomainResult<KnowledgeItem>;
    /// An entry, live or not.
    async fn item_by_id(&self, id: KnowledgeItemId) -> DomainResult<Option<KnowledgeItem>>;
    async fn items_by_ids(&self, ids: &[KnowledgeItemId]) -> DomainResult<Vec<KnowledgeItem>>;
    /// A project's live entries, in creation order.
    async fn items_of_project(
        &self,
        project: ProjectId,
        filter: &KnowledgeFilter,
        page: PageRequest,
    ) -> DomainResult<Page<KnowledgeItem>>;
    /// Changes a live entry as `change` says, storing its new version. Errors: `NotFound` for
    /// an entry that is not live, and whatever `change` answers.
    async fn change_item(
        &self,
        id: KnowledgeItemId,
        change: ItemChange,
        audit: AuditEntry,
    ) -> DomainResult<KnowledgeItem>;
    /// Merges live entries into a live target as `plan` says: the sources' mentions and links
    /// go to the target (a link that would join the target to itself, or repeat one it has,
    /// is dropped), the sources stop being live. Errors: `NotFound` when one is not live.
    async fn merge_items(
        &self,
        target: KnowledgeItemId,
        sources: &[KnowledgeItemId],
        plan: ItemMerge,
        audit: AuditEntry,
    ) -> DomainResult<KnowledgeItem>;
    /// Deletes a live entry as `change` says (its last version): its mentions are unlinked and
    /// its links removed. Returns how many mentions were unlinked.
    async fn delete_item(&self, id: KnowledgeItemId, change: ItemChange, audit: AuditEntry) -> DomainResult<u64>;
    /// An entry's versions, newest first.
    async fn versions(&self, item: KnowledgeItemId) -> DomainResult<Vec<KnowledgeVersion>>;
    /// The entries merged into each of `items`.
    async fn merged_into(&self, items: &[KnowledgeItemId]) -> DomainResult<Vec<KnowledgeItem>>;
    /// Errors: `Conflict` when (from, to, type) exists, `NotFound` when an end is not live.
    async fn create_link(&self, link: KnowledgeLink, audit: AuditEntry) -> DomainResult<KnowledgeLink>;
    async fn link_by_id(&self, id: KnowledgeLinkId) -> DomainResult<Option<KnowledgeLink>>;
    async fn delete_link(&self, id: KnowledgeLinkId, audit: AuditEntry) -> DomainResult<()>;
    /// Links from (outgoing) or to (incoming) any of `items`.
    async fn links_of(&self, items: &[KnowledgeItemId], outgoing: bool) -> DomainResult<Vec<KnowledgeLink>>;
    /// Links each entity to its entry, in one transaction; with `only_unlinked`, an entity
    /// linked meanwhile is left as it is. Returns the entities linked. Errors: `NotFound` when
    /// an entry is not live (or, without `only_unlinked`, an entity is gone).
    async fn link_mentions(
        &self,
        links: &[(EntityId, KnowledgeItemId)],
        only_unlinked: bool,
        audit: AuditEntry,
    ) -> DomainResult<Vec<EntityId>>;
    /// Unlinks the entities. Errors: `NotFound` when one is gone.
    async fn unlink_mentions(&self, entities: &[EntityId], audit: AuditEntry) -> DomainResult<()>;
    /// The entry each linked entity among `entities` is linked to.
    async fn entity_items(&self, entities: &[EntityId]) -> DomainResult<HashMap<EntityId, KnowledgeItemId>>;
    /// Entities linked to an entry, by document then start offset.
    async fn mentions(&self, item: KnowledgeItemId, page: PageRequest) -> DomainResult<Page<Entity>>;
    /// Mentions of each entry.
    async fn mention_counts(&self, items: &[KnowledgeItemId]) -> DomainResult<HashMap<KnowledgeItemId, u64>>;
    /// Mentions of an entry per document, by document.
    async fn mentions_by_document(&self, item: KnowledgeItemId) -> DomainResult<Vec<(DocumentId, u64)>>;
    /// A project's entities linked to no entry (of the given documents only, when given).
    async fn unlinked_entities(
        &self,
        project: ProjectId,
        documents: Option<&[DocumentId]>,
    ) -> DomainResult<Vec<Entity>>;
    /// Where each linked mention of a project stands.
    async fn placements(&self, project: ProjectId) -> DomainResult<Vec<crate::knowledge::cooccurrence::Placement>>;
    /// The names and aliases of a project's approved live entries, with their types.
    async fn approved_names(&self, project: ProjectId) -> DomainResult<Vec<(String, EntityTypeId)>>;
    /// Runs `f` on the project's candidate index, brought up to date first.
    async fn with_candidate_index<R: Send>(
        &self,
        project: ProjectId,
        f: impl FnOnce(&CandidateIndex) -> R + Send,
    ) -> DomainResult<R>;
    /// A project's proposals matching the filter, oldest first.
    async fn proposals(
        &self,
        project: ProjectId,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> DomainResult<Page<Proposal>>;
    async fn proposals_by_ids(&self, ids: &[ProposalId]) -> DomainResult<Vec<Proposal>>;
    /// The proposals of each job, counted by status.
    async fn proposal_counts(&self, jobs: &[JobId]) -> DomainResult<HashMap<JobId, ProposalCounts>>;
    /// Reviews proposals, in order, in one transaction: for each, `decide` gets the proposal
    /// and what it names as stored (after the revision lock) and answers the proposal as
    /// reviewed and the change it makes, which is applied before the next. Errors: `NotFound`
    /// for an unknown proposal, and whatever `decide` answers (nothing is written then).
    async fn review_proposals(
        &self,
        ids: &[ProposalId],
        decide: ProposalDecide,
        audit: AuditEntry,
    ) -> DomainResult<Vec<Proposal>>;
}

/// Which proposals to list.
#[derive(Debug, Clone, Default)]
pub struct ProposalFilter {
    pub status: Option<ProposalStatus>,
    pub kind: Option<ProposalKind>,
    pub job: Option<JobId>,
}

/// What a proposal names, as stored when it is reviewed.
#[derive(Debug, Clone, Default)]
pub struct ReviewContext {
    /// The proposal's entries (`item_id`, `source_item_id`), live or not.
    pub items: HashMap<KnowledgeItemId, KnowledgeItem>,
    /// The proposal's mention and the entry it is linked to now.
    pub entity: Option<(Entity, Option<KnowledgeItemId>)>,
}

/// What approving a proposal changes.
#[derive(Debug, Clone)]
pub enum ProposalEffect {
    /// Nothing (a rejection).
    Nothing,
    Link {
        entity: EntityId,
        item: KnowledgeItemId,
    },
    /// A new entry (and its first version), and the mention to link to it.
    NewItem {
        item: KnowledgeItem,
        version: KnowledgeVersion,
        link: Option<EntityId>,
    },
    /// An entry with a new alias (and that version), and the mention to link to it.
    AddAlias {
        item: KnowledgeItem,
        version: KnowledgeVersion,
        link: Option<EntityId>,
    },
    Merge(MergePlan),
}

/// How a review decides each proposal (see `KnowledgeRepository::review_proposals`).
pub type ProposalDecide = Box<dyn FnMut(Proposal, ReviewContext) -> DomainResult<(Proposal, ProposalEffect)> + Send>;

/// One call made to a model, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCall {
    pub job_id: Option<JobId>,
    pub llm_model_id: ModelId,
    pub project_id: Option<ProjectId>,
    pub user_id: Option<UserId>,
    pub chunk_index: Option<u32>,
    pub attempt: u32,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cost: f64,
    pub latency_ms: u32,
    /// The failure, for a failed call.
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

pub trait ModelRepository {
    /// All models, highest priority first, then by name.
    async fn models(&self) -> DomainResult<Vec<LlmModel>>;
    async fn model_by_id(&self, id: ModelId) -> DomainResult<Option<LlmModel>>;
    /// The active default model of the highest priority (the built-in one on a fresh install).
    async fn default_model(&self) -> DomainResult<Option<LlmModel>>;
    /// Inserts a model; a default model clears the other defaults of its provider in the same
    /// transaction. Errors: `Conflict` for a taken name.
    async fn create_model(
        &self,
        model: LlmModel,
        encrypted_key: Option<String>,
        audit: AuditEntry,
    ) -> DomainResult<LlmModel>;
    /// `encrypted_key`: `None` keeps the key, `Some(None)` removes it.
    async fn update_model(
        &self,
        id: ModelId,
        fields: ModelFields,
        encrypted_key: Option<Option<String>>,
        audit: AuditEntry,
    ) -> DomainResult<LlmModel>;
    async fn delete_model(&self, id: ModelId, audit: AuditEntry) -> DomainResult<()>;
    /// The stored (encrypted) key of a model.
    async fn encrypted_key(&self, id: ModelId) -> DomainResult<Option<String>>;
    /// Records a call and updates the model's counters and running mean in one transaction.
    async fn record_call(&self, call: ModelCall) -> DomainResult<()>;
    /// Reserves a call to a model under its rate limits, atomically (one transaction, with
    /// the model's row locked on PostgreSQL), so that workers and replicas calling at once
    /// never exceed a limit: `Granted` records the reservation at `now`; `WaitUntil` names
    /// the moment the oldest reservation in a full window leaves it (nothing is recorded).
    async fn reserve_call(
        &self,
        model: ModelId,
        windows: &[CallWindow],
        now: DateTime<Utc>,
    ) -> DomainResult<Reservation>;
    async fn set_validation(
        &self,
        id: ModelId,
        status: ValidationStatus,
        error: Option<String>,
        audit: Option<AuditEntry>,
    ) -> DomainResult<LlmModel>;
}

pub trait ConfigRepository {
    async fn configs(&self) -> DomainResult<Vec<ProcessingConfig>>;
    async fn config_by_id(&self, id: uuid::Uuid) -> DomainResult<Option<ProcessingConfig>>;
    async fn default_config(&self) -> DomainResult<Option<ProcessingConfig>>;
    /// Errors: `Conflict` for a taken name.
    async fn create_config(&self, config: ProcessingConfig, audit: AuditEntry) -> DomainResult<ProcessingConfig>;
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub project_id: Option<ProjectId>,
    pub document_id: Option<DocumentId>,
    pub status: Option<JobStatus>,
    pub kind: Option<JobKind>,
    /// Only jobs of projects this user is an active member of (`None`: all, for admins).
    pub member: Option<UserId>,
}

pub trait JobRepository {
    /// Stores a QUEUED job and sets its document's processing status.
    async fn create_job(&self, job: Job, audit: AuditEntry) -> DomainResult<Job>;
    async fn job_by_id(&self, id: JobId) -> DomainResult<Option<Job>>;
    /// Newest first.
    async fn jobs(&self, filter: &JobFilter, page: PageRequest) -> DomainResult<Page<Job>>;
    /// Counts of jobs per status.
    async fn job_counts(&self) -> DomainResult<HashMap<JobStatus, u64>>;
    /// Claims the queued job of highest priority (oldest first among equals) for `worker`,
    /// atomically: PROCESSING, one more attempt, a lease until `lease_until`. No two workers
    /// (of any replica) can claim the same job.
    async fn claim_next(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> DomainResult<Option<Job>>;
    /// Extends the lease of a job the worker still holds; false when it lost it.
    async fn extend_lease(&self, id: JobId, worker: &str, lease_until: DateTime<Utc>) -> DomainResult<bool>;
    /// Applies a researcher's action (`job::apply_action`) in one transaction.
    async fn act_on_job(&self, id: JobId, action: JobAction, audit: AuditEntry) -> DomainResult<Job>;
}

/// Encrypts secrets at rest (model API keys).
pub trait SecretCipher {
    fn encrypt(&self, plaintext: &str) -> DomainResult<String>;
    fn decrypt(&self, stored: &str) -> DomainResult<String>;
}

/// Counters of rate-limited actions, kept where every server process (and a restarted one)
/// sees them.
pub trait RateLimitRepository {
    /// Counts `actions` actions against each bucket in the window that starts at
    /// `window_start` (Unix seconds), in one statement; a bucket last counted in an older
    /// window starts again from `actions`. Returns each bucket's count in the window, in the
    /// order given.
    async fn hit(&self, buckets: &[String], window_start: i64, actions: u32) -> DomainResult<Vec<u32>>;
}

/// Attempt counters of sign-ins (per account, per address), kept where every server process
/// sees them.
pub trait LoginThrottleRepository {
    /// Counts one attempt against each bucket under its policy
    /// ([`ThrottlePolicy::attempt`](crate::throttle::ThrottlePolicy::attempt)), in one atomic
    /// step: attempts sent at once (by any server) are counted one after another. When any
    /// bucket refuses, nothing is counted. Returns each bucket's verdict, in the order given
    /// (`Err(seconds to wait)` while it cools down).
    async fn attempt(
        &self,
        buckets: &[(String, crate::throttle::ThrottlePolicy)],
        now: DateTime<Utc>,
    ) -> DomainResult<Vec<Result<(), u64>>>;
    /// After a counted attempt succeeded: takes it back from each bucket
    /// ([`ThrottlePolicy::refund`](crate::throttle::ThrottlePolicy::refund)).
    async fn succeeded(&self, buckets: &[(String, crate::throttle::ThrottlePolicy)]) -> DomainResult<()>;
}

/// Removal of what has outlived its use.
pub trait RetentionRepository {
    /// Deletes sessions that expired, or were revoked, before `before`; returns how many.
    async fn delete_sessions_ended_before(&self, before: DateTime<Utc>) -> DomainResult<u64>;
    /// Deletes audit rows written before `before`; returns how many.
    async fn delete_audit_before(&self, before: DateTime<Utc>) -> DomainResult<u64>;
    /// Deletes model-call records written before `before`; returns how many. (Model usage
    /// and a job's tokens are summed when recorded, so they stay.)
    async fn delete_model_calls_before(&self, before: DateTime<Utc>) -> DomainResult<u64>;
    /// Deletes rate-limit counters of windows that started before `window_start`.
    async fn delete_rate_limits_before(&self, window_start: i64) -> DomainResult<u64>;
    /// Deletes sign-in attempt counters whose window started, and whose cooldown ended,
    /// before `before`.
    async fn delete_login_throttles_before(&self, before: DateTime<Utc>) -> DomainResult<u64>;
}

/// The documents an export or a statistic covers: a whole project, or one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Project(ProjectId),
    Document(DocumentId),
}

/// Documents with their entities and the relationships among those, read in one transaction so
/// an export is consistent even while others edit.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Oldest first.
    pub documents: Vec<Document>,
    /// By document, then start offset.
    pub entities: Vec<Entity>,
    /// Relationships whose source is among the scope's entities.
    pub relationships: Vec<Relationship>,
}

/// A document an import creates, with its annotations.
#[derive(Debug, Clone)]
pub struct ImportedDocument {
    pub document: Document,
    pub first_version: DocumentVersion,
    /// Each span and type once.
    pub entities: Vec<Entity>,
    /// Between `entities`, by index.
    pub relations: Vec<PlannedRelation>,
}

/// What an import into an existing document stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportCounts {
    pub created: u32,
    /// Entities whose span and type the document already had.
    pub skipped: u32,
    pub relationships_created: u32,
}

pub trait ExchangeRepository {
    /// The scope's documents, the entities of one layer (only verified ones when
    /// `verified_only`) and the relationships from those entities, in one read transaction.
    async fn snapshot(&self, scope: Scope, layer: crate::rounds::Layer, verified_only: bool) -> DomainResult<Snapshot>;
    /// Stores imported entities of one document's layer, and relationships between them, in one
    /// transaction with multi-row inserts (claiming the layer's assignment, as every write to
    /// an annotator's layer does). An entity whose span and type the layer already has is skipped, and its relationships go to the existing entity; a relationship that
    /// exists is not made twice. The audit entry's changes get `created`, `skipped` and
    /// `relationshipsCreated`.
    async fn import_entities(
        &self,
        document: DocumentId,
        layer: crate::rounds::Layer,
        entities: Vec<Entity>,
        relations: Vec<PlannedRelation>,
        audit: AuditEntry,
    ) -> DomainResult<ImportCounts>;
    /// Creates documents with their entities and relationships in one transaction. Errors:
    /// `Conflict` naming the existing document when the project already holds one of the texts.
    async fn import_documents(
        &self,
        documents: Vec<ImportedDocument>,
        audit: AuditEntry,
    ) -> DomainResult<Vec<Document>>;
}

pub trait StatisticsRepository {
    /// The scope's entities of one layer counted by (type, source, verified, verifier).
    async fn entity_tallies(&self, scope: Scope, layer: crate::rounds::Layer) -> DomainResult<Vec<EntityTally>>;
    /// A project's documents counted by processing status (statuses without documents left out).
    async fn documents_by_status(&self, project: ProjectId) -> DomainResult<Vec<(ProcessingStatus, u64)>>;
    /// What model quality is measured on: the entities that are model suggestions or that
    /// researchers stand behind (verified, MANUAL, CORRECTION), and the rejected suggestions;
    /// of the scope's documents (every document without a scope), and with a model, only of
    /// the documents where that model made suggestions; the entities of one layer.
    async fn quality_records(
        &self,
        scope: Option<Scope>,
        model: Option<uuid::Uuid>,
        layer: crate::rounds::Layer,
    ) -> DomainResult<(Vec<SpanRecord>, Vec<RejectionRecord>)>;
}

pub trait UsageRepository {
    /// The calls recorded in `[from, to)`, of one project and/or one user when given.
    async fn calls_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        project: Option<ProjectId>,
        user: Option<UserId>,
    ) -> DomainResult<Vec<crate::usage::CallRecord>>;
}

/// Time, for the services that wait (retries, rate limits): the system clock and the
/// runtime's timer in production, a virtual clock in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn sleep(&self, duration: std::time::Duration) -> impl Future<Output = ()> + Send;
}

/// The store as the use cases that end a dead run see it (`service::processing::dead_runs`):
/// a run whose worker is gone, because its server stopped (the lease expired) or its run
/// panicked. Each goes back to the queue with its progress and checkpoint kept, or FAILS with
/// the given message when it may not run again (`Job::may_run_again`), in one conditional
/// UPDATE per outcome (with the document's processing status and the job's webhook), so a job
/// claimed or extended meanwhile is left alone. Errors: `Transient` or `Internal`.
pub trait DeadRunStore: Send + Sync {
    /// Ends the runs of PROCESSING jobs whose lease expired before `now`, failing with
    /// `failure` those at the attempts cap. Returns the jobs as they became.
    fn requeue_expired(&self, now: DateTime<Utc>, failure: &str)
    -> impl Future<Output = DomainResult<Vec<Job>>> + Send;
    /// Ends a run whose worker died under it (a panic), if `worker` still holds the job,
    /// failing it with `failure` at the attempts cap. Returns the job as it became, `None`
    /// when the worker no longer held it.
    fn release_dead_run(
        &self,
        id: JobId,
        worker: &str,
        failure: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = DomainResult<Option<Job>>> + Send;
}

/// A job's state at the end of a step, and the lease a write of it depends on: a write with a
/// fence commits only while `worker` holds the job (PROCESSING, lease owner `worker`), and
/// extends the lease to `lease_until`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fence {
    pub job: Job,
    pub worker: String,
    pub lease_until: DateTime<Utc>,
}

/// The store as a running job sees it (every kind). Errors: `Transient` for a fault worth
/// trying again, `Internal` for others.
pub trait JobRunStore: Send + Sync {
    /// Stores the fence's progress, counters, error details, document version and checkpoint,
    /// and extends the lease, if the fence's worker still holds the job. Returns the job as
    /// stored (with the cancel or pause a researcher may have asked for meanwhile), `None` when
    /// the lease was lost (nothing is written then).
    fn save_progress(&self, fence: &Fence) -> impl Future<Output = DomainResult<Option<Job>>> + Send;
    /// Ends a run, if `worker` still holds the job: the final (or PAUSED) status, the
    /// document's processing status with it, the lease released. Returns the job as stored
    /// (tokens and cost as the recorded calls summed them), `None` when the lease was lost.
    fn finish_run(&self, job: &Job, worker: &str) -> impl Future<Output = DomainResult<Option<Job>>> + Send;
}

/// The entities one step of an extraction job found, placed in `version` of the document,
/// whose content was `text`.
#[derive(Debug, Clone)]
pub struct SuggestionBatch {
    pub document: DocumentId,
    pub version: u32,
    pub text: std::sync::Arc<str>,
    pub entities: Vec<Entity>,
    /// Written with the batch; its changes get `created`.
    pub audit: AuditEntry,
}

/// What storing a batch did.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSuggestions {
    /// The job as stored, its counters updated.
    pub job: Job,
    /// The entities inserted (spans and types the document already had are skipped).
    pub inserted: Vec<EntityId>,
    /// The document's version when the batch was stored: when it is newer than the batch's,
    /// the entities were carried through the edit, and those whose text changed were dropped.
    pub current_version: u32,
    /// Entities dropped because the edit changed their text.
    pub dropped: u32,
}

/// The store as an extraction job sees it.
pub trait ExtractionStore: JobRunStore {
    fn document(&self, id: DocumentId) -> impl Future<Output = DomainResult<Option<Document>>> + Send;
    /// The content of one version of a document.
    fn document_text_at(
        &self,
        id: DocumentId,
        version: u32,
    ) -> impl Future<Output = DomainResult<Option<String>>> + Send;
    fn model(&self, id: ModelId) -> impl Future<Output = DomainResult<Option<LlmModel>>> + Send;
    /// The configuration, or the default one when `id` is `None`.
    fn config(&self, id: Option<uuid::Uuid>) -> impl Future<Output = DomainResult<Option<ProcessingConfig>>> + Send;
    fn entity_types(&self) -> impl Future<Output = DomainResult<Vec<EntityType>>> + Send;
    /// The distinct (text, type) of the entities researchers verified in a project.
    fn verified_names(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = DomainResult<Vec<(String, EntityTypeId)>>> + Send;
    /// The names and aliases of the project's approved knowledge-base entries, with their
    /// types (the built-in gazetteer takes them; none when the store keeps no knowledge base).
    fn approved_names(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = DomainResult<Vec<(String, EntityTypeId)>>> + Send {
        let _ = project;
        std::future::ready(Ok(Vec::new()))
    }
    /// The project's annotation mode (which layer its suggestions go to). A store that keeps
    /// no modes holds SHARED projects only.
    fn annotation_mode(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = DomainResult<crate::rounds::AnnotationMode>> + Send {
        let _ = project;
        std::future::ready(Ok(crate::rounds::AnnotationMode::Shared))
    }
    /// The stored (encrypted) key of a model.
    fn model_key(&self, model: ModelId) -> impl Future<Output = DomainResult<Option<String>>> + Send;
    /// As `ModelRepository::reserve_call`.
    fn reserve_call(
        &self,
        model: ModelId,
        windows: &[CallWindow],
        now: DateTime<Utc>,
    ) -> impl Future<Output = DomainResult<Reservation>> + Send;
    /// As `ModelRepository::record_call`.
    fn record_call(&self, call: ModelCall) -> impl Future<Output = DomainResult<()>> + Send;
    /// Stores a step's entities and the fence's progress in one transaction, conditional on
    /// the fence: when the document is no longer at the batch's version, the entities are
    /// carried through the edit (`service::processing::rebase_suggestions`) first; spans and
    /// types the document already has are skipped (`ON CONFLICT DO NOTHING`); the job's
    /// `entities_found` and `entities_dropped` grow by what was inserted and dropped. `None`
    /// when the lease was lost: nothing is written.
    fn store_suggestions(
        &self,
        fence: &Fence,
        batch: SuggestionBatch,
    ) -> impl Future<Output = DomainResult<Option<StoredSuggestions>>> + Send;
}

/// What learning and experiments keep (`learn::records`), and what they read of the project.
pub trait LearningRepository {
    /// The project's gold (verified entities, and rejected suggestions) of each of its documents
    /// that holds some, except `excluding`: the one query of what the learned model learns from.
    async fn gold(
        &self,
        project: ProjectId,
        excluding: &[DocumentId],
    ) -> DomainResult<Vec<crate::learn::gold::GoldDocument>>;
    /// The documents of the project's experiments that are still running (their documents are
    /// kept out of what the built-in model learns from).
    async fn running_experiment_documents(&self, project: ProjectId) -> DomainResult<Vec<DocumentId>>;
    /// The newest version of the project's learned model, without its bytes.
    async fn learned_model_info(
        &self,
        project: ProjectId,
    ) -> DomainResult<Option<crate::learn::records::LearnedModelInfo>>;
    /// Every version, newest first.
    async fn learned_model_versions(
        &self,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<crate::learn::records::LearnedModelInfo>>;
    /// Queues `job` (a TRAINING job of `project`) in one transaction, if no TRAINING job of the
    /// project is waiting or running and the project's verified entities outnumber the newest
    /// model's gold (none: zero) by at least `min_new_gold`. Returns the job when queued.
    async fn queue_training_if_due(
        &self,
        project: ProjectId,
        min_new_gold: u64,
        job: Job,
        audit: AuditEntry,
    ) -> DomainResult<Option<Job>>;
    /// Stores an experiment with its runs and their QUEUED jobs, in one transaction.
    async fn create_experiment(
        &self,
        experiment: crate::learn::records::Experiment,
        jobs: Vec<Job>,
        audit: AuditEntry,
    ) -> DomainResult<crate::learn::records::Experiment>;
    async fn experiment_by_id(&self, id: uuid::Uuid) -> DomainResult<Option<crate::learn::records::Experiment>>;
    /// A project's experiments, newest first.
    async fn experiments_of_project(
        &self,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<crate::learn::records::Experiment>>;
    /// The unverified model suggestions of a project (of one of its documents, when given).
    async fn unverified_suggestions(
        &self,
        project: ProjectId,
        document: Option<DocumentId>,
    ) -> DomainResult<Vec<crate::learn::review::Candidate>>;
}

/// The store as the learning jobs (TRAINING, EXPERIMENT) and the built-in extractor see it.
pub trait LearningRunStore: JobRunStore {
    /// As `LearningRepository::gold`.
    fn gold(
        &self,
        project: ProjectId,
        excluding: &[DocumentId],
    ) -> impl Future<Output = DomainResult<Vec<crate::learn::gold::GoldDocument>>> + Send;
    /// As `LearningRepository::running_experiment_documents`.
    fn running_experiment_documents(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = DomainResult<Vec<DocumentId>>> + Send;
    /// The names the tagger takes as reference features: the examples of the entity types
    /// (and, where a knowledge base holds them, its approved aliases), with their types.
    fn reference_names(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = DomainResult<Vec<(String, EntityTypeId)>>> + Send;
    /// The newest learned model of the project, with its bytes.
    fn learned_model(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = DomainResult<Option<crate::learn::records::StoredModel>>> + Send;
    /// Stores a new model version (the next number of the project) with the fence's progress,
    /// in one transaction, the job's checkpoint becoming `{"version": n}`; `None` when the
    /// lease was lost.
    fn store_learned_model(
        &self,
        fence: &Fence,
        model: crate::learn::records::NewLearnedModel,
    ) -> impl Future<Output = DomainResult<Option<(Job, crate::learn::records::LearnedModelInfo)>>> + Send;
    /// Runs CPU-heavy pure work (training) where it does not hold up the server's other work.
    fn off_thread<T, F>(&self, work: F) -> impl Future<Output = DomainResult<T>> + Send
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static;
    /// The experiment a run belongs to, by the run's job.
    fn experiment_of_job(
        &self,
        job: JobId,
    ) -> impl Future<Output = DomainResult<Option<crate::learn::records::Experiment>>> + Send;
    /// Replaces a run's predictions in one document, with the fence's progress, in one
    /// transaction; `None` when the lease was lost.
    fn store_predictions(
        &self,
        fence: &Fence,
        run: uuid::Uuid,
        document: DocumentId,
        predictions: Vec<crate::learn::records::Prediction>,
    ) -> impl Future<Output = DomainResult<Option<Job>>> + Send;
    /// A run's predictions.
    fn predictions(
        &self,
        run: uuid::Uuid,
    ) -> impl Future<Output = DomainResult<Vec<crate::learn::records::Prediction>>> + Send;
    /// Stores a run's result with the fence's progress; `None` when the lease was lost.
    fn store_run_result(
        &self,
        fence: &Fence,
        run: uuid::Uuid,
        result: crate::learn::records::ExperimentResult,
    ) -> impl Future<Output = DomainResult<Option<Job>>> + Send;
}

/// The store as a LINKING job sees it (model calls as an extraction job makes them).
pub trait LinkingStore: ExtractionStore {
    /// The project's documents, oldest first (only those given, of the project, when given).
    fn linking_documents(
        &self,
        project: ProjectId,
        only: Option<Vec<DocumentId>>,
    ) -> impl Future<Output = DomainResult<Vec<DocumentId>>> + Send;
    /// A document's entities linked to no entry, by start offset.
    fn unlinked_mentions(
        &self,
        project: ProjectId,
        document: DocumentId,
    ) -> impl Future<Output = DomainResult<Vec<Entity>>> + Send;
    /// Runs `f` on the project's candidate index, brought up to date first.
    fn with_knowledge_index<R: Send + 'static, F: FnOnce(&CandidateIndex) -> R + Send + 'static>(
        &self,
        project: ProjectId,
        f: F,
    ) -> impl Future<Output = DomainResult<R>> + Send;
    /// The live entries of the project among `ids`.
    fn live_items(
        &self,
        project: ProjectId,
        ids: Vec<KnowledgeItemId>,
    ) -> impl Future<Output = DomainResult<Vec<KnowledgeItem>>> + Send;
    /// Stores a step's proposals and the fence's progress in one transaction, conditional on
    /// the fence; a proposal the project has already (the same `dedup_key`) is skipped.
    /// Returns the job as stored and how many proposals were new; `None` when the lease was
    /// lost (nothing is written then).
    fn store_proposals(
        &self,
        fence: &Fence,
        proposals: Vec<Proposal>,
    ) -> impl Future<Output = DomainResult<Option<(Job, u32)>>> + Send;
}

/// What a search is narrowed to, besides its project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// Only these documents (all when empty).
    pub documents: Vec<DocumentId>,
    /// Only passages holding an entity of one of these types (any passage when empty).
    pub entity_types: Vec<EntityTypeId>,
    /// Only passages holding a mention linked to one of these knowledge entries (any when empty).
    pub knowledge_items: Vec<KnowledgeItemId>,
}

impl SearchFilter {
    /// Whether only places inside certain entities count (by type or by knowledge entry).
    pub fn by_entities(&self) -> bool {
        !self.entity_types.is_empty() || !self.knowledge_items.is_empty()
    }
}

/// An entity as search sees it: where it stands, in which passage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassageEntity {
    pub passage: crate::search::PassageId,
    pub entity: EntityId,
    pub entity_type: EntityTypeId,
    pub start: u32,
    pub end: u32,
}

/// The search index: a project's passages (`search::passages`) with their folded words in the
/// database's full-text index, kept by the document writes in their own transactions.
pub trait SearchRepository {
    /// The project's passages and words.
    async fn search_stats(&self, project: ProjectId) -> DomainResult<crate::search::CorpusStats>;
    /// For each term, how many of the project's passages the full-text index proposes for it.
    async fn document_frequencies(&self, project: ProjectId, terms: &[crate::search::Term]) -> DomainResult<Vec<u64>>;
    /// The project's passages the full-text index proposes for all (or any) of the terms,
    /// narrowed by the filter. May propose passages that do not match (the ranking decides);
    /// never leaves out one that does.
    async fn search_candidates(
        &self,
        project: ProjectId,
        terms: &[crate::search::Term],
        matching: crate::search::Matching,
        filter: &SearchFilter,
    ) -> DomainResult<Vec<crate::search::Candidate>>;
    /// Rows `page.offset .. page.offset + page.limit` of the project's passages holding every
    /// word of `scoring` (in `documents`; all when empty), ordered in the store by the words'
    /// BM25 score (`search::WordScoring`, the same floating-point operations as the ranking),
    /// highest first, then `search::rank::by_place`: only a page leaves the database.
    async fn top_word_matches(
        &self,
        project: ProjectId,
        scoring: &crate::search::WordScoring,
        documents: &[DocumentId],
        page: PageRequest,
    ) -> DomainResult<Vec<crate::search::Candidate>>;
    /// How many of the project's passages (in `documents`; all when empty) the full-text index
    /// proposes for every term.
    async fn count_matches(
        &self,
        project: ProjectId,
        terms: &[crate::search::Term],
        documents: &[DocumentId],
    ) -> DomainResult<u64>;
    /// How many of the project's passages hold `word` (a folded word), per how often it stands
    /// there and how many words the passage has: the word's BM25 groups.
    async fn word_groups(&self, project: ProjectId, word: &str) -> DomainResult<Vec<crate::search::WordGroup>>;
    /// The project's passages holding `word` as one of `groups` says (`(tf, word_count)`), in
    /// `search::rank::by_place` order, rows `page.offset .. page.offset + page.limit`.
    async fn group_passages(
        &self,
        project: ProjectId,
        word: &str,
        groups: &[(u32, u32)],
        page: PageRequest,
    ) -> DomainResult<Vec<crate::search::Candidate>>;
    /// The texts of passages (those that still exist).
    async fn passage_texts(
        &self,
        passages: &[crate::search::PassageId],
    ) -> DomainResult<HashMap<crate::search::PassageId, String>>;
    /// The entities overlapping passages, of the given types (all types when empty).
    /// The entities in the passages, of one of `types` (any type when empty) and linked to one
    /// of `items` (linked or not when empty).
    async fn passage_entities(
        &self,
        passages: &[crate::search::PassageId],
        types: &[EntityTypeId],
        items: &[KnowledgeItemId],
    ) -> DomainResult<Vec<PassageEntity>>;
}

/// Sources (`crate::source`). Every change writes its audit entry in its transaction.
pub trait SourceRepository {
    async fn create_source(
        &self,
        source: crate::source::Source,
        audit: AuditEntry,
    ) -> DomainResult<crate::source::Source>;
    async fn source_by_id(&self, id: crate::source::SourceId) -> DomainResult<Option<crate::source::Source>>;
    /// A project's sources, oldest first.
    async fn sources_of(&self, project: ProjectId) -> DomainResult<Vec<crate::source::Source>>;
    /// Deletes the source (the documents it stored stay). CONFLICT while an INGESTION job of
    /// it is queued, running or paused; NOT_FOUND `source` when it is gone.
    async fn delete_source(&self, id: crate::source::SourceId, audit: AuditEntry) -> DomainResult<()>;
    /// The newest INGESTION job of each source (started with its id), if any.
    async fn last_source_jobs(
        &self,
        project: ProjectId,
        ids: &[crate::source::SourceId],
    ) -> DomainResult<HashMap<crate::source::SourceId, Job>>;
    /// How many of the project's documents each source stored (`metadata.sourceId`).
    async fn source_document_counts(
        &self,
        project: ProjectId,
        ids: &[crate::source::SourceId],
    ) -> DomainResult<HashMap<crate::source::SourceId, u64>>;
}

/// A fetched page made into a document, ready to store.
#[derive(Debug, Clone)]
pub struct FetchedDocument {
    pub document: Document,
    pub first: DocumentVersion,
    pub artifact: crate::artifact::NewArtifact,
    pub audit: AuditEntry,
}

/// The store as an INGESTION job sees it.
pub trait IngestionStore: JobRunStore {
    fn source(
        &self,
        id: crate::source::SourceId,
    ) -> impl Future<Output = DomainResult<Option<crate::source::Source>>> + Send;
    /// Whether the project holds a document with this content hash.
    fn has_content(&self, project: ProjectId, hash: &str) -> impl Future<Output = DomainResult<bool>> + Send;
    /// Stores the document with its original and audit row, with the job's progress as
    /// `stored` says, in one fenced transaction; when the project already holds the same text
    /// (another job stored it meanwhile) nothing but `unchanged`'s progress is written.
    /// Returns the job as stored and whether the document was created; `None` when the lease
    /// was lost.
    fn store_fetched_document(
        &self,
        stored: &Fence,
        unchanged: &Fence,
        page: FetchedDocument,
    ) -> impl Future<Output = DomainResult<Option<(Job, bool)>>> + Send;
}

/// One HTTP response as the fetcher read it (no redirect followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    pub status: u16,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    pub content_type: Option<String>,
    /// The body, at most the limit asked for.
    pub body: Vec<u8>,
    /// The body was longer than the limit (and was not read further).
    pub too_large: bool,
}

/// Why a fetch got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The address guard refused the URL or what its host resolved to.
    #[error("refused: {0}")]
    Refused(String),
    #[error("timed out")]
    Timeout,
    /// A connection or protocol fault (worth trying again).
    #[error("{0}")]
    Network(String),
}

/// HTTP GETs to user-chosen URLs, behind the address guard, with a timeout, following no
/// redirect.
pub trait PageFetcher: Send + Sync {
    fn get(&self, url: &url::Url, max_bytes: usize) -> impl Future<Output = Result<FetchResponse, FetchError>> + Send;
}

/// Chat sessions and their messages (`chat`). A question and its answer are written together.
pub trait ChatRepository {
    /// Writes a question and its answer at the end of `session` in one transaction with the
    /// audit row, creating the session first when `new_session` (its `updated_at` is the
    /// answer's time); returns the session as stored. Errors: NOT_FOUND when the session
    /// (not new) was deleted meanwhile; `Conflict` when another question of the session was
    /// written meanwhile (the positions are taken).
    async fn append_exchange(
        &self,
        session: crate::chat::ChatSession,
        new_session: bool,
        question: crate::chat::ChatMessage,
        answer: crate::chat::ChatMessage,
        audit: AuditEntry,
    ) -> DomainResult<crate::chat::ChatSession>;
    async fn chat_session(&self, id: crate::ids::ChatSessionId) -> DomainResult<Option<crate::chat::ChatSession>>;
    /// A user's sessions of a project, the most recently used first.
    async fn chat_sessions(
        &self,
        user: UserId,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<crate::chat::ChatSession>>;
    /// A session's messages in order.
    async fn chat_messages(&self, session: crate::ids::ChatSessionId) -> DomainResult<Vec<crate::chat::ChatMessage>>;
    async fn chat_message(&self, id: crate::ids::ChatMessageId) -> DomainResult<Option<crate::chat::ChatMessage>>;
    /// Deletes a session and its messages with the audit row.
    async fn delete_chat_session(&self, id: crate::ids::ChatSessionId, audit: AuditEntry) -> DomainResult<()>;
    /// Deletes sessions whose last message was written before `before`; returns how many.
    async fn delete_chat_sessions_before(&self, before: DateTime<Utc>) -> DomainResult<u64>;
}

/// Webhooks and their outbox (`crate::webhook`). Every method that changes something writes
/// its audit entry in its transaction; deliveries of project events are queued by the store
/// itself, in the transaction of the change (see the store's outbox).
pub trait WebhookRepository {
    /// Stores a new webhook with its sealed secret.
    async fn create_webhook(
        &self,
        hook: crate::webhook::Webhook,
        sealed_secret: String,
        audit: AuditEntry,
    ) -> DomainResult<crate::webhook::Webhook>;
    async fn webhook_by_id(&self, id: crate::webhook::WebhookId) -> DomainResult<Option<crate::webhook::Webhook>>;
    /// A project's webhooks, oldest first.
    async fn webhooks_of(&self, project: ProjectId) -> DomainResult<Vec<crate::webhook::Webhook>>;
    /// Deletes the webhook and its deliveries. NOT_FOUND `webhook` when it is gone.
    async fn delete_webhook(&self, id: crate::webhook::WebhookId, audit: AuditEntry) -> DomainResult<()>;
    /// Writes the fields the patch changes (and `updated_at`), nothing else, and returns the
    /// webhook as stored. NOT_FOUND `webhook` when it is gone.
    async fn update_webhook(
        &self,
        id: crate::webhook::WebhookId,
        patch: &crate::webhook::WebhookPatch,
        at: DateTime<Utc>,
        audit: AuditEntry,
    ) -> DomainResult<crate::webhook::Webhook>;
    /// Replaces the secret; the current one keeps signing, beside it, until `old_until`.
    async fn rotate_webhook_secret(
        &self,
        id: crate::webhook::WebhookId,
        sealed_secret: String,
        old_until: DateTime<Utc>,
        audit: AuditEntry,
    ) -> DomainResult<()>;
    /// Queues one delivery of `event` with `data` to this webhook alone (a test delivery).
    async fn queue_delivery(
        &self,
        id: crate::webhook::WebhookId,
        event: &str,
        data: serde_json::Value,
        audit: AuditEntry,
    ) -> DomainResult<crate::webhook::Delivery>;
    /// A webhook's deliveries, newest first, after the delivery `after`.
    async fn deliveries(
        &self,
        id: crate::webhook::WebhookId,
        after: Option<&str>,
        limit: u64,
    ) -> DomainResult<Page<crate::webhook::Delivery>>;
    /// The attempts of one delivery, in order.
    async fn delivery_attempts(&self, delivery: &str) -> DomainResult<Vec<crate::webhook::DeliveryAttempt>>;
}

/// The stored runtime settings (`crate::settings`).
pub trait SettingsRepository {
    /// The stored overrides, `(key, value)`.
    async fn setting_overrides(&self) -> DomainResult<Vec<(String, serde_json::Value)>>;
    /// Applies a checked patch in one transaction with its audit row: overrides set or removed,
    /// and the default model chosen (NOT_FOUND `model` for an unknown or inactive one).
    async fn save_settings(&self, patch: &crate::settings::SettingsPatch, audit: AuditEntry) -> DomainResult<()>;
}

/// A chunk of a project that has no vector under a model yet: its content hash and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkToEmbed {
    pub hash: String,
    pub text: String,
}

/// How far a project's chunks are embedded under its embedding model.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingStatus {
    /// The project's embedding model (none set: no semantic ranking).
    pub model: Option<LlmModel>,
    /// Distinct chunks (passage texts) of the project.
    pub chunks: u64,
    /// Those with a vector under the model.
    pub embedded: u64,
}

/// The store as an EMBEDDING job sees it (model calls recorded as an extraction job's are).
pub trait EmbeddingStore: ExtractionStore {
    /// The project's embedding model.
    fn embedding_model(&self, project: ProjectId) -> impl Future<Output = DomainResult<Option<ModelId>>> + Send;
    /// The project's chunks without a vector under `model`, by hash, at most `limit`.
    fn chunks_to_embed(
        &self,
        project: ProjectId,
        model: ModelId,
        limit: usize,
    ) -> impl Future<Output = DomainResult<Vec<ChunkToEmbed>>> + Send;
    /// How many chunks of the project have no vector under `model`.
    fn chunks_missing(&self, project: ProjectId, model: ModelId) -> impl Future<Output = DomainResult<u64>> + Send;
    /// Stores vectors (by content hash) with the fence's progress in one transaction; a hash
    /// stored already is skipped. `None` when the lease was lost (nothing is written then).
    fn store_vectors(
        &self,
        fence: &Fence,
        project: ProjectId,
        model: ModelId,
        vectors: Vec<(String, Vec<f32>)>,
    ) -> impl Future<Output = DomainResult<Option<Job>>> + Send;
    /// Deletes the project's vectors under `model` whose hash no passage holds any more;
    /// returns how many.
    fn prune_vectors(&self, project: ProjectId, model: ModelId) -> impl Future<Output = DomainResult<u64>> + Send;
}

/// Stored embeddings as search and the settings see them.
pub trait EmbeddingRepository {
    async fn embedding_status(&self, project: ProjectId) -> DomainResult<EmbeddingStatus>;
    /// Sets the project's embedding model (replacing the one before), with the audit row.
    async fn set_embedding_model(&self, project: ProjectId, model: ModelId, audit: AuditEntry) -> DomainResult<()>;
    /// The project's embedding model id.
    async fn project_embedding_model(&self, project: ProjectId) -> DomainResult<Option<ModelId>>;
    /// The vectors under `model` of the project's passages (of `documents` only, when not
    /// empty), by passage.
    async fn passage_vectors(
        &self,
        project: ProjectId,
        model: ModelId,
        documents: &[DocumentId],
    ) -> DomainResult<Vec<(crate::search::PassageId, Vec<f32>)>>;
    /// Passages as search candidates (those that still exist).
    async fn passage_candidates(
        &self,
        passages: &[crate::search::PassageId],
    ) -> DomainResult<Vec<crate::search::Candidate>>;
}
