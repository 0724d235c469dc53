//! The knowledge base as files: JSONL (one entry per line, with its aliases, identifiers,
//! attributes, approval, mention count and links) and CSV (one row per entry; aliases joined
//! by ` | `, links left out). Entries come in the order given (the service gives creation
//! order), links by target then type.

use serde_json::{Value, json};

use super::{KnowledgeItem, KnowledgeLink};

/// One entry as an export shows it.
#[derive(Debug, Clone)]
pub struct ExportItem<'a> {
    pub item: &'a KnowledgeItem,
    pub type_name: String,
    pub mentions: u64,
    /// The approver's username.
    pub approved_by: Option<String>,
    /// Links from this entry.
    pub links: Vec<&'a KnowledgeLink>,
}

/// The formats of `exportKnowledgeBase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnowledgeFormat {
    Jsonl,
    Csv,
}

impl KnowledgeFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jsonl => "JSONL",
            Self::Csv => "CSV",
        }
    }
}

pub fn write(format: KnowledgeFormat, items: &[ExportItem<'_>]) -> String {
    match format {
        KnowledgeFormat::Jsonl => jsonl(items),
        KnowledgeFormat::Csv => csv(items),
    }
}

fn entry_json(e: &ExportItem<'_>) -> Value {
    let i = e.item;
    let mut links: Vec<&KnowledgeLink> = e.links.clone();
    links.sort_by(|a, b| (a.to.0, a.kind.as_str()).cmp(&(b.to.0, b.kind.as_str())));
    json!({
        "id": i.id,
        "name": i.content.name,
        "type": e.type_name,
        "aliases": i.content.aliases,
        "description": i.content.description,
        "externalIds": i.content.external_ids.to_json(),
        "attributes": i.content.attributes,
        "approved": i.approved,
        "approvedBy": e.approved_by,
        "approvedAt": i.approved_at.map(|t| t.to_rfc3339()),
        "version": i.version,
        "mentions": e.mentions,
        "links": links.iter().map(|l| json!({"to": l.to, "type": l.kind.as_str(), "strength": l.strength})).collect::<Vec<_>>(),
    })
}

fn jsonl(items: &[ExportItem<'_>]) -> String {
    let mut out = String::new();
    for e in items {
        out.push_str(&entry_json(e).to_string());
        out.push('\n');
    }
    out
}

/// The CSV header row.
pub const COLUMNS: [&str; 12] = [
    "id",
    "name",
    "type",
    "aliases",
    "description",
    "wikidata",
    "viaf",
    "geonames",
    "approved",
    "approved_by",
    "version",
    "mentions",
];

fn csv(items: &[ExportItem<'_>]) -> String {
    let mut w = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(Vec::new());
    let failed = "writing CSV to memory cannot fail";
    w.write_record(COLUMNS).expect(failed);
    for e in items {
        let i = e.item;
        let ids = &i.content.external_ids;
        w.write_record([
            i.id.to_string().as_str(),
            &i.content.name,
            &e.type_name,
            &i.content.aliases.join(&format!(" {} ", super::ALIAS_SEPARATOR)),
            i.content.description.as_deref().unwrap_or_default(),
            ids.wikidata.as_deref().unwrap_or_default(),
            ids.viaf.as_deref().unwrap_or_default(),
            ids.geonames.as_deref().unwrap_or_default(),
            if i.approved { "true" } else { "false" },
            e.approved_by.as_deref().unwrap_or_default(),
            &i.version.to_string(),
            &e.mentions.to_string(),
        ])
        .expect(failed);
    }
    String::from_utf8(w.into_inner().expect(failed)).expect("CSV of strings is UTF-8")
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::ids::{EntityTypeId, KnowledgeLinkId, ProjectId, UserId};
    use crate::knowledge::{ExternalIds, KnowledgeContent, LinkType};

    #[test]
    fn jsonl_and_csv_carry_every_field() {
        let now = Utc::now();
        let ids = ExternalIds::new(Some("Q1".into()), None, None).unwrap();
        let content = KnowledgeContent::new(
            "عباسؑ",
            EntityTypeId::new(),
            vec!["علمدار".into(), "ابوالفضل, قمر".into()],
            Some("standard-bearer".into()),
            ids,
            None,
        )
        .unwrap();
        let item = KnowledgeItem::new(ProjectId::new(), content, UserId::new(), now);
        let link = KnowledgeLink {
            id: KnowledgeLinkId::new(),
            project_id: item.project_id,
            from: item.id,
            to: crate::ids::KnowledgeItemId::new(),
            kind: LinkType::SiblingOf,
            strength: 0.8,
            created_by: None,
            created_at: now,
        };
        let e =
            ExportItem { item: &item, type_name: "PERSON".into(), mentions: 3, approved_by: None, links: vec![&link] };
        let line: Value =
            serde_json::from_str(write(KnowledgeFormat::Jsonl, std::slice::from_ref(&e)).trim_end()).unwrap();
        assert_eq!(line["name"], "عباسؑ");
        assert_eq!(line["aliases"], json!(["علمدار", "ابوالفضل, قمر"]));
        assert_eq!(line["externalIds"], json!({"wikidata": "Q1"}));
        assert_eq!(line["links"][0]["type"], "SIBLING_OF");
        assert_eq!(line["mentions"], 3);
        let csv = write(KnowledgeFormat::Csv, &[e]);
        let mut r = ::csv::Reader::from_reader(csv.as_bytes());
        let row = r.records().next().unwrap().unwrap();
        assert_eq!(&row[3], "علمدار | ابوالفضل, قمر");
        assert_eq!(&row[5], "Q1");
        assert_eq!(&row[11], "3");
    }
}
