//! Inline tags: the text, line for line, with each entity wrapped as `<TYPE>…</TYPE>`, the
//! format of `corpus/marsiya/tagged_sample.json`. Each document is wrapped in a
//! `<document>` element that states its id, title and direction:
//!
//! ```text
//! <document id="<sha-256 of the text>" title="Stanza, one" dir="rtl">
//! <PERSON><DESIGNATION>امام</DESIGNATION> <PERSON>حسینؑ</PERSON> ابن علیؑ</PERSON>, <LOCATION>کربلا</LOCATION> میں
//! <PERSON>عباسؑ</PERSON>، <LOCATION>فرات</LOCATION> پر
//! </document>
//! ```
//!
//! Between the opening line and `</document>` lies exactly the text (a text ending in a newline
//! leaves an empty line before `</document>`). `&`, `<` and `>` in the text are written `&amp;`,
//! `&lt;` and `&gt;`, so no text can pass for a tag. Tags nest: an entity inside another is
//! written inside it (the longer outside, and by type name for two types on one span); an
//! entity crossing another's end cannot be written and is left out ([`nested`](super::nested)).
//! There are no offsets to state: they follow from the text.
//!
//! Reading also accepts bare tagged text without `<document>` (the sample's lines joined by
//! newlines): one document, whose final newline may be missing. A `<` that does not start a
//! tag `<NAME>` or `</NAME>` (NAME in upper case) is read as text.

use super::{
    ExportDocument, Exported, ImportIssue, ParsedDocument, ParsedSpan, direction_name, nested, parse_direction,
};

/// Writes each document as a `<document>` element.
pub fn write(docs: &[ExportDocument]) -> Exported {
    let mut out = String::new();
    let mut omitted = 0;
    for doc in docs {
        let kept = nested(&doc.entities);
        omitted += doc.entities.len() - kept.len();
        out.push_str(&format!(
            "<document id=\"{}\" title=\"{}\" dir=\"{}\">\n",
            attribute(&doc.id),
            attribute(&doc.title),
            direction_name(doc.direction)
        ));
        let entities: Vec<(u32, u32, &str)> =
            kept.iter().map(|&i| &doc.entities[i]).map(|e| (e.start, e.end, e.type_name.as_str())).collect();
        out.push_str(&tagged(&doc.text, &entities));
        out.push_str("\n</document>\n");
    }
    Exported { data: out, omitted }
}

/// The text with properly nested entities (in canonical order) written as tags.
fn tagged<'a>(text: &str, entities: &[(u32, u32, &'a str)]) -> String {
    let mut out = String::with_capacity(text.len() + entities.len() * 24);
    let mut open: Vec<(u32, &'a str)> = Vec::new();
    let mut next = entities.iter().peekable();
    let mut at_offset = |out: &mut String, i: u32, open: &mut Vec<(u32, &'a str)>| {
        while let Some(&(end, name)) = open.last()
            && end == i
        {
            open.pop();
            out.push_str(&format!("</{name}>"));
        }
        while let Some(&&(start, end, name)) = next.peek()
            && start == i
        {
            out.push_str(&format!("<{name}>"));
            open.push((end, name));
            next.next();
        }
    };
    let mut i = 0u32;
    for c in text.chars() {
        at_offset(&mut out, i, &mut open);
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
        i += 1;
    }
    at_offset(&mut out, i, &mut open);
    out
}

/// A value for a double-quoted attribute, on one line.
fn attribute(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// Reads `<document>` elements, or bare tagged text as one document.
pub fn parse(data: &str) -> (Vec<ParsedDocument>, Vec<ImportIssue>) {
    let mut docs = Vec::new();
    let mut issues = Vec::new();
    let lines: Vec<&str> = data.split('\n').collect();
    let wrapped = lines.iter().find(|l| !l.trim().is_empty()).is_some_and(|l| l.starts_with("<document"));
    if !wrapped {
        let mut doc = ParsedDocument { line: 1, text_first_line: Some(1), loose_end: true, ..Default::default() };
        doc.text = Some(untag(data, 1, &mut doc.spans, &mut issues));
        docs.push(doc);
        return (docs, issues);
    }
    let mut i = 0;
    while i < lines.len() {
        let line = i as u32 + 1;
        let raw = lines[i];
        if raw.trim().is_empty() {
            i += 1;
            continue;
        }
        let Some(attrs) = raw.strip_prefix("<document").and_then(|r| r.strip_suffix('>')) else {
            issues.push(ImportIssue::new(line, "expected <document …> or a blank line between documents"));
            break;
        };
        let Some(close) = lines[i + 1..].iter().position(|l| *l == "</document>").map(|p| i + 1 + p) else {
            issues.push(ImportIssue::new(line, "this <document> is never closed by a line </document>"));
            break;
        };
        let mut doc = ParsedDocument { line, text_first_line: Some(line + 1), ..Default::default() };
        match attributes(attrs) {
            Ok(pairs) => {
                for (key, value) in pairs {
                    match key.as_str() {
                        "title" => doc.title = Some(value),
                        "dir" | "direction" => match parse_direction(&value) {
                            Some(d) => doc.direction = Some(d),
                            None => {
                                issues.push(ImportIssue::new(line, format!("dir must be rtl or ltr, not {value:?}")))
                            }
                        },
                        "lang" | "language" => doc.language = Some(value),
                        _ => {} // id and anything else: informative only
                    }
                }
            }
            Err(message) => issues.push(ImportIssue::new(line, message)),
        }
        let body = lines[i + 1..close].join("\n");
        doc.text = Some(untag(&body, line + 1, &mut doc.spans, &mut issues));
        docs.push(doc);
        i = close + 1;
    }
    (docs, issues)
}

/// The text of tagged text, with its tags as spans. `first_line` is the data line of its first
/// line, for messages.
fn untag(tagged: &str, first_line: u32, spans: &mut Vec<ParsedSpan>, issues: &mut Vec<ImportIssue>) -> String {
    let mut text = String::with_capacity(tagged.len());
    let mut at = 0i64; // code points of text so far
    let mut line = first_line;
    let mut open: Vec<(&str, i64, u32)> = Vec::new();
    let mut rest = tagged;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some((closing, name, len)) = tag(rest)
        {
            rest = &rest[len..];
            if !closing {
                open.push((name, at, line));
                continue;
            }
            match open.last() {
                Some(&(top, start, opened)) if top == name => {
                    open.pop();
                    spans.push(ParsedSpan::new(opened, format!("<{name}>"), start, at, name));
                }
                Some(&(top, _, _)) => issues.push(ImportIssue::new(line, format!("</{name}> closes <{top}>"))),
                None => issues.push(ImportIssue::new(line, format!("</{name}> closes no open tag"))),
            }
            continue;
        }
        let (ch, len) = match c {
            '&' => [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')]
                .into_iter()
                .find(|(entity, _)| rest.starts_with(entity))
                .map_or(('&', 1), |(entity, ch)| (ch, entity.len())),
            c => (c, c.len_utf8()),
        };
        if ch == '\n' {
            line += 1;
        }
        text.push(ch);
        at += 1;
        rest = &rest[len..];
    }
    for (name, _, opened) in open {
        issues.push(ImportIssue::new(opened, format!("<{name}> is never closed")));
    }
    text
}

/// `<NAME>` or `</NAME>` at the start of `s`: (closing, NAME, length in bytes).
fn tag(s: &str) -> Option<(bool, &str, usize)> {
    let closing = s.starts_with("</");
    let from = if closing { 2 } else { 1 };
    let name_len = s[from..].bytes().take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_').count();
    let name = &s[from..from + name_len];
    let ok = name.starts_with(|c: char| c.is_ascii_uppercase()) && s[from + name_len..].starts_with('>');
    ok.then_some((closing, name, from + name_len + 1))
}

/// `key="value"` pairs separated by spaces, values unescaped.
fn attributes(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").ok_or_else(|| format!("malformed attributes: {s:?}"))?;
        let (value, after) = after.split_once('"').ok_or_else(|| format!("unclosed attribute value: {s:?}"))?;
        out.push((key.trim().to_owned(), unescape(value)));
        rest = after.trim_start();
    }
    Ok(out)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let named = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&quot;", '"')]
            .into_iter()
            .find(|(e, _)| rest.starts_with(e))
            .map(|(e, c)| (c, e.len()));
        let numeric = || {
            let end = rest.find(';')?;
            let code: u32 = rest.get(2..end)?.parse().ok()?;
            Some((char::from_u32(code)?, end + 1))
        };
        let (c, len) = named.or_else(|| rest.starts_with("&#").then(numeric).flatten()).unwrap_or(('&', 1));
        out.push(c);
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Direction;
    use crate::exchange::tests::{TEXT, entity, sample};

    const EXPECTED: &str = "<document id=\"9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475\" title=\"Stanza, one\" dir=\"rtl\">
<PERSON><DESIGNATION>امام</DESIGNATION> <PERSON>حسینؑ</PERSON> ابن علیؑ</PERSON>, <LOCATION>کربلا</LOCATION> میں
<PERSON>عباسؑ</PERSON>، <LOCATION>فرات</LOCATION> پر
</document>
";

    fn spans(doc: &ParsedDocument) -> Vec<(i64, i64, &str)> {
        doc.spans.iter().map(|s| (s.start, s.end, s.type_name.as_str())).collect()
    }

    #[test]
    fn exact_output_nests_and_leaves_out_the_crossing_entity() {
        let exported = write(&[sample()]);
        assert_eq!(exported.data, EXPECTED);
        assert_eq!(exported.omitted, 1);
    }

    #[test]
    fn reads_what_it_writes() {
        let (docs, issues) = parse(&format!("{EXPECTED}\n{EXPECTED}"));
        assert_eq!(issues, []);
        assert_eq!(docs.len(), 2);
        let doc = &docs[1];
        assert_eq!((doc.line, doc.text_first_line), (6, Some(7)));
        assert_eq!(
            (doc.title.as_deref(), doc.direction, doc.text.as_deref()),
            (Some("Stanza, one"), Some(Direction::Rtl), Some(TEXT))
        );
        let mut found = spans(doc);
        found.sort_by_key(|&(s, e, t)| (s, std::cmp::Reverse(e), t));
        let sample = sample();
        let kept: Vec<(i64, i64, &str)> = nested(&sample.entities)
            .into_iter()
            .map(|i| &sample.entities[i])
            .map(|e| (e.start.into(), e.end.into(), e.type_name.as_str()))
            .collect();
        assert_eq!(found, kept);
    }

    #[test]
    fn escapes_markup_characters_and_reads_them_back() {
        let mut doc = sample();
        doc.text = "a<b & <PERSON>c</PERSON>\n".into();
        doc.title = "\"x\" & <y>\nz".into();
        doc.entities = vec![entity("امام", "PERSON")];
        (doc.entities[0].start, doc.entities[0].end) = (0, 1);
        let data = write(&[doc]).data;
        assert!(
            data.ends_with("\">\n<PERSON>a</PERSON>&lt;b &amp; &lt;PERSON&gt;c&lt;/PERSON&gt;\n\n</document>\n"),
            "{data}"
        );
        assert!(data.contains("title=\"&quot;x&quot; &amp; &lt;y&gt;&#10;z\""), "{data}");
        let (docs, issues) = parse(&data);
        assert_eq!(issues, []);
        assert_eq!(docs[0].text.as_deref(), Some("a<b & <PERSON>c</PERSON>\n"));
        assert_eq!(docs[0].title.as_deref(), Some("\"x\" & <y>\nz"));
        assert_eq!(spans(&docs[0]), [(0, 1, "PERSON")]);
    }

    /// The shared sample's tagged lines read as its original lines, with their entities.
    #[test]
    fn reads_the_tagged_sample() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/marsiya/tagged_sample.json");
        let sample: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("the tagged sample exists")).unwrap();
        let elements = sample["tagged_elements"].as_array().unwrap();
        let join = |key: &str| elements.iter().map(|e| e[key].as_str().unwrap()).collect::<Vec<_>>().join("\n");
        let (docs, issues) = parse(&join("tagged"));
        assert_eq!(issues, []);
        let doc = &docs[0];
        assert_eq!(doc.text.as_deref(), Some(join("original").as_str()));
        let text: Vec<char> = join("original").chars().collect();
        let found: Vec<(String, &str, u32)> = doc
            .spans
            .iter()
            .map(|s| (text[s.start as usize..s.end as usize].iter().collect(), s.type_name.as_str(), s.line))
            .collect();
        assert_eq!(
            found,
            [
                ("کرب و بلا".into(), "LOCATION", 2),
                ("مقتل".into(), "LOCATION", 3),
                ("حرم".into(), "ORGANIZATION", 5),
                ("بیمار".into(), "DESIGNATION", 7),
                ("اہل حرم".into(), "ORGANIZATION", 7),
                ("دختر فاطمہ زہرا".into(), "PERSON", 9),
                ("زینب".into(), "PERSON", 11),
                ("زینب".into(), "PERSON", 12),
            ]
        );
    }

    #[test]
    fn malformed_tags_are_named() {
        let issues = |data: &str| parse(data).1.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            issues("<PERSON>a <LOCATION>b</PERSON>\nc</LOCATION></DATE> d <TIME>e"),
            [
                "line 1: </PERSON> closes <LOCATION>",
                "line 2: </DATE> closes <PERSON>",
                "line 1: <PERSON> is never closed",
                "line 2: <TIME> is never closed",
            ]
        );
        assert_eq!(issues("a</DATE>"), ["line 1: </DATE> closes no open tag"]);
        assert_eq!(
            issues("<document title=\"a\">\nx\n"),
            ["line 1: this <document> is never closed by a line </document>"]
        );
        assert_eq!(
            issues("<document title=\"a\">\nx\n</document>\nstray\n"),
            ["line 4: expected <document …> or a blank line between documents"]
        );
        assert_eq!(issues("<document title=a>\nx\n</document>\n"), ["line 1: malformed attributes: \" title=a\""]);
        assert_eq!(issues("<document dir=\"up\">\nx\n</document>\n"), ["line 1: dir must be rtl or ltr, not \"up\""]);
        // Not tags: lower case, no closing bracket, an empty name.
        let (docs, issues) = parse("a <person> b < c <> <PERSON d");
        assert_eq!(issues, []);
        assert_eq!(docs[0].text.as_deref(), Some("a <person> b < c <> <PERSON d"));
    }
}
