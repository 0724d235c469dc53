//! W3C Web Annotation (JSON-LD): one `AnnotationCollection` whose first `AnnotationPage` holds an
//! `Annotation` per entity. Its target is the document (`ni:///sha-256;…`, RFC 6920: the
//! document's text by its SHA-256, as the other formats name it) with two selectors, a
//! `TextQuoteSelector` (`exact`, and up to 32 characters of `prefix` and `suffix`) and a
//! `TextPositionSelector` (`start`, `end`); both count Unicode code points, the model's
//! "characters", so `text[start:end] == exact` in any language that indexes code points.
//!
//! A mention linked to a knowledge-base entry is `identifying` it: the body is the entry
//! (`urn:uuid:…`, typed `schema:Person`, `schema:Place`, `schema:Organization` or
//! `schema:Thing`), with its name as `label`, its aliases as `schema:alternateName` and its
//! outside identifiers as `schema:sameAs`. Any other entity is `tagging` its span with a
//! `TextualBody` whose value is the type name. The `@context` is the Web Annotation context
//! and a small one for the schema.org terms.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::linked::{Linked, LinkedItem, item_urn};
use super::{ExportDocument, ExportEntity, Exported};

/// The Web Annotation context every annotation document names.
pub const CONTEXT: &str = "http://www.w3.org/ns/anno.jsonld";
/// Characters of quote context on each side.
pub const QUOTE_CONTEXT: usize = 32;

/// The `@context`: Web Annotation, and the schema.org terms of entry bodies.
pub fn context() -> Value {
    json!([
        CONTEXT,
        {
            "schema": "http://schema.org/",
            "sameAs": {"@id": "schema:sameAs", "@type": "@id"},
            "alternateName": "schema:alternateName"
        }
    ])
}

/// The URI of a document's text (RFC 6920 `ni`, from the hex SHA-256 the exports use as id).
pub fn document_uri(content_hash: &str) -> String {
    let bytes: Vec<u8> = (0..content_hash.len() / 2)
        .filter_map(|i| u8::from_str_radix(content_hash.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    format!("ni:///sha-256;{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Writes every entity of the documents as an annotation, in one collection.
pub fn write(docs: &[ExportDocument], linked: &Linked) -> Exported {
    let mut items = Vec::new();
    for doc in docs {
        let chars: Vec<char> = doc.text.chars().collect();
        let source = document_uri(&doc.id);
        for e in &doc.entities {
            items.push(annotation(e, &chars, &source, linked.item_of(e.id)));
        }
    }
    let id = match docs {
        [doc] => document_uri(&doc.id),
        _ => format!(
            "urn:nishan:export:{}",
            docs.iter().map(|d| &d.id[..12.min(d.id.len())]).collect::<Vec<_>>().join("-")
        ),
    };
    let label = match docs {
        [doc] => doc.title.clone(),
        _ => linked.title.clone(),
    };
    let collection = json!({
        "@context": context(),
        "id": format!("{id}#annotations"),
        "type": "AnnotationCollection",
        "label": label,
        "total": items.len(),
        "first": {
            "type": "AnnotationPage",
            "startIndex": 0,
            "items": items,
        },
    });
    let mut data = serde_json::to_string_pretty(&collection).expect("JSON of values serialises");
    data.push('\n');
    Exported { data, omitted: 0 }
}

fn annotation(e: &ExportEntity, chars: &[char], source: &str, item: Option<&LinkedItem>) -> Value {
    let (start, end) = (e.start as usize, e.end as usize);
    let prefix: String = chars[start.saturating_sub(QUOTE_CONTEXT)..start].iter().collect();
    let suffix: String = chars[end..(end + QUOTE_CONTEXT).min(chars.len())].iter().collect();
    let exact: String = chars[start..end].iter().collect();
    let (motivation, body) = match item {
        Some(i) => ("identifying", entry_body(i)),
        None => ("tagging", json!({"type": "TextualBody", "value": e.type_name, "purpose": "tagging"})),
    };
    json!({
        "id": format!("urn:uuid:{}", e.id),
        "type": "Annotation",
        "motivation": motivation,
        "body": body,
        "target": {
            "source": source,
            "selector": [
                {"type": "TextQuoteSelector", "exact": exact, "prefix": prefix, "suffix": suffix},
                {"type": "TextPositionSelector", "start": e.start, "end": e.end},
            ],
        },
    })
}

fn entry_body(i: &LinkedItem) -> Value {
    let c = &i.item.content;
    let kind = match i.type_name.as_str() {
        "PERSON" => "schema:Person",
        "LOCATION" => "schema:Place",
        "ORGANIZATION" => "schema:Organization",
        _ => "schema:Thing",
    };
    let mut body = json!({"id": item_urn(i.item.id), "type": kind, "label": c.name});
    if !c.aliases.is_empty() {
        body["alternateName"] = json!(c.aliases);
    }
    let same: Vec<String> = c.external_ids.uris().into_iter().map(|(_, _, uri)| uri).collect();
    if !same.is_empty() {
        body["sameAs"] = json!(same);
    }
    body
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::exchange::tests::{document, entity};
    use crate::ids::{EntityTypeId, ProjectId, UserId};
    use crate::knowledge::{ExternalIds, KnowledgeContent, KnowledgeItem};

    #[test]
    fn linked_mentions_identify_their_entry_and_others_tag_their_type() {
        let husain = entity("حسینؑ", "PERSON");
        let furat = entity("فرات", "LOCATION");
        let doc = ExportDocument::new(&document(), vec![husain.clone(), furat], &[]);
        let ids = ExternalIds::new(Some("Q193236".into()), Some("5".into()), None).unwrap();
        let content = KnowledgeContent::new("حسینؑ", EntityTypeId::new(), vec!["شبیر".into()], None, ids, None).unwrap();
        let item = KnowledgeItem::new(ProjectId::new(), content, UserId::new(), Utc::now());
        let mut linked = Linked::default();
        linked.links.insert(husain.id, item.id);
        linked.items.insert(item.id, LinkedItem { item: item.clone(), type_name: "PERSON".into() });
        let out: Value = serde_json::from_str(&write(std::slice::from_ref(&doc), &linked).data).unwrap();
        assert_eq!(out["@context"][0], CONTEXT);
        assert_eq!(out["total"], 2);
        let first = &out["first"]["items"][0];
        assert_eq!(first["motivation"], "identifying");
        assert_eq!(first["body"]["id"], format!("urn:uuid:{}", item.id));
        assert_eq!(
            first["body"]["sameAs"],
            json!(["http://www.wikidata.org/entity/Q193236", "http://viaf.org/viaf/5"])
        );
        let selectors = &first["target"]["selector"];
        assert_eq!(
            selectors[0],
            json!({"type": "TextQuoteSelector", "exact": "حسینؑ", "prefix": "امام ", "suffix": " ابن علیؑ, کربلا میں\nعباسؑ، فرات"}),
            "32 code points each side"
        );
        assert_eq!(selectors[1], json!({"type": "TextPositionSelector", "start": husain.start, "end": husain.end}));
        let second = &out["first"]["items"][1];
        assert_eq!(second["motivation"], "tagging");
        assert_eq!(second["body"]["value"], "LOCATION");
        assert_eq!(first["target"]["source"], document_uri(&doc.id));
    }

    #[test]
    fn document_uris_follow_rfc_6920() {
        // RFC 6920 section 3's example: the SHA-256 of "Hello World!".
        let hash = "7f83b1657ff1fc53b92dc18148a1d65dfc2d4b1fa3d677284addd200126d9069";
        assert_eq!(document_uri(hash), "ni:///sha-256;f4OxZX_x_FO5LcGBSKHWXfwtSx-j1ncoSt3SABJtkGk");
    }
}
