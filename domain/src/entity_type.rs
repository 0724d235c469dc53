//! Entity types: the labels entities carry. Seven system types are seeded; admins add more.

use chrono::{DateTime, Utc};

use crate::error::{DomainError, DomainResult};
use crate::ids::EntityTypeId;

/// A type name: upper case letters, digits and underscores, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypeName(String);

impl TypeName {
    pub fn new(raw: &str) -> DomainResult<Self> {
        let name = raw.trim();
        let ok = (2..=50).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_uppercase())
            && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(DomainError::invalid(
                "name",
                "must be 2 to 50 upper-case letters, digits or underscores, starting with a letter (e.g. POET)",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A colour as `#RRGGBB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexColor {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl HexColor {
    pub fn parse(raw: &str) -> DomainResult<Self> {
        let bad = || DomainError::invalid("color", "must be a colour as #RRGGBB");
        let hex = raw.trim().strip_prefix('#').ok_or_else(bad)?;
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Self { r: byte(0)?, g: byte(2)?, b: byte(4)? })
    }

    /// Canonical upper-case form.
    pub fn to_hex(self) -> String {
        format!("#{:02X}{:02X}{:02X}", self.r, self.g, self.b)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntityType {
    pub id: EntityTypeId,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub color: HexColor,
    pub examples: Vec<String>,
    pub is_system: bool,
    pub is_active: bool,
    pub sort_order: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Fields of a new or changed entity type; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EntityTypeFields {
    pub name: Option<TypeName>,
    pub display_name: Option<String>,
    pub description: Option<Option<String>>,
    pub color: Option<HexColor>,
    pub examples: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub sort_order: Option<i32>,
}

impl EntityTypeFields {
    pub fn validated(mut self) -> DomainResult<Self> {
        if let Some(d) = self.display_name.as_mut() {
            *d = d.trim().to_owned();
            if d.is_empty() || d.chars().count() > 100 {
                return Err(DomainError::invalid("displayName", "must be 1 to 100 characters long"));
            }
        }
        if let Some(Some(d)) = self.description.as_mut() {
            *d = d.trim().to_owned();
            if d.chars().count() > 2000 {
                return Err(DomainError::invalid("description", "must be at most 2000 characters"));
            }
        }
        if let Some(ex) = self.examples.as_mut() {
            for e in ex.iter_mut() {
                *e = e.trim().to_owned();
            }
            if ex.len() > 500 || ex.iter().any(|e| e.is_empty() || e.chars().count() > 200) {
                return Err(DomainError::invalid(
                    "examples",
                    "must hold at most 500 non-blank examples of at most 200 characters",
                ));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(TypeName::new("POET").is_ok());
        assert!(TypeName::new("WEAPON_2").is_ok());
        for bad in ["poet", "P", "2ND", "HAS SPACE", "شاعر"] {
            assert!(TypeName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn colours() {
        let c = HexColor::parse("#e6194b").unwrap();
        assert_eq!((c.r, c.g, c.b), (0xE6, 0x19, 0x4B));
        assert_eq!(c.to_hex(), "#E6194B");
        for bad in ["E6194B", "#E6194", "#GG194B", "#E6194BB"] {
            assert!(HexColor::parse(bad).is_err(), "{bad}");
        }
    }
}
