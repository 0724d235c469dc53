//! Research projects: their lifecycle status, their slugs and their editable fields.

use chrono::{DateTime, Utc};

use crate::error::{DomainError, DomainResult};
use crate::ids::{ProjectId, UserId};

/// Where a project stands in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProjectStatus {
    Planning,
    Active,
    Completed,
    Archived,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planning => "planning",
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "planning" => Ok(Self::Planning),
            "active" => Ok(Self::Active),
            "completed" => Ok(Self::Completed),
            "archived" => Ok(Self::Archived),
            other => Err(DomainError::internal(format!("unknown project status {other:?} in storage"))),
        }
    }
}

/// A URL-safe project handle: lower-case letters and digits of any script, joined by single
/// hyphens. Urdu names keep their letters (readable to the people who use them), and the
/// combining marks (zer, zabar, pesh, ...) and ZWNJ are dropped so they never split a word.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub const MAX_CHARS: usize = 60;

    /// The slug a name yields; a name with no letters or digits yields `project`.
    pub fn from_name(name: &str) -> Self {
        let mut out = String::new();
        let mut pending_hyphen = false;
        for c in name.chars() {
            if is_dropped_mark(c) {
                continue;
            }
            if c.is_alphanumeric() {
                if pending_hyphen && !out.is_empty() {
                    out.push('-');
                }
                pending_hyphen = false;
                out.extend(c.to_lowercase());
            } else {
                pending_hyphen = true;
            }
        }
        let mut slug: String = out.chars().take(Self::MAX_CHARS).collect();
        while slug.ends_with('-') {
            slug.pop();
        }
        if slug.is_empty() {
            slug = "project".to_owned();
        }
        Self(slug)
    }

    /// Parses a slug given by a client (for lookups): it must already be in slug form.
    pub fn parse(raw: &str) -> DomainResult<Self> {
        let slug = Self::from_name(raw);
        if slug.0 != raw {
            return Err(DomainError::invalid("slug", "is not a valid slug"));
        }
        Ok(slug)
    }

    /// The first of `base`, `base-2`, `base-3`, ... that is not among `taken`.
    pub fn unique_among<S: AsRef<str>>(&self, taken: &[S]) -> Self {
        let is_taken = |candidate: &str| taken.iter().any(|t| t.as_ref() == candidate);
        if !is_taken(&self.0) {
            return self.clone();
        }
        (2..)
            .map(|n| format!("{}-{n}", self.0))
            .find(|candidate| !is_taken(candidate))
            .map(Self)
            .expect("an unbounded range always yields a free suffix")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Arabic-script combining marks, tatweel and zero-width joiners: decoration, not letters.
fn is_dropped_mark(c: char) -> bool {
    matches!(c,
        '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}'
        | '\u{0640}' | '\u{200C}' | '\u{200D}')
}

/// A project as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub research_area: Option<String>,
    pub methodology: Option<String>,
    pub objectives: Option<String>,
    pub timeline: Option<String>,
    pub status: ProjectStatus,
    pub is_public: bool,
    pub allow_public_view: bool,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    /// How members annotate: one shared layer, or a layer each (issue 12).
    pub annotation_mode: crate::rounds::AnnotationMode,
    /// Hours after which an untouched IN_PROGRESS assignment goes back to NEW (never if None).
    pub abandon_after_hours: Option<u32>,
    /// Whether an annotator's layer of a document starts, when their assignment does, as a
    /// copy of the document's models' layers (pre-annotation), or empty.
    pub pre_annotate: bool,
    pub created_by: Option<UserId>,
    pub updated_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The editable fields of a project; on creation `None` means "empty", on update "unchanged"
/// (and `Some(None)` clears an optional field).
#[derive(Debug, Clone, Default)]
pub struct ProjectFields {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub research_area: Option<Option<String>>,
    pub methodology: Option<Option<String>>,
    pub objectives: Option<Option<String>>,
    pub timeline: Option<Option<String>>,
    pub status: Option<ProjectStatus>,
    pub is_public: Option<bool>,
    pub allow_public_view: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub references: Option<Vec<String>>,
    pub annotation_mode: Option<crate::rounds::AnnotationMode>,
    pub abandon_after_hours: Option<Option<u32>>,
    pub pre_annotate: Option<bool>,
}

impl ProjectFields {
    /// Trims and bounds every field; a blank name is refused, blank optional text clears.
    pub fn validated(mut self) -> DomainResult<Self> {
        if let Some(name) = self.name.as_mut() {
            *name = name.trim().to_owned();
            let len = name.chars().count();
            if len == 0 || len > 200 {
                return Err(DomainError::invalid("name", "must be 1 to 200 characters long"));
            }
        }
        for (field, value, max) in [
            ("description", &mut self.description, 10_000),
            ("researchArea", &mut self.research_area, 200),
            ("methodology", &mut self.methodology, 10_000),
            ("objectives", &mut self.objectives, 10_000),
            ("timeline", &mut self.timeline, 2_000),
        ] {
            if let Some(inner) = value {
                if let Some(s) = inner.as_mut() {
                    *s = s.trim().to_owned();
                    if s.chars().count() > max {
                        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
                    }
                }
                if inner.as_deref() == Some("") {
                    *inner = None;
                }
            }
        }
        for (field, list) in [("tags", &mut self.tags), ("references", &mut self.references)] {
            if let Some(list) = list {
                for item in list.iter_mut() {
                    *item = item.trim().to_owned();
                }
                if list.len() > 100 || list.iter().any(|s| s.is_empty() || s.chars().count() > 500) {
                    return Err(DomainError::invalid(
                        field,
                        "must hold at most 100 non-blank entries of at most 500 characters",
                    ));
                }
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_slugs() {
        assert_eq!(Slug::from_name("  Marsiya of Anis: 1850s!  ").as_str(), "marsiya-of-anis-1850s");
        assert_eq!(Slug::from_name("!!!").as_str(), "project");
        assert_eq!(Slug::from_name("Ünïcode Names").as_str(), "ünïcode-names");
    }

    #[test]
    fn urdu_slugs_keep_letters_and_drop_marks() {
        // "Marsiya-e-Anis" with a zer (U+0650) and a ZWNJ inside words.
        assert_eq!(Slug::from_name("مرثیۂ انیسؔ").as_str(), "مرثیۂ-انیس");
        assert_eq!(Slug::from_name("کر\u{0650}بلا\u{200C}ئی").as_str(), "کربلائی");
        let s = Slug::from_name("واقعۂ کربلا (۱۸۵۰)");
        assert_eq!(s.as_str(), "واقعۂ-کربلا-۱۸۵۰");
        assert!(Slug::parse(s.as_str()).is_ok());
    }

    #[test]
    fn slugs_are_bounded() {
        let s = Slug::from_name(&"word ".repeat(40));
        assert!(s.as_str().chars().count() <= Slug::MAX_CHARS);
        assert!(!s.as_str().ends_with('-'));
    }

    #[test]
    fn unique_suffixes() {
        let base = Slug::from_name("Anis");
        assert_eq!(base.unique_among::<&str>(&[]).as_str(), "anis");
        assert_eq!(base.unique_among(&["anis"]).as_str(), "anis-2");
        assert_eq!(base.unique_among(&["anis", "anis-2", "anis-4"]).as_str(), "anis-3");
    }

    #[test]
    fn slug_parse_rejects_non_slugs() {
        assert!(Slug::parse("Has Caps").is_err());
        assert!(Slug::parse("a--b").is_err());
        assert!(Slug::parse("anis-2").is_ok());
    }

    #[test]
    fn field_validation() {
        assert!(ProjectFields { name: Some("  ".into()), ..Default::default() }.validated().is_err());
        let f = ProjectFields { description: Some(Some(" ".into())), ..Default::default() }.validated().unwrap();
        assert_eq!(f.description, Some(None));
        let err = ProjectFields { tags: Some(vec!["".into()]), ..Default::default() }.validated().unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "tags"));
    }
}
