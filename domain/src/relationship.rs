//! Relationships between entities of one project.

use chrono::{DateTime, Utc};

use crate::error::{DomainError, DomainResult};
use crate::ids::{EntityId, ProjectId, RelationshipId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationshipType {
    SameAs,
    PartOf,
    LocatedIn,
    BornIn,
    DiedIn,
    FoughtIn,
    RelatedTo,
    Mentions,
    References,
}

impl RelationshipType {
    pub const ALL: [Self; 9] = [
        Self::SameAs,
        Self::PartOf,
        Self::LocatedIn,
        Self::BornIn,
        Self::DiedIn,
        Self::FoughtIn,
        Self::RelatedTo,
        Self::Mentions,
        Self::References,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SameAs => "SAME_AS",
            Self::PartOf => "PART_OF",
            Self::LocatedIn => "LOCATED_IN",
            Self::BornIn => "BORN_IN",
            Self::DiedIn => "DIED_IN",
            Self::FoughtIn => "FOUGHT_IN",
            Self::RelatedTo => "RELATED_TO",
            Self::Mentions => "MENTIONS",
            Self::References => "REFERENCES",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown relationship type {s:?} in storage")))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Relationship {
    pub id: RelationshipId,
    pub project_id: ProjectId,
    pub source: EntityId,
    pub target: EntityId,
    pub kind: RelationshipType,
    pub confidence: Option<f64>,
    pub notes: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// The rules a new relationship must satisfy: both ends in one project, and no entity
/// related to itself.
pub fn check_relationship(source: (EntityId, ProjectId), target: (EntityId, ProjectId)) -> DomainResult<()> {
    if source.0 == target.0 {
        return Err(DomainError::invalid("targetEntityId", "an entity cannot be related to itself"));
    }
    if source.1 != target.1 {
        return Err(DomainError::invalid("targetEntityId", "both entities must belong to the same project"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let p = ProjectId::new();
        let a = EntityId::new();
        assert!(check_relationship((a, p), (a, p)).is_err());
        assert!(check_relationship((a, p), (EntityId::new(), ProjectId::new())).is_err());
        assert!(check_relationship((a, p), (EntityId::new(), p)).is_ok());
        for t in RelationshipType::ALL {
            assert_eq!(RelationshipType::parse(t.as_str()).unwrap(), t);
        }
    }
}
