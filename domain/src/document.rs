//! Documents: the texts researchers annotate, with their metrics, direction and processing
//! status, and the versions their content goes through.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, ProjectId, UserId, VersionId};

/// Which way the text runs, detected from its letters and editable by researchers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Rtl,
    Ltr,
}

impl Direction {
    /// The direction of the majority of strongly directional letters: Arabic-script (and
    /// Hebrew) letters count for RTL, other alphabetic letters for LTR. A text without
    /// letters is LTR.
    pub fn detect(text: &str) -> Self {
        let (mut rtl, mut ltr) = (0usize, 0usize);
        for c in text.chars() {
            if is_rtl_letter(c) {
                rtl += 1;
            } else if c.is_alphabetic() {
                ltr += 1;
            }
        }
        if rtl > ltr { Self::Rtl } else { Self::Ltr }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rtl => "RTL",
            Self::Ltr => "LTR",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "RTL" => Ok(Self::Rtl),
            "LTR" => Ok(Self::Ltr),
            other => Err(DomainError::internal(format!("unknown direction {other:?} in storage"))),
        }
    }
}

fn is_rtl_letter(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{05FF}' | '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}'
        | '\u{08A0}'..='\u{08FF}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
        && c.is_alphabetic()
}

/// Where a document stands in model processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessingStatus {
    Pending,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl ProcessingStatus {
    pub const ALL: [Self; 5] = [Self::Pending, Self::Processing, Self::Completed, Self::Failed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown processing status {s:?} in storage")))
    }
}

/// Entity counts of a document, kept exact in the transaction of every entity change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntityCounts {
    pub total: u32,
    pub verified: u32,
}

impl EntityCounts {
    pub fn unverified(self) -> u32 {
        self.total - self.verified
    }

    /// Verified share of all entities, 0 to 1 (0 when there are none).
    pub fn verification_rate(self) -> f64 {
        if self.total == 0 { 0.0 } else { f64::from(self.verified) / f64::from(self.total) }
    }
}

/// Where an uploaded file came from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileInfo {
    pub file_name: Option<String>,
    pub file_size: Option<i64>,
    pub content_type: Option<String>,
    pub encoding: Option<String>,
}

/// Everything about a document but its text: what lists, pages of entities and counts need,
/// read without the content (which can be megabytes).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentInfo {
    pub id: DocumentId,
    pub project_id: ProjectId,
    pub title: String,
    pub content_hash: String,
    pub file: FileInfo,
    pub language: String,
    pub direction: Direction,
    pub word_count: u32,
    pub character_count: u32,
    pub line_count: u32,
    pub processing_status: ProcessingStatus,
    pub processing_started_at: Option<DateTime<Utc>>,
    pub processing_completed_at: Option<DateTime<Utc>>,
    pub processing_duration_ms: Option<i64>,
    pub counts: EntityCounts,
    pub confidence_score: Option<f64>,
    pub quality_score: Option<f64>,
    pub tags: Vec<String>,
    pub metadata: Value,
    pub notes: Option<String>,
    pub current_version: u32,
    pub created_by: Option<UserId>,
    pub updated_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DocumentInfo {
    /// The document's head: what access checks and entity changes need.
    pub fn head(&self) -> DocumentHead {
        DocumentHead {
            id: self.id,
            project_id: self.project_id,
            title: self.title.clone(),
            content_hash: self.content_hash.clone(),
            current_version: self.current_version,
        }
    }
}

/// A document with its text. Its other fields are its [`DocumentInfo`], read through `Deref`
/// (`doc.title`).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub info: DocumentInfo,
    pub content: String,
}

impl std::ops::Deref for Document {
    type Target = DocumentInfo;

    fn deref(&self) -> &DocumentInfo {
        &self.info
    }
}

/// A document without its content: what access checks and entity changes need, read without
/// the text (which can be megabytes).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentHead {
    pub id: DocumentId,
    pub project_id: ProjectId,
    pub title: String,
    /// SHA-256 of the content: names the content the head describes.
    pub content_hash: String,
    pub current_version: u32,
}

/// One stored state of a document's content.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentVersion {
    pub id: VersionId,
    pub document_id: DocumentId,
    pub version_number: u32,
    pub content: String,
    pub content_hash: String,
    pub change_summary: Option<String>,
    pub changed_by: Option<UserId>,
    pub changed_at: DateTime<Utc>,
    /// Lines and characters added and removed, entities moved and dropped.
    pub diff_summary: Value,
    pub unified_diff: String,
}

/// Which documents of a project a list keeps: those carrying every tag of `tags`, and whose
/// metadata holds every key of `metadata` with the same value (top-level keys; a value may be
/// any JSON value and is compared whole).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocumentFilter {
    pub tags: Vec<String>,
    pub metadata: serde_json::Map<String, Value>,
}

impl DocumentFilter {
    /// A filter from a client's input: at most 20 tags and 20 metadata keys; `metadata` must
    /// be an object whose keys have no `"` or `\`.
    pub fn new(tags: Vec<String>, metadata: Option<Value>) -> DomainResult<Self> {
        let tags: Vec<String> = tags.into_iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
        if tags.len() > 20 {
            return Err(DomainError::invalid("filter.tags", "may name at most 20 tags"));
        }
        let metadata = match metadata {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(DomainError::invalid("filter.metadata", "must be a JSON object")),
        };
        if metadata.len() > 20 {
            return Err(DomainError::invalid("filter.metadata", "may name at most 20 keys"));
        }
        if let Some(k) = metadata.keys().find(|k| k.is_empty() || k.contains('"') || k.contains('\\')) {
            return Err(DomainError::invalid(
                "filter.metadata",
                format!("key {k:?} may not be empty or hold '\"' or '\\'"),
            ));
        }
        Ok(Self { tags, metadata })
    }

    /// Whether the filter keeps every document.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.metadata.is_empty()
    }

    /// Whether `doc` passes (the rule the stores implement in SQL).
    pub fn keeps(&self, doc: &Document) -> bool {
        self.tags.iter().all(|t| doc.tags.contains(t))
            && self.metadata.iter().all(|(k, v)| doc.metadata.get(k) == Some(v))
    }
}

/// Editable metadata of a document (content changes go through versions).
#[derive(Debug, Clone, Default)]
pub struct DocumentFields {
    pub title: Option<String>,
    pub language: Option<String>,
    pub direction: Option<Direction>,
    pub tags: Option<Vec<String>>,
    pub metadata: Option<Value>,
    pub notes: Option<Option<String>>,
}

impl DocumentFields {
    pub fn validated(mut self) -> DomainResult<Self> {
        if let Some(t) = self.title.as_mut() {
            *t = validate_title(t)?;
        }
        if let Some(l) = self.language.as_mut() {
            *l = validate_language(l)?;
        }
        if let Some(tags) = self.tags.as_mut() {
            for t in tags.iter_mut() {
                *t = t.trim().to_owned();
            }
            if tags.len() > 100 || tags.iter().any(|t| t.is_empty() || t.chars().count() > 100) {
                return Err(DomainError::invalid(
                    "tags",
                    "must hold at most 100 non-blank tags of at most 100 characters",
                ));
            }
        }
        if let Some(m) = &self.metadata
            && !m.is_object()
        {
            return Err(DomainError::invalid("metadata", "must be a JSON object"));
        }
        if let Some(Some(n)) = self.notes.as_mut() {
            *n = n.trim().to_owned();
            if n.chars().count() > 10_000 {
                return Err(DomainError::invalid("notes", "must be at most 10000 characters"));
            }
        }
        Ok(self)
    }
}

/// SHA-256 of the content, hex: the identity of a text within a project.
pub fn content_hash(content: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(content.as_bytes()))
}

pub fn validate_title(raw: &str) -> DomainResult<String> {
    let t = raw.trim();
    let n = t.chars().count();
    if n == 0 || n > 300 {
        return Err(DomainError::invalid("title", "must be 1 to 300 characters long"));
    }
    Ok(t.to_owned())
}

/// The name to keep of an uploaded file: its base name only (a client's path, `../../etc/passwd`
/// or `C:\\texts\\a.txt`, is not ours to keep), without bidirectional controls (a right-to-left
/// override would make `txt.exe` read as `exe.txt`) or other control characters, trimmed, at
/// most 255 characters. `None` when nothing is left.
pub fn file_base_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let is_bidi =
        |c: char| matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let kept: String = base.chars().filter(|&c| !is_bidi(c) && !c.is_control()).collect();
    let kept: String = kept.trim().chars().take(255).collect();
    (!kept.is_empty() && kept != "." && kept != "..").then_some(kept)
}

/// A language tag such as `ur`, `fa`, `en-GB`: letters, digits and hyphens, 2 to 35 long.
pub fn validate_language(raw: &str) -> DomainResult<String> {
    let l = raw.trim();
    if !(2..=35).contains(&l.len()) || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(DomainError::invalid("language", "must be a language tag such as ur or en-GB"));
    }
    Ok(l.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_file_names_keep_their_base_name_only() {
        assert_eq!(file_base_name("../../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(file_base_name("C:\\texts\\marsiya.txt").as_deref(), Some("marsiya.txt"));
        assert_eq!(file_base_name("doc\u{202E}txt.exe").as_deref(), Some("doctxt.exe"));
        assert_eq!(file_base_name("\u{2067}مرثیہ\u{2069}.txt").as_deref(), Some("مرثیہ.txt"));
        assert_eq!(file_base_name("dir/"), None);
        assert_eq!(file_base_name(".."), None);
        assert_eq!(file_base_name("a\u{0}b\n.txt").as_deref(), Some("ab.txt"));
    }

    #[test]
    fn direction_follows_the_letters() {
        assert_eq!(Direction::detect("پنڈلیاں سوجی ہیں اور طوق سے چھلتا ہے گلا"), Direction::Rtl);
        assert_eq!(Direction::detect("The shins are swollen"), Direction::Ltr);
        assert_eq!(Direction::detect("کربلا (Karbala) میں"), Direction::Rtl);
        assert_eq!(Direction::detect("123 ..."), Direction::Ltr);
    }

    #[test]
    fn counts() {
        let c = EntityCounts { total: 4, verified: 1 };
        assert_eq!(c.unverified(), 3);
        assert_eq!(c.verification_rate(), 0.25);
        assert_eq!(EntityCounts::default().verification_rate(), 0.0);
    }

    #[test]
    fn fields() {
        assert!(validate_title("  ").is_err());
        assert_eq!(validate_language(" ur ").unwrap(), "ur");
        assert!(validate_language("u").is_err());
        assert!(validate_language("ur PK").is_err());
        let f = DocumentFields { metadata: Some(serde_json::json!([])), ..Default::default() };
        assert!(f.validated().is_err());
    }
}
