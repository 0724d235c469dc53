//! TEI P5: the XML that digital-humanities journals and archives take. A document is one
//! `<TEI xmlns="http://www.tei-c.org/ns/1.0">` whose body holds each stanza as
//! `<lg type="stanza" n="…">` of its lines as `<l n="…">` (the document's own line numbers;
//! blank lines only separate stanzas). Entities are marked in their line: PERSON as
//! `<persName>`, LOCATION as `<placeName>`, every other type as `<name type="…">` (the type
//! name in lower case); a mention linked to a knowledge-base entry points at it with
//! `ref="#k-…"`. The entries are listed in the header, each with its name, aliases and
//! identifiers (`<idno type="wikidata">`, `viaf`, `geonames`): people in
//! `profileDesc/particDesc/listPerson`, organisations in `particDesc/listOrg`, places in
//! `profileDesc/settingDesc/listPlace`; entries of other types as `<nym>`s of a
//! `<listNym type="…">` in `<standOff>`. A project is a `<teiCorpus>` of its documents, with the
//! entries listed once, in the corpus header.
//!
//! What TEI cannot carry is left out and counted: an entity that runs over a line break (no
//! element can cross `<l>`), and one crossing another (the nesting rule of inline tags,
//! [`super::nested`], applied line by line). Characters XML 1.0 forbids (most C0 controls,
//! unpaired surrogates cannot occur, U+FFFE/U+FFFF) are written as U+FFFD.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::linked::{Linked, LinkedItem, xml_id};
use super::{ExportDocument, ExportEntity, Exported, nested};
use crate::ids::KnowledgeItemId;
use crate::text::lines;

pub const NAMESPACE: &str = "http://www.tei-c.org/ns/1.0";

/// Writes one document as `<TEI>`, several as a `<teiCorpus>`.
pub fn write(docs: &[ExportDocument], linked: &Linked) -> Exported {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut omitted = 0;
    if let [doc] = docs {
        let items = referenced(std::slice::from_ref(doc), linked);
        omitted += write_tei(&mut out, doc, linked, Some(&items), true);
    } else {
        let items = referenced(docs, linked);
        let _ = write!(out, "<teiCorpus xmlns=\"{NAMESPACE}\">\n<teiHeader>\n<fileDesc>\n");
        let _ = writeln!(out, "<titleStmt><title>{}</title></titleStmt>", text(&linked.title));
        out.push_str("<publicationStmt><p>Exported from Nishan.</p></publicationStmt>\n");
        let _ = writeln!(out, "<sourceDesc><p>{} documents.</p></sourceDesc>", docs.len());
        out.push_str("</fileDesc>\n");
        write_profile(&mut out, &items);
        out.push_str("</teiHeader>\n");
        write_stand_off(&mut out, &items);
        for doc in docs {
            omitted += write_tei(&mut out, doc, linked, None, false);
        }
        out.push_str("</teiCorpus>\n");
    }
    Exported { data: out, omitted }
}

/// The entries the documents' entities are linked to, grouped for the header lists, each once.
struct Lists<'a> {
    people: Vec<&'a LinkedItem>,
    places: Vec<&'a LinkedItem>,
    orgs: Vec<&'a LinkedItem>,
    /// Other types, by type name.
    others: BTreeMap<&'a str, Vec<&'a LinkedItem>>,
}

impl Lists<'_> {
    fn has_profile(&self) -> bool {
        !(self.people.is_empty() && self.places.is_empty() && self.orgs.is_empty())
    }
}

fn referenced<'a>(docs: &[ExportDocument], linked: &'a Linked) -> Lists<'a> {
    let mut ids: Vec<KnowledgeItemId> =
        docs.iter().flat_map(|d| d.entities.iter()).filter_map(|e| linked.links.get(&e.id).copied()).collect();
    ids.sort();
    ids.dedup();
    let mut lists = Lists { people: vec![], places: vec![], orgs: vec![], others: BTreeMap::new() };
    for item in ids.iter().filter_map(|id| linked.items.get(id)) {
        match item.type_name.as_str() {
            "PERSON" => lists.people.push(item),
            "LOCATION" => lists.places.push(item),
            "ORGANIZATION" => lists.orgs.push(item),
            other => lists.others.entry(other).or_default().push(item),
        }
    }
    lists
}

/// One `<TEI>`; its header lists `items` when given (a single document). Returns how many
/// entities were left out.
fn write_tei(out: &mut String, doc: &ExportDocument, linked: &Linked, items: Option<&Lists<'_>>, ns: bool) -> usize {
    let lang = linked.languages.get(&doc.id).map_or("ur", String::as_str);
    if ns {
        let _ = writeln!(out, "<TEI xmlns=\"{NAMESPACE}\" xml:lang=\"{}\">", attribute(lang));
    } else {
        let _ = writeln!(out, "<TEI xml:lang=\"{}\">", attribute(lang));
    }
    out.push_str("<teiHeader>\n<fileDesc>\n");
    let _ = writeln!(out, "<titleStmt><title>{}</title></titleStmt>", text(&doc.title));
    out.push_str("<publicationStmt><p>Exported from Nishan.</p></publicationStmt>\n");
    let _ = writeln!(out, "<sourceDesc><p><idno type=\"sha256\">{}</idno></p></sourceDesc>", text(&doc.id));
    out.push_str("</fileDesc>\n");
    if let Some(lists) = items {
        write_profile(out, lists);
    }
    out.push_str("</teiHeader>\n");
    if let Some(lists) = items {
        write_stand_off(out, lists);
    }
    out.push_str("<text>\n<body>\n");
    let placed = write_body(out, doc, linked);
    out.push_str("</body>\n</text>\n</TEI>\n");
    doc.entities.len() - placed
}

fn write_profile(out: &mut String, lists: &Lists<'_>) {
    if !lists.has_profile() {
        return;
    }
    out.push_str("<profileDesc>\n");
    if !lists.people.is_empty() || !lists.orgs.is_empty() {
        out.push_str("<particDesc>\n");
        write_list(out, "listPerson", "person", "persName", &lists.people);
        write_list(out, "listOrg", "org", "orgName", &lists.orgs);
        out.push_str("</particDesc>\n");
    }
    if !lists.places.is_empty() {
        out.push_str("<settingDesc>\n");
        write_list(out, "listPlace", "place", "placeName", &lists.places);
        out.push_str("</settingDesc>\n");
    }
    out.push_str("</profileDesc>\n");
}

/// `<list><entry xml:id><name type="main">…</name><name type="alias">…</name><idno/>
/// <note/></entry></list>`.
fn write_list(out: &mut String, list: &str, entry: &str, name: &str, items: &[&LinkedItem]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "<{list}>");
    for i in items {
        let c = &i.item.content;
        let _ = write!(out, "<{entry} xml:id=\"{}\">", xml_id(i.item.id));
        let _ = write!(out, "<{name} type=\"main\">{}</{name}>", text(&c.name));
        for a in &c.aliases {
            let _ = write!(out, "<{name} type=\"alias\">{}</{name}>", text(a));
        }
        for (scheme, id, _) in c.external_ids.uris() {
            let _ = write!(out, "<idno type=\"{scheme}\">{}</idno>", text(id));
        }
        if let Some(d) = &c.description {
            let _ = write!(out, "<note>{}</note>", text(d));
        }
        let _ = writeln!(out, "</{entry}>");
    }
    let _ = writeln!(out, "</{list}>");
}

/// Entries of the other types, as canonical names in `<standOff>`.
fn write_stand_off(out: &mut String, lists: &Lists<'_>) {
    if lists.others.is_empty() {
        return;
    }
    out.push_str("<standOff>\n");
    for (type_name, items) in &lists.others {
        let _ = writeln!(out, "<listNym type=\"{}\">", attribute(&type_name.to_lowercase()));
        for i in items {
            let c = &i.item.content;
            let _ = write!(out, "<nym xml:id=\"{}\"><form type=\"main\">{}</form>", xml_id(i.item.id), text(&c.name));
            for a in &c.aliases {
                let _ = write!(out, "<form type=\"alias\">{}</form>", text(a));
            }
            out.push_str("</nym>\n");
        }
        out.push_str("</listNym>\n");
    }
    out.push_str("</standOff>\n");
}

/// The element an entity of a type is marked with, and its `type` attribute.
fn element(type_name: &str) -> (&'static str, Option<String>) {
    match type_name {
        "PERSON" => ("persName", None),
        "LOCATION" => ("placeName", None),
        other => ("name", Some(other.to_lowercase())),
    }
}

/// The stanzas and lines with their entities marked; returns how many entities were placed.
fn write_body(out: &mut String, doc: &ExportDocument, linked: &Linked) -> usize {
    let chars: Vec<char> = doc.text.chars().collect();
    let mut placed = 0;
    let mut stanza = None;
    let mut next = 0; // The first entity not yet considered (entities are by start).
    for line in lines(&doc.text) {
        // Entities starting before this line and not placed ran over a line break.
        while next < doc.entities.len() && doc.entities[next].start < line.start {
            next += 1;
        }
        let first = next;
        while next < doc.entities.len() && doc.entities[next].start < line.end {
            next += 1;
        }
        if line.text.trim().is_empty() {
            continue;
        }
        if stanza != Some(line.stanza) {
            if stanza.is_some() {
                out.push_str("</lg>\n");
            }
            let _ = writeln!(out, "<lg type=\"stanza\" n=\"{}\">", line.stanza);
            stanza = Some(line.stanza);
        }
        let inside: Vec<ExportEntity> =
            doc.entities[first..next].iter().filter(|e| e.end <= line.end).cloned().collect();
        let kept: Vec<&ExportEntity> = nested(&inside).into_iter().map(|i| &inside[i]).collect();
        placed += kept.len();
        let _ = write!(out, "<l n=\"{}\">", line.number);
        write_line(out, &chars, (line.start, line.end), &kept, linked);
        out.push_str("</l>\n");
    }
    if stanza.is_some() {
        out.push_str("</lg>\n");
    }
    placed
}

/// One line's text with its (properly nested, canonically ordered) entities as elements.
fn write_line(out: &mut String, chars: &[char], (start, end): (u32, u32), entities: &[&ExportEntity], linked: &Linked) {
    let piece = |from: u32, to: u32| -> String { chars[from as usize..to as usize].iter().collect() };
    let mut open: Vec<(u32, &'static str)> = Vec::new();
    let mut at = start;
    for e in entities {
        while let Some(&(close_at, tag)) = open.last()
            && close_at <= e.start
        {
            out.push_str(&text(&piece(at, close_at)));
            let _ = write!(out, "</{tag}>");
            at = close_at;
            open.pop();
        }
        out.push_str(&text(&piece(at, e.start)));
        at = e.start;
        let (tag, kind) = element(&e.type_name);
        let _ = write!(out, "<{tag}");
        if let Some(kind) = kind {
            let _ = write!(out, " type=\"{}\"", attribute(&kind));
        }
        if let Some(item) = linked.item_of(e.id) {
            let _ = write!(out, " ref=\"#{}\"", xml_id(item.item.id));
        }
        out.push('>');
        open.push((e.end, tag));
    }
    while let Some((close_at, tag)) = open.pop() {
        out.push_str(&text(&piece(at, close_at)));
        let _ = write!(out, "</{tag}>");
        at = close_at;
    }
    out.push_str(&text(&piece(at, end)));
}

/// A character XML 1.0 allows.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text content, escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if allowed(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// An attribute value (in double quotes), escaped.
fn attribute(s: &str) -> String {
    text(s).replace('"', "&quot;").replace('\n', "&#10;").replace('\t', "&#9;")
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::exchange::linked::LinkedItem;
    use crate::exchange::tests::{document, entity};
    use crate::ids::{EntityTypeId, ProjectId, UserId};
    use crate::knowledge::{ExternalIds, KnowledgeContent, KnowledgeItem};

    fn item(name: &str, aliases: &[&str], wikidata: Option<&str>) -> KnowledgeItem {
        let ids = ExternalIds::new(wikidata.map(Into::into), None, None).unwrap();
        let content = KnowledgeContent::new(
            name,
            EntityTypeId::new(),
            aliases.iter().map(|a| a.to_string()).collect(),
            None,
            ids,
            None,
        )
        .unwrap();
        KnowledgeItem::new(ProjectId::new(), content, UserId::new(), Utc::now())
    }

    #[test]
    fn lines_stanzas_names_and_the_header() {
        let husain = entity("حسینؑ", "PERSON");
        let karbala = entity("کربلا", "LOCATION");
        let crossing = entity("علیؑ, کربلا", "LOCATION");
        let imam = entity("امام", "DESIGNATION");
        let abbas = entity("عباسؑ", "PERSON");
        let long = entity("امام حسینؑ ابن علیؑ", "PERSON");
        let all = vec![husain.clone(), karbala.clone(), crossing, imam, abbas, long];
        let doc = ExportDocument::new(&document(), all, &[]);
        let h = item("حسینؑ", &["شبیر", "a<b"], Some("Q193236"));
        let k = item("کربلا", &[], None);
        let mut linked = Linked::default();
        linked.links.insert(husain.id, h.id);
        linked.links.insert(karbala.id, k.id);
        linked.items.insert(h.id, LinkedItem { item: h.clone(), type_name: "PERSON".into() });
        linked.items.insert(k.id, LinkedItem { item: k.clone(), type_name: "LOCATION".into() });
        let out = write(&[doc], &linked);
        assert_eq!(out.omitted, 1, "the location crossing the person's end is left out");
        let xml = &out.data;
        let line1 = format!(
            "<l n=\"1\"><persName><name type=\"designation\">امام</name> <persName ref=\"#k-{}\">حسینؑ</persName> ابن علیؑ</persName>, <placeName ref=\"#k-{}\">کربلا</placeName> میں</l>",
            h.id, k.id
        );
        assert!(xml.contains(&line1), "{xml}");
        assert!(xml.contains("<l n=\"2\"><persName>عباسؑ</persName>، فرات پر</l>"), "{xml}");
        assert!(xml.contains("<lg type=\"stanza\" n=\"1\">"));
        let person = format!(
            "<person xml:id=\"k-{}\"><persName type=\"main\">حسینؑ</persName><persName type=\"alias\">شبیر</persName><persName type=\"alias\">a&lt;b</persName><idno type=\"wikidata\">Q193236</idno></person>",
            h.id
        );
        assert!(xml.contains(&person), "{xml}");
        assert!(xml.contains("<settingDesc>\n<listPlace>"));
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TEI xmlns=\"http://www.tei-c.org/ns/1.0\" xml:lang=\"ur\">"
        ));
    }

    #[test]
    fn forbidden_characters_are_replaced() {
        assert_eq!(text("a\u{1}b&<>"), "a\u{FFFD}b&amp;&lt;&gt;");
        assert_eq!(attribute("\"x\"\n"), "&quot;x&quot;&#10;");
    }
}
