//! What the linked-data exports (TEI, Web Annotation) know besides the documents: the
//! knowledge-base entry each exported entity is linked to, the entries themselves, and what
//! names the export as a whole. Both formats name an entry by the same fragment or URN, made
//! here, so a TEI `ref` and a Web Annotation body agree.

use std::collections::HashMap;

use crate::ids::{EntityId, KnowledgeItemId};
use crate::knowledge::KnowledgeItem;

/// An entry as the exports show it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedItem {
    pub item: KnowledgeItem,
    /// Its entity type's name (`PERSON`, ...).
    pub type_name: String,
}

/// The knowledge-base side of a linked-data export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Linked {
    /// The entry each linked exported entity is linked to.
    pub links: HashMap<EntityId, KnowledgeItemId>,
    /// The entries those links name.
    pub items: HashMap<KnowledgeItemId, LinkedItem>,
    /// The name of the whole export (the project's name for a project export).
    pub title: String,
    /// The language of each exported document, by its export id (content hash).
    pub languages: HashMap<String, String>,
}

impl Linked {
    /// The entry an entity is linked to, if it is known.
    pub fn item_of(&self, entity: EntityId) -> Option<&LinkedItem> {
        self.items.get(self.links.get(&entity)?)
    }
}

/// The XML id of an entry in TEI (`k-` and its UUID: an XML name cannot start with a digit).
pub fn xml_id(id: KnowledgeItemId) -> String {
    format!("k-{id}")
}

/// The URN an entry goes by in Web Annotation bodies.
pub fn item_urn(id: KnowledgeItemId) -> String {
    format!("urn:uuid:{id}")
}
