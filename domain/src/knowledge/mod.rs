//! The knowledge base of a project: one entry per person, place or other thing the texts speak
//! of, with the many names it goes by (its aliases), identifiers in outside authority files
//! (Wikidata, VIAF, GeoNames), links between entries, and the mentions (entities) linked to it.
//!
//! Invariants kept here:
//! - an entry's content ([`KnowledgeContent`]) is valid by construction: a name, at most
//!   [`MAX_ALIASES`] aliases each once under the Urdu-aware folding (`text::fold`) and none the
//!   name itself, a bounded description, well-formed external identifiers, attributes a small
//!   JSON object;
//! - every change makes a new immutable version ([`KnowledgeVersion`]) whose number is one
//!   more than the last; an update names the version it was made from, and a stale one is a
//!   CONFLICT ([`check_version`]);
//! - a merge ([`merged_content`]) keeps every name of every merged entry: the sources' names
//!   and aliases become aliases of the target.

pub mod cooccurrence;
pub mod export;
pub mod index;
pub mod proposal;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::{DomainError, DomainResult};
use crate::ids::{EntityTypeId, KnowledgeItemId, KnowledgeLinkId, KnowledgeVersionId, ProjectId, UserId};
use crate::text::fold_key;

/// Longest name or alias, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most aliases of one entry.
pub const MAX_ALIASES: usize = 100;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 5000;
/// Largest `attributes` object, in bytes of JSON.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;
/// Most entries merged into one at once.
pub const MAX_MERGE_SOURCES: usize = 100;

/// Identifiers of an entry in outside authority files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalIds {
    /// A Wikidata item, `Q` and digits (`Q193236`).
    pub wikidata: Option<String>,
    /// A VIAF cluster, digits.
    pub viaf: Option<String>,
    /// A GeoNames feature, digits.
    pub geonames: Option<String>,
}

impl ExternalIds {
    /// Validates each identifier (blank ones count as absent). Errors name the field as
    /// `externalIds.wikidata`, ...
    pub fn new(wikidata: Option<String>, viaf: Option<String>, geonames: Option<String>) -> DomainResult<Self> {
        let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let (wikidata, viaf, geonames) = (clean(wikidata), clean(viaf), clean(geonames));
        if let Some(q) = &wikidata {
            let digits = q.strip_prefix('Q').unwrap_or("");
            if !is_number(digits, 12) {
                return Err(DomainError::invalid("externalIds.wikidata", "must be a Wikidata item id: Q and digits"));
            }
        }
        if viaf.as_deref().is_some_and(|v| !is_number(v, 22)) {
            return Err(DomainError::invalid("externalIds.viaf", "must be a VIAF id: digits"));
        }
        if geonames.as_deref().is_some_and(|g| !is_number(g, 12)) {
            return Err(DomainError::invalid("externalIds.geonames", "must be a GeoNames id: digits"));
        }
        Ok(Self { wikidata, viaf, geonames })
    }

    pub fn is_empty(&self) -> bool {
        self.wikidata.is_none() && self.viaf.is_none() && self.geonames.is_none()
    }

    /// `(scheme, id, URI)` of each identifier present, in a fixed order.
    pub fn uris(&self) -> Vec<(&'static str, &str, String)> {
        let mut out = Vec::new();
        if let Some(q) = &self.wikidata {
            out.push(("wikidata", q.as_str(), format!("http://www.wikidata.org/entity/{q}")));
        }
        if let Some(v) = &self.viaf {
            out.push(("viaf", v.as_str(), format!("http://viaf.org/viaf/{v}")));
        }
        if let Some(g) = &self.geonames {
            out.push(("geonames", g.as_str(), format!("https://sws.geonames.org/{g}/")));
        }
        out
    }

    /// As stored: `{"wikidata": "Q…", ...}` with only the identifiers present.
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (key, value) in [("wikidata", &self.wikidata), ("viaf", &self.viaf), ("geonames", &self.geonames)] {
            if let Some(v) = value {
                map.insert(key.into(), Value::String(v.clone()));
            }
        }
        Value::Object(map)
    }

    /// Reads what [`to_json`](Self::to_json) wrote (unknown keys are ignored).
    pub fn from_json(v: &Value) -> Self {
        let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Self { wikidata: get("wikidata"), viaf: get("viaf"), geonames: get("geonames") }
    }

    /// These identifiers, with those missing taken from `other`.
    pub fn or(&self, other: &Self) -> Self {
        Self {
            wikidata: self.wikidata.clone().or_else(|| other.wikidata.clone()),
            viaf: self.viaf.clone().or_else(|| other.viaf.clone()),
            geonames: self.geonames.clone().or_else(|| other.geonames.clone()),
        }
    }
}

fn is_number(s: &str, max_digits: usize) -> bool {
    !s.is_empty() && s.len() <= max_digits && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0')
}

/// What an entry says: everything a version records besides who and when.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeContent {
    pub name: String,
    pub entity_type_id: EntityTypeId,
    /// Each once under folding, none equal to the name, in the order given.
    pub aliases: Vec<String>,
    pub description: Option<String>,
    pub external_ids: ExternalIds,
    /// A JSON object of free attributes (dates, lineage, notes of the edition ...).
    pub attributes: Value,
}

impl KnowledgeContent {
    /// Validates raw content: the name and each alias trimmed, 1–200 characters, not all
    /// marks; aliases folded-unique; a description of at most 5000 characters; attributes an
    /// object of at most 16 KiB.
    pub fn new(
        name: &str,
        entity_type_id: EntityTypeId,
        aliases: Vec<String>,
        description: Option<String>,
        external_ids: ExternalIds,
        attributes: Option<Value>,
    ) -> DomainResult<Self> {
        let name = validate_name(name, "name")?;
        if aliases.len() > MAX_ALIASES {
            return Err(DomainError::invalid("aliases", format!("at most {MAX_ALIASES} aliases")));
        }
        let aliases = aliases
            .iter()
            .enumerate()
            .map(|(i, a)| validate_name(a, &format!("aliases.{i}")))
            .collect::<DomainResult<Vec<_>>>()?;
        let description = description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        if description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
            return Err(DomainError::invalid(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        let attributes = validate_attributes(attributes.unwrap_or_else(|| json!({})))?;
        let aliases = distinct_aliases(&name, aliases);
        Ok(Self { name, entity_type_id, aliases, description, external_ids, attributes })
    }

    /// The name, then the aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// Adds aliases (kept unique under folding, the name left out); false when none was new.
    pub fn add_aliases(&mut self, more: impl IntoIterator<Item = String>) -> bool {
        let before = self.aliases.len();
        let mut all = std::mem::take(&mut self.aliases);
        all.extend(more);
        self.aliases = distinct_aliases(&self.name, all);
        self.aliases.truncate(MAX_ALIASES.max(before));
        self.aliases.len() > before
    }

    /// The JSON a version and an export write of the content.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "entityTypeId": self.entity_type_id,
            "aliases": self.aliases,
            "description": self.description,
            "externalIds": self.external_ids.to_json(),
            "attributes": self.attributes,
        })
    }
}

/// A name or alias: trimmed, inner whitespace runs made one space, 1–200 characters, with at
/// least one letter or digit under folding.
/// What separates the aliases of an entry in one CSV field (` | `): no name holds it, so the
/// field splits back into exactly the aliases.
pub const ALIAS_SEPARATOR: char = '|';

pub fn validate_name(raw: &str, field: &str) -> DomainResult<String> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(DomainError::invalid(field, "must not be blank"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(DomainError::invalid(field, format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    if name.contains(ALIAS_SEPARATOR) {
        return Err(DomainError::invalid(field, "must not contain '|' (it separates aliases in the CSV export)"));
    }
    if !fold_key(&name).chars().any(char::is_alphanumeric) {
        return Err(DomainError::invalid(field, "must contain a letter or digit"));
    }
    Ok(name)
}

fn validate_attributes(v: Value) -> DomainResult<Value> {
    if !v.is_object() {
        return Err(DomainError::invalid("attributes", "must be a JSON object"));
    }
    if v.to_string().len() > MAX_ATTRIBUTES_BYTES {
        return Err(DomainError::invalid(
            "attributes",
            format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON"),
        ));
    }
    Ok(v)
}

/// The aliases each once under folding, in the order first given, without the name.
pub fn distinct_aliases(name: &str, aliases: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::from([fold_key(name)]);
    aliases.into_iter().filter(|a| seen.insert(fold_key(a))).collect()
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeItem {
    pub id: KnowledgeItemId,
    pub project_id: ProjectId,
    pub content: KnowledgeContent,
    /// 1 for a new entry, one more for every change.
    pub version: u32,
    pub approved: bool,
    pub approved_by: Option<UserId>,
    pub approved_at: Option<DateTime<Utc>>,
    /// The entry this one was merged into (then it is gone from the knowledge base).
    pub merged_into: Option<KnowledgeItemId>,
    /// When it was deleted (then it is gone from the knowledge base; its versions stay).
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
    pub updated_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl KnowledgeItem {
    /// A new, unapproved entry at version 1.
    pub fn new(project_id: ProjectId, content: KnowledgeContent, by: UserId, at: DateTime<Utc>) -> Self {
        Self {
            id: KnowledgeItemId::new(),
            project_id,
            content,
            version: 1,
            approved: false,
            approved_by: None,
            approved_at: None,
            merged_into: None,
            deleted_at: None,
            created_by: Some(by),
            updated_by: Some(by),
            created_at: at,
            updated_at: at,
        }
    }

    /// Still in the knowledge base: neither merged into another entry nor deleted.
    pub fn is_live(&self) -> bool {
        self.merged_into.is_none() && self.deleted_at.is_none()
    }

    /// Applies a change as the next version. A change of content by someone who may not
    /// approve withdraws the approval (a manager approves the new content); a manager's own
    /// change keeps it.
    pub fn change(&mut self, content: KnowledgeContent, by: UserId, is_manager: bool, at: DateTime<Utc>) {
        if content != self.content && !is_manager {
            self.approved = false;
            self.approved_by = None;
            self.approved_at = None;
        }
        self.content = content;
        self.touch(by, at);
    }

    pub fn approve(&mut self, by: UserId, at: DateTime<Utc>) {
        self.approved = true;
        self.approved_by = Some(by);
        self.approved_at = Some(at);
        self.touch(by, at);
    }

    fn touch(&mut self, by: UserId, at: DateTime<Utc>) {
        self.version += 1;
        self.updated_by = Some(by);
        self.updated_at = at;
    }

    /// The version that records the entry as it is now.
    pub fn snapshot(&self, action: VersionAction, details: Value) -> KnowledgeVersion {
        KnowledgeVersion {
            id: KnowledgeVersionId::new(),
            item_id: self.id,
            project_id: self.project_id,
            version: self.version,
            action,
            content: self.content.clone(),
            approved: self.approved,
            details,
            changed_by: self.updated_by,
            changed_at: self.updated_at,
        }
    }
}

/// Fails with CONFLICT unless the entry is still at the version the change was made from.
pub fn check_version(item: &KnowledgeItem, expected: u32) -> DomainResult<()> {
    if item.version == expected {
        Ok(())
    } else {
        Err(DomainError::conflict(format!(
            "the entry changed since version {expected}: it is at version {} now; reload it and edit again",
            item.version
        )))
    }
}

/// What a version records having happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionAction {
    Create,
    Update,
    Approve,
    /// Other entries were merged into this one.
    Merge,
    /// This entry was merged into another (its last version).
    MergedInto,
    /// A reviewed proposal added an alias.
    AddAlias,
    /// This entry was deleted (its last version).
    Delete,
}

impl VersionAction {
    pub const ALL: [Self; 7] =
        [Self::Create, Self::Update, Self::Approve, Self::Merge, Self::MergedInto, Self::AddAlias, Self::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Approve => "APPROVE",
            Self::Merge => "MERGE",
            Self::MergedInto => "MERGED_INTO",
            Self::AddAlias => "ADD_ALIAS",
            Self::Delete => "DELETE",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown knowledge version action {s:?} in storage")))
    }
}

/// One immutable version of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeVersion {
    pub id: KnowledgeVersionId,
    pub item_id: KnowledgeItemId,
    pub project_id: ProjectId,
    pub version: u32,
    pub action: VersionAction,
    pub content: KnowledgeContent,
    pub approved: bool,
    /// What the action concerned: `{"mergedFrom": [...]}`, `{"mergedInto": id}`, ...
    pub details: Value,
    pub changed_by: Option<UserId>,
    pub changed_at: DateTime<Utc>,
}

/// The content of `target` after `sources` are merged into it: their names and aliases become
/// its aliases (each once; beyond [`MAX_ALIASES`] the rest are dropped), identifiers and
/// description it lacks come from them (the first that has one), attributes it lacks too.
pub fn merged_content(target: &KnowledgeContent, sources: &[&KnowledgeContent]) -> KnowledgeContent {
    let mut merged = target.clone();
    merged.add_aliases(sources.iter().flat_map(|s| s.names().map(str::to_owned).collect::<Vec<_>>()));
    for s in sources {
        merged.external_ids = merged.external_ids.or(&s.external_ids);
        if merged.description.is_none() {
            merged.description = s.description.clone();
        }
        if let (Some(into), Some(from)) = (merged.attributes.as_object_mut(), s.attributes.as_object()) {
            for (k, v) in from {
                into.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if merged.attributes.to_string().len() > MAX_ATTRIBUTES_BYTES {
        merged.attributes = target.attributes.clone();
    }
    merged
}

/// How one entry relates to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    SonOf,
    DaughterOf,
    SiblingOf,
    SpouseOf,
    CompanionOf,
    LocatedIn,
    RelatedTo,
}

impl LinkType {
    pub const ALL: [Self; 7] = [
        Self::SonOf,
        Self::DaughterOf,
        Self::SiblingOf,
        Self::SpouseOf,
        Self::CompanionOf,
        Self::LocatedIn,
        Self::RelatedTo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SonOf => "SON_OF",
            Self::DaughterOf => "DAUGHTER_OF",
            Self::SiblingOf => "SIBLING_OF",
            Self::SpouseOf => "SPOUSE_OF",
            Self::CompanionOf => "COMPANION_OF",
            Self::LocatedIn => "LOCATED_IN",
            Self::RelatedTo => "RELATED_TO",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown knowledge link type {s:?} in storage")))
    }
}

/// A link from one entry to another of the same project.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeLink {
    pub id: KnowledgeLinkId,
    pub project_id: ProjectId,
    pub from: KnowledgeItemId,
    pub to: KnowledgeItemId,
    pub kind: LinkType,
    /// How sure or how strong, in [0, 1].
    pub strength: f64,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// A strength in [0, 1] (1 when not given).
pub fn validate_strength(strength: Option<f64>) -> DomainResult<f64> {
    let s = strength.unwrap_or(1.0);
    if s.is_finite() && (0.0..=1.0).contains(&s) {
        Ok(s)
    } else {
        Err(DomainError::invalid("strength", "must be between 0 and 1"))
    }
}

/// What a link between two entries must satisfy: two entries, of one project.
pub fn check_link(from: &KnowledgeItem, to: &KnowledgeItem) -> DomainResult<()> {
    if from.id == to.id {
        return Err(DomainError::invalid("toId", "an entry cannot be linked to itself"));
    }
    if from.project_id != to.project_id {
        return Err(DomainError::invalid("toId", "both entries must belong to the same project"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(name: &str, aliases: &[&str]) -> KnowledgeContent {
        KnowledgeContent::new(
            name,
            EntityTypeId(uuid::Uuid::nil()),
            aliases.iter().map(|a| a.to_string()).collect(),
            None,
            ExternalIds::default(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn aliases_are_unique_under_folding_and_never_the_name() {
        let c = content(" حسینؑ ", &["حسين", "شبیر", "شبّیر", "  سرور  ", "شاہِ  کربلا", "شاہ کربلا"]);
        assert_eq!(c.name, "حسینؑ");
        assert_eq!(c.aliases, ["شبیر", "سرور", "شاہِ کربلا"]);
        assert_eq!(c.names().count(), 4);
    }

    #[test]
    fn names_are_bounded_and_must_have_letters() {
        let t = EntityTypeId::new();
        let make = |name: &str, aliases: Vec<String>| {
            KnowledgeContent::new(name, t, aliases, None, ExternalIds::default(), None).map_err(|e| e.to_string())
        };
        assert_eq!(make("  ", vec![]).unwrap_err(), "name: must not be blank");
        assert_eq!(make("\u{0611}", vec![]).unwrap_err(), "name: must contain a letter or digit");
        assert!(make(&"ع".repeat(200), vec![]).is_ok());
        assert_eq!(make(&"ع".repeat(201), vec![]).unwrap_err(), "name: must be at most 200 characters");
        assert_eq!(make("عباس", vec!["".into()]).unwrap_err(), "aliases.0: must not be blank");
        assert_eq!(make("عباس", vec!["x".into(); 101]).unwrap_err(), "aliases: at most 100 aliases");
        assert_eq!(make("a\u{7}b", vec![]).unwrap_err(), "name: must not contain control characters");
        let piped = "aliases.1: must not contain '|' (it separates aliases in the CSV export)";
        assert_eq!(make("عباس", vec!["علمدار".into(), "سقا | غازی".into()]).unwrap_err(), piped);
        assert!(make("حسین|ابن علی", vec![]).is_err());
        let long = Some("x".repeat(5001));
        let e = KnowledgeContent::new("عباس", t, vec![], long, ExternalIds::default(), None).unwrap_err();
        assert_eq!(e.to_string(), "description: must be at most 5000 characters");
        let e = KnowledgeContent::new("عباس", t, vec![], None, ExternalIds::default(), Some(json!([1]))).unwrap_err();
        assert_eq!(e.to_string(), "attributes: must be a JSON object");
        let big = json!({"x": "y".repeat(MAX_ATTRIBUTES_BYTES)});
        assert!(KnowledgeContent::new("عباس", t, vec![], None, ExternalIds::default(), Some(big)).is_err());
    }

    #[test]
    fn external_ids_are_checked_and_made_uris() {
        let ids = ExternalIds::new(Some(" Q193236 ".into()), Some("100218059".into()), Some("".into())).unwrap();
        assert_eq!(ids.wikidata.as_deref(), Some("Q193236"));
        assert_eq!(ids.geonames, None);
        assert_eq!(ids.uris()[0].2, "http://www.wikidata.org/entity/Q193236");
        assert_eq!(ExternalIds::from_json(&ids.to_json()), ids);
        for (w, v, g, field) in [
            (Some("193236"), None, None, "externalIds.wikidata"),
            (Some("Q"), None, None, "externalIds.wikidata"),
            (Some("Q0123"), None, None, "externalIds.wikidata"),
            (None, Some("12a"), None, "externalIds.viaf"),
            (None, None, Some("-3"), "externalIds.geonames"),
        ] {
            let e = ExternalIds::new(w.map(Into::into), v.map(Into::into), g.map(Into::into)).unwrap_err();
            assert!(matches!(&e, DomainError::Invalid { field: f, .. } if f == field), "{e}");
        }
    }

    #[test]
    fn versions_count_changes_and_a_stale_one_conflicts() {
        let now = Utc::now();
        let (researcher, manager) = (UserId::new(), UserId::new());
        let mut item = KnowledgeItem::new(ProjectId::new(), content("عباس", &[]), researcher, now);
        assert_eq!(item.version, 1);
        item.approve(manager, now);
        assert_eq!((item.version, item.approved), (2, true));
        assert!(check_version(&item, 1).is_err());
        assert!(check_version(&item, 2).is_ok());
        item.change(content("عباس", &["علمدار"]), manager, true, now);
        assert_eq!((item.version, item.approved), (3, true), "a manager's change keeps the approval");
        item.change(content("عباس", &["علمدار"]), researcher, false, now);
        assert_eq!((item.version, item.approved), (4, true), "no change of content, nothing to approve");
        item.change(content("عباس", &["علمدار", "ابوالفضل"]), researcher, false, now);
        assert_eq!((item.version, item.approved, item.approved_by), (5, false, None));
        let v = item.snapshot(VersionAction::Update, json!({}));
        assert_eq!((v.version, v.changed_by, v.content.aliases.len()), (5, Some(researcher), 2));
        for a in VersionAction::ALL {
            assert_eq!(VersionAction::parse(a.as_str()).unwrap(), a);
        }
    }

    #[test]
    fn a_merge_keeps_every_name() {
        let mut target = content("حسین", &["شبیر"]);
        target.external_ids.wikidata = Some("Q1".into());
        let mut a = content("سرور", &["شاہ کربلا", "حسين"]);
        a.external_ids = ExternalIds { wikidata: Some("Q2".into()), viaf: Some("7".into()), geonames: None };
        a.description = Some("the lord".into());
        a.attributes = json!({"born": 626});
        let b = content("شبّیر", &["مظلوم"]);
        let m = merged_content(&target, &[&a, &b]);
        assert_eq!(m.name, "حسین");
        assert_eq!(m.aliases, ["شبیر", "سرور", "شاہ کربلا", "مظلوم"]);
        assert_eq!(m.external_ids.wikidata.as_deref(), Some("Q1"), "the target's own identifier wins");
        assert_eq!(m.external_ids.viaf.as_deref(), Some("7"));
        assert_eq!(m.description.as_deref(), Some("the lord"));
        assert_eq!(m.attributes, json!({"born": 626}));
    }

    #[test]
    fn links_and_strengths() {
        let now = Utc::now();
        let by = UserId::new();
        let p = ProjectId::new();
        let a = KnowledgeItem::new(p, content("عباس", &[]), by, now);
        let b = KnowledgeItem::new(p, content("علی", &[]), by, now);
        let c = KnowledgeItem::new(ProjectId::new(), content("علی", &[]), by, now);
        assert!(check_link(&a, &b).is_ok());
        assert!(check_link(&a, &a).is_err());
        assert!(check_link(&a, &c).is_err());
        assert_eq!(validate_strength(None).unwrap(), 1.0);
        assert!(validate_strength(Some(1.5)).is_err());
        assert!(validate_strength(Some(f64::NAN)).is_err());
        for t in LinkType::ALL {
            assert_eq!(LinkType::parse(t.as_str()).unwrap(), t);
        }
    }
}
