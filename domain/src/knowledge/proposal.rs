//! Proposals for the knowledge base, made by a LINKING job and reviewed by researchers: link an
//! unlinked mention to an entry (LINK), make an entry for a mention nothing matches (NEW_ITEM),
//! add a mention's text to an entry's aliases (NEW_ALIAS), merge two entries (MERGE).
//!
//! Invariants kept here:
//! - a proposal names only what exists: what a model answers is checked against the step's
//!   mentions and the project's live entries ([`validate`]), and a proposal naming anything
//!   else is dropped (and counted), never stored;
//! - the same proposal is made once per project: its [`Proposal::dedup_key`] says what it
//!   proposes, and the store keeps the first (a rejected proposal is not made again);
//! - a proposal is PENDING until reviewed, then APPROVED or REJECTED for good.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::index::{CandidateIndex, MatchKind};
use super::validate_name;
use crate::entity::Entity;
use crate::error::{DomainError, DomainResult};
use crate::ids::{EntityId, EntityTypeId, KnowledgeItemId, ProjectId, ProposalId, UserId};
use crate::job::JobId;
use crate::text::fold_key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProposalKind {
    Link,
    NewItem,
    NewAlias,
    Merge,
}

impl ProposalKind {
    pub const ALL: [Self; 4] = [Self::Link, Self::NewItem, Self::NewAlias, Self::Merge];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Link => "LINK",
            Self::NewItem => "NEW_ITEM",
            Self::NewAlias => "NEW_ALIAS",
            Self::Merge => "MERGE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProposalStatus {
    Pending,
    Approved,
    Rejected,
}

impl ProposalStatus {
    pub const ALL: [Self; 3] = [Self::Pending, Self::Approved, Self::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown proposal status {s:?} in storage")))
    }
}

/// A proposal as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub id: ProposalId,
    pub project_id: ProjectId,
    pub job_id: Option<JobId>,
    pub kind: ProposalKind,
    pub status: ProposalStatus,
    /// In [0, 1].
    pub confidence: f64,
    /// Why, in the proposer's words.
    pub reasoning: String,
    /// The mention (LINK, NEW_ITEM, NEW_ALIAS).
    pub entity_id: Option<EntityId>,
    /// The entry to link to (LINK), add an alias to (NEW_ALIAS) or merge into (MERGE).
    pub item_id: Option<KnowledgeItemId>,
    /// The entry to merge (MERGE).
    pub source_item_id: Option<KnowledgeItemId>,
    /// The new entry's name (NEW_ITEM) or the new alias (NEW_ALIAS).
    pub proposed_name: Option<String>,
    /// The new entry's type (NEW_ITEM).
    pub entity_type_id: Option<EntityTypeId>,
    pub reviewed_by: Option<UserId>,
    pub reviewed_at: Option<DateTime<Utc>>,
    /// The entry an approved NEW_ITEM made.
    pub result_item_id: Option<KnowledgeItemId>,
    pub created_at: DateTime<Utc>,
}

impl Proposal {
    fn new(
        project_id: ProjectId,
        job_id: Option<JobId>,
        kind: ProposalKind,
        confidence: f64,
        reasoning: String,
    ) -> Self {
        Self {
            id: ProposalId::new(),
            project_id,
            job_id,
            kind,
            status: ProposalStatus::Pending,
            confidence: confidence.clamp(0.0, 1.0),
            reasoning,
            entity_id: None,
            item_id: None,
            source_item_id: None,
            proposed_name: None,
            entity_type_id: None,
            reviewed_by: None,
            reviewed_at: None,
            result_item_id: None,
            created_at: Utc::now(),
        }
    }

    pub fn link(
        project: ProjectId,
        job: Option<JobId>,
        entity: EntityId,
        item: KnowledgeItemId,
        confidence: f64,
        why: String,
    ) -> Self {
        Self {
            entity_id: Some(entity),
            item_id: Some(item),
            ..Self::new(project, job, ProposalKind::Link, confidence, why)
        }
    }

    pub fn new_item(
        project: ProjectId,
        job: Option<JobId>,
        entity: EntityId,
        name: String,
        entity_type: EntityTypeId,
        confidence: f64,
        why: String,
    ) -> Self {
        Self {
            entity_id: Some(entity),
            proposed_name: Some(name),
            entity_type_id: Some(entity_type),
            ..Self::new(project, job, ProposalKind::NewItem, confidence, why)
        }
    }

    pub fn new_alias(
        project: ProjectId,
        job: Option<JobId>,
        entity: Option<EntityId>,
        item: KnowledgeItemId,
        alias: String,
        confidence: f64,
        why: String,
    ) -> Self {
        Self {
            entity_id: entity,
            item_id: Some(item),
            proposed_name: Some(alias),
            ..Self::new(project, job, ProposalKind::NewAlias, confidence, why)
        }
    }

    pub fn merge(
        project: ProjectId,
        job: Option<JobId>,
        source: KnowledgeItemId,
        into: KnowledgeItemId,
        confidence: f64,
        why: String,
    ) -> Self {
        Self {
            source_item_id: Some(source),
            item_id: Some(into),
            ..Self::new(project, job, ProposalKind::Merge, confidence, why)
        }
    }

    /// What the proposal proposes, as one key: the same proposal twice has the same key.
    pub fn dedup_key(&self) -> String {
        let id = |i: Option<KnowledgeItemId>| i.map(|i| i.to_string()).unwrap_or_default();
        match self.kind {
            ProposalKind::Link => {
                format!("LINK:{}:{}", self.entity_id.map(|e| e.to_string()).unwrap_or_default(), id(self.item_id))
            }
            ProposalKind::NewItem => format!(
                "NEW_ITEM:{}:{}",
                self.entity_type_id.map(|t| t.to_string()).unwrap_or_default(),
                fold_key(self.proposed_name.as_deref().unwrap_or_default())
            ),
            ProposalKind::NewAlias => {
                format!(
                    "NEW_ALIAS:{}:{}",
                    id(self.item_id),
                    fold_key(self.proposed_name.as_deref().unwrap_or_default())
                )
            }
            ProposalKind::Merge => {
                let (a, b) = (id(self.source_item_id), id(self.item_id));
                if a < b { format!("MERGE:{a}:{b}") } else { format!("MERGE:{b}:{a}") }
            }
        }
    }

    /// Marks a pending proposal reviewed. Errors: CONFLICT when it was reviewed already.
    pub fn review(&mut self, approve: bool, by: UserId, at: DateTime<Utc>) -> DomainResult<()> {
        if self.status != ProposalStatus::Pending {
            return Err(DomainError::conflict(format!(
                "the proposal was {} already",
                self.status.as_str().to_lowercase()
            )));
        }
        self.status = if approve { ProposalStatus::Approved } else { ProposalStatus::Rejected };
        self.reviewed_by = Some(by);
        self.reviewed_at = Some(at);
        Ok(())
    }
}

/// Proposals counted by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProposalCounts {
    pub pending: u64,
    pub approved: u64,
    pub rejected: u64,
}

/// Confidence of a LINK whose mention's text is a name of exactly one entry.
pub const EXACT_CONFIDENCE: f64 = 0.95;
/// A fuzzy or prefix match at least this good proposes a new alias.
pub const ALIAS_SCORE: f64 = 0.6;

/// The built-in proposer: by folded alias matching. For each unlinked mention, a LINK to the
/// one entry of its type one of whose names it is under folding (to each, at a lower
/// confidence, when several are); otherwise a NEW_ALIAS of the best near match of its type (a
/// fuzzy or prefix candidate scoring at least [`ALIAS_SCORE`]); otherwise a NEW_ITEM named by
/// its text. Mentions of one text and type propose one new entry or alias.
pub fn builtin_proposals(
    project: ProjectId,
    job: Option<JobId>,
    mentions: &[Entity],
    index: &CandidateIndex,
) -> Vec<Proposal> {
    let mut out = Vec::new();
    let mut seen: HashMap<(EntityTypeId, String), ()> = HashMap::new();
    for m in mentions {
        let key = fold_key(&m.text);
        if key.is_empty() {
            continue;
        }
        let exact = index.exact(&m.text, Some(m.entity_type_id));
        if !exact.is_empty() {
            let confidence = if exact.len() == 1 { EXACT_CONFIDENCE } else { 0.9 / exact.len() as f64 };
            for (item, _) in &exact {
                let why = if exact.len() == 1 {
                    format!("«{}» is a name of this entry under Urdu-aware folding", m.text)
                } else {
                    format!("«{}» is a name of {} entries of this type; this is one", m.text, exact.len())
                };
                out.push(Proposal::link(project, job, m.id, *item, confidence, why));
            }
            continue;
        }
        if seen.insert((m.entity_type_id, key), ()).is_some() {
            continue;
        }
        let near = index
            .candidates(&m.text, Some(m.entity_type_id), 1)
            .into_iter()
            .find(|c| c.kind != MatchKind::Exact && c.score >= ALIAS_SCORE);
        match near {
            Some(c) => {
                let why =
                    format!("«{}» is close to «{}» ({:?}, score {:.2})", m.text, c.matched_alias, c.kind, c.score);
                out.push(Proposal::new_alias(project, job, Some(m.id), c.item, m.text.clone(), c.score, why));
            }
            None => {
                let why = format!("no entry of this type has a name like «{}»", m.text);
                out.push(Proposal::new_item(project, job, m.id, m.text.clone(), m.entity_type_id, 0.5, why));
            }
        }
    }
    out
}

/// MERGE proposals for entries of one type that share a name or alias under folding: the
/// newer merged into the older.
pub fn merge_proposals(project: ProjectId, job: Option<JobId>, index: &CandidateIndex) -> Vec<Proposal> {
    index
        .shared_names()
        .into_iter()
        .map(|(older, newer, key)| {
            // Ids are time-ordered: the smaller is the older entry.
            let why = format!("both entries are named «{key}» under Urdu-aware folding");
            Proposal::merge(project, job, newer, older, 0.7, why)
        })
        .collect()
}

/// One proposal as a model answers it, before any check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawProposal {
    #[serde(default)]
    pub kind: String,
    /// The mention's id (LINK, NEW_ITEM, NEW_ALIAS).
    pub mention: Option<String>,
    /// The entry's id (LINK, NEW_ALIAS; the entry to merge for MERGE).
    pub item: Option<String>,
    /// The entry to merge into (MERGE).
    pub into: Option<String>,
    /// The new entry's name (NEW_ITEM).
    pub name: Option<String>,
    /// The new alias (NEW_ALIAS).
    pub alias: Option<String>,
    pub confidence: Option<f64>,
    pub reasoning: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    proposals: Vec<Value>,
}

/// Reads a model's answer: `{"proposals": [...]}`, a bare array of the same objects, or either
/// inside a Markdown code fence. An element that is not a proposal object counts as dropped.
/// Errors: the answer is not such JSON at all (a repair request may follow).
pub fn parse_answer(text: &str) -> Result<(Vec<RawProposal>, u32), String> {
    let trimmed = text.trim();
    let body = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|s| s.strip_suffix("```"))
        .unwrap_or(trimmed)
        .trim();
    let items: Vec<Value> = match serde_json::from_str::<Answer>(body) {
        Ok(a) => a.proposals,
        Err(_) => serde_json::from_str::<Vec<Value>>(body)
            .map_err(|e| format!("the answer is not {{\"proposals\": [...]}} JSON: {e}"))?,
    };
    let mut dropped = 0;
    let mut out = Vec::with_capacity(items.len());
    for v in items {
        match serde_json::from_value::<RawProposal>(v) {
            Ok(p) => out.push(p),
            Err(_) => dropped += 1,
        }
    }
    Ok((out, dropped))
}

/// What a step's proposals may name: its mentions, and the project's live entries (with
/// their types).
#[derive(Debug, Clone, Default)]
pub struct StepContext {
    pub project: ProjectId,
    pub job: Option<JobId>,
    pub mentions: HashMap<EntityId, Entity>,
    pub items: HashMap<KnowledgeItemId, EntityTypeId>,
}

/// Checks a model's proposal against what exists: kind known, the mention one of the step's,
/// each entry a live entry of the project, a MERGE between two entries of one type, names
/// valid, confidence in [0, 1]. `None` drops it.
pub fn validate(raw: &RawProposal, ctx: &StepContext) -> Option<Proposal> {
    let kind = ProposalKind::parse(raw.kind.trim())?;
    let confidence = raw.confidence.unwrap_or(0.5);
    if !confidence.is_finite() || !(0.0..=1.0).contains(&confidence) {
        return None;
    }
    let reasoning: String = raw.reasoning.clone().unwrap_or_default().chars().take(2000).collect();
    let mention = || -> Option<&Entity> {
        let id: uuid::Uuid = raw.mention.as_deref()?.trim().parse().ok()?;
        ctx.mentions.get(&EntityId(id))
    };
    let item = |field: &Option<String>| -> Option<(KnowledgeItemId, EntityTypeId)> {
        let id = KnowledgeItemId(field.as_deref()?.trim().parse().ok()?);
        ctx.items.get(&id).map(|t| (id, *t))
    };
    let (p, j) = (ctx.project, ctx.job);
    match kind {
        ProposalKind::Link => {
            let m = mention()?;
            let (i, _) = item(&raw.item)?;
            Some(Proposal::link(p, j, m.id, i, confidence, reasoning))
        }
        ProposalKind::NewItem => {
            let m = mention()?;
            let name = validate_name(raw.name.as_deref().unwrap_or(&m.text), "name").ok()?;
            Some(Proposal::new_item(p, j, m.id, name, m.entity_type_id, confidence, reasoning))
        }
        ProposalKind::NewAlias => {
            let (i, _) = item(&raw.item)?;
            let m = raw.mention.as_ref().map(|_| mention()).map_or(Some(None), |m| m.map(Some))?;
            let alias = raw.alias.as_deref().or(m.map(|m| m.text.as_str()))?;
            let alias = validate_name(alias, "alias").ok()?;
            Some(Proposal::new_alias(p, j, m.map(|m| m.id), i, alias, confidence, reasoning))
        }
        ProposalKind::Merge => {
            let (source, st) = item(&raw.item)?;
            let (into, it) = item(&raw.into)?;
            (source != into && st == it).then(|| Proposal::merge(p, j, source, into, confidence, reasoning))
        }
    }
}

/// The JSON schema of the answer asked of a model.
pub fn answer_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "proposals": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string", "enum": ["LINK", "NEW_ITEM", "NEW_ALIAS", "MERGE"]},
                        "mention": {"type": "string"},
                        "item": {"type": "string"},
                        "into": {"type": "string"},
                        "name": {"type": "string"},
                        "alias": {"type": "string"},
                        "confidence": {"type": "number"},
                        "reasoning": {"type": "string"}
                    },
                    "required": ["kind", "confidence", "reasoning"]
                }
            }
        },
        "required": ["proposals"]
    })
}

/// The system prompt of a LINKING call.
pub const SYSTEM_PROMPT: &str = "You link mentions in Urdu poetry (Marsiya) to the entries of a knowledge base of the people, \
places and other things the texts speak of. One person has many names (حسین, شبیر, سرور, شاہِ کربلا). For each mention, \
propose LINK to the entry it names (give the mention's id and the entry's id), NEW_ITEM when no entry fits (give a name), \
or NEW_ALIAS when the mention names an entry by a name the entry lacks (give the entry's id and the alias). Propose MERGE \
(item, into) for two entries that are the same. Use only the ids given. Answer JSON: {\"proposals\": [{\"kind\", \"mention\", \
\"item\", \"into\", \"name\", \"alias\", \"confidence\" (0 to 1), \"reasoning\"}]}.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::index::IndexedItem;

    fn mention(text: &str, t: EntityTypeId) -> Entity {
        let doc = crate::exchange::tests::document();
        let dt = crate::text::DocumentText::new(&doc.content);
        let mut e = crate::service::entities::new_entity(
            &doc,
            &dt,
            t,
            (0, 4),
            crate::entity::EntitySource::Manual,
            UserId::new(),
        )
        .unwrap();
        e.text = text.into();
        e
    }

    #[test]
    fn the_builtin_proposer_links_matches_aliases_near_misses_and_makes_new_entries() {
        let (person, place) = (EntityTypeId::new(), EntityTypeId::new());
        let (husain, abbas) = (KnowledgeItemId::new(), KnowledgeItemId::new());
        let mut index = CandidateIndex::new();
        index.upsert(IndexedItem {
            id: husain,
            entity_type_id: person,
            approved: true,
            names: vec!["حسینؑ".into(), "شبیر".into()],
        });
        index.upsert(IndexedItem {
            id: abbas,
            entity_type_id: person,
            approved: false,
            names: vec!["عباسؑ".into(), "علمدار".into()],
        });
        let p = ProjectId::new();
        let mentions = [
            mention("حسين", person),  // exact under folding
            mention("علمدر", person), // near miss: a new alias of Abbas
            mention("زینب", person),  // nothing: a new entry
            mention("زینبؑ", person),  // the same text again: no second proposal
            mention("حسین", place),   // another type: nothing of it, a new entry
        ];
        let out = builtin_proposals(p, None, &mentions, &index);
        let kinds: Vec<(ProposalKind, Option<KnowledgeItemId>)> = out.iter().map(|p| (p.kind, p.item_id)).collect();
        assert_eq!(
            kinds,
            [
                (ProposalKind::Link, Some(husain)),
                (ProposalKind::NewAlias, Some(abbas)),
                (ProposalKind::NewItem, None),
                (ProposalKind::NewItem, None),
            ]
        );
        assert_eq!(out[0].confidence, EXACT_CONFIDENCE);
        assert_eq!(out[1].proposed_name.as_deref(), Some("علمدر"));
        assert_eq!(out[2].proposed_name.as_deref(), Some("زینب"));
        assert_eq!(out[3].entity_type_id, Some(place));
        assert_ne!(out[2].dedup_key(), out[3].dedup_key(), "one new entry per text and type");
    }

    #[test]
    fn model_answers_are_checked_against_what_exists() {
        let person = EntityTypeId::new();
        let place = EntityTypeId::new();
        let m = mention("حسین", person);
        let (husain, karbala) = (KnowledgeItemId::new(), KnowledgeItemId::new());
        let ctx = StepContext {
            project: ProjectId::new(),
            job: None,
            mentions: HashMap::from([(m.id, m.clone())]),
            items: HashMap::from([(husain, person), (karbala, place)]),
        };
        let answer = format!(
            r#"```json
{{"proposals": [
  {{"kind": "LINK", "mention": "{m}", "item": "{h}", "confidence": 0.9, "reasoning": "the same name"}},
  {{"kind": "LINK", "mention": "{m}", "item": "{ghost}", "confidence": 0.9, "reasoning": "no such entry"}},
  {{"kind": "LINK", "mention": "{ghost}", "item": "{h}", "confidence": 0.9, "reasoning": "no such mention"}},
  {{"kind": "NEW_ITEM", "mention": "{m}", "name": "امام حسینؑ", "confidence": 0.6, "reasoning": "new"}},
  {{"kind": "NEW_ALIAS", "item": "{h}", "alias": "سرور", "confidence": 0.7, "reasoning": "a title"}},
  {{"kind": "MERGE", "item": "{h}", "into": "{k}", "confidence": 0.5, "reasoning": "types differ"}},
  {{"kind": "MERGE", "item": "{h}", "into": "{h}", "confidence": 0.5, "reasoning": "itself"}},
  {{"kind": "DELETE", "item": "{h}", "confidence": 0.5, "reasoning": "unknown kind"}},
  {{"kind": "LINK", "mention": "{m}", "item": "{h}", "confidence": 7, "reasoning": "out of range"}},
  "not an object"
]}}
```"#,
            m = m.id,
            h = husain,
            k = karbala,
            ghost = uuid::Uuid::now_v7()
        );
        let (raw, bad) = parse_answer(&answer).unwrap();
        assert_eq!((raw.len(), bad), (9, 1));
        let kept: Vec<Proposal> = raw.iter().filter_map(|r| validate(r, &ctx)).collect();
        let kinds: Vec<ProposalKind> = kept.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [ProposalKind::Link, ProposalKind::NewItem, ProposalKind::NewAlias]);
        assert_eq!(kept[1].proposed_name.as_deref(), Some("امام حسینؑ"));
        assert!(parse_answer("not json").is_err());
        assert_eq!(parse_answer("[]").unwrap().0.len(), 0);
    }

    #[test]
    fn a_proposal_is_reviewed_once() {
        let mut p =
            Proposal::merge(ProjectId::new(), None, KnowledgeItemId::new(), KnowledgeItemId::new(), 0.7, "x".into());
        let by = UserId::new();
        p.review(true, by, Utc::now()).unwrap();
        assert_eq!(p.status, ProposalStatus::Approved);
        assert!(matches!(p.review(false, by, Utc::now()), Err(DomainError::Conflict(_))));
        let flipped = Proposal { source_item_id: p.item_id, item_id: p.source_item_id, ..p.clone() };
        assert_eq!(flipped.dedup_key(), p.dedup_key(), "a merge either way is one proposal");
    }
}
