//! `.docx` (Office Open XML): the body's paragraphs, one line each; an empty paragraph is a
//! stanza break (a blank line). Runs' text (`w:t`), tabs and line breaks (`w:br`, `w:cr`) are
//! kept; deleted text of tracked changes (`w:delText`) and field codes are not.

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::{archive, join_lines};
use crate::error::{DomainError, DomainResult};

/// The part holding the body of a Word document.
pub const DOCUMENT_XML: &str = "word/document.xml";

/// The text of a .docx file; its document part may inflate to at most `max_bytes`.
pub fn text(bytes: &[u8], max_bytes: usize) -> DomainResult<String> {
    let xml = archive::member(bytes, DOCUMENT_XML, max_bytes.saturating_mul(8))?
        .ok_or_else(|| DomainError::invalid("file", "is not a Word document (it has no word/document.xml)"))?;
    paragraphs(&xml)
}

/// The paragraphs of a `word/document.xml` part, joined as lines.
pub fn paragraphs(xml: &[u8]) -> DomainResult<String> {
    let mut reader = Reader::from_reader(xml);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut in_text = false;
    let mut in_paragraph = false;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| DomainError::invalid("file", format!("holds malformed Word XML ({e})")))?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                "p" => {
                    in_paragraph = true;
                    line.clear();
                }
                "t" => in_text = true,
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "tab" if in_paragraph => line.push('\t'),
                "br" | "cr" if in_paragraph => {
                    lines.push(std::mem::take(&mut line));
                }
                "p" => lines.push(String::new()),
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                "p" => {
                    in_paragraph = false;
                    lines.push(std::mem::take(&mut line));
                }
                "t" => in_text = false,
                _ => {}
            },
            Event::Text(t) if in_text => line.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => {
                let ch = match r.xml10_content().as_ref() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                line.extend(ch);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(join_lines(lines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::archive::tests::zip_of;

    fn body(paragraphs: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{paragraphs}<w:sectPr/></w:body></w:document>"#
        )
    }

    #[test]
    fn paragraphs_become_lines_and_empty_paragraphs_stanza_breaks() {
        let xml = body(
            r#"<w:p><w:r><w:t>حسینؑ کا</w:t></w:r><w:r><w:t xml:space="preserve"> قافلہ</w:t></w:r></w:p><w:p><w:r><w:t>دوسری &amp; سطر</w:t></w:r></w:p><w:p/><w:p><w:pPr/></w:p><w:p><w:r><w:t>نیا بند</w:t><w:delText>مٹا</w:delText></w:r></w:p>"#,
        );
        let docx = zip_of(&[(DOCUMENT_XML, xml.as_bytes())]);
        assert_eq!(text(&docx, 1 << 20).unwrap(), "حسینؑ کا قافلہ\nدوسری & سطر\n\nنیا بند");
    }

    #[test]
    fn a_zip_without_a_document_part_is_refused() {
        let err = text(&zip_of(&[("a.txt", b"x")]), 1 << 20).unwrap_err().to_string();
        assert!(err.contains("not a Word document"), "{err}");
    }
}
