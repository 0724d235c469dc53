//! Uploaded file formats: which format a file is (by name, then by its first bytes), and the
//! text each holds. `.txt` and `.md` are decoded as written (markup is kept as text);
//! `.docx` gives one line per paragraph ([`docx`]); `.pdf` its text layer in logical order
//! ([`pdf`]); `.html` its main text without scripts and styles ([`html`]); `.zip` is unpacked
//! into members under caps against zip bombs and path tricks ([`archive`]).
//!
//! Invariants: every extractor is pure and bounded (no member, page or stream is inflated
//! beyond the caps it is given); a file that holds no text is refused with BAD_USER_INPUT
//! naming why, never stored empty.

pub mod archive;
pub mod docx;
pub mod html;
pub mod pdf;

use crate::error::{DomainError, DomainResult};
use crate::text;

/// A format `uploadDocument` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Docx,
    Pdf,
    Zip,
}

impl Format {
    /// The format of a file: by its extension, else by its first bytes (PDF, ZIP/DOCX), else
    /// plain text.
    pub fn detect(file_name: Option<&str>, bytes: &[u8]) -> Format {
        let ext = file_name.and_then(|n| n.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        match ext.as_str() {
            "txt" | "text" => Format::Text,
            "md" | "markdown" => Format::Markdown,
            "html" | "htm" | "xhtml" => Format::Html,
            "docx" => Format::Docx,
            "pdf" => Format::Pdf,
            "zip" => Format::Zip,
            _ if bytes.starts_with(b"%PDF-") => Format::Pdf,
            _ if bytes.starts_with(b"PK\x03\x04") => {
                if archive::has_member(bytes, docx::DOCUMENT_XML) {
                    Format::Docx
                } else {
                    Format::Zip
                }
            }
            _ => Format::Text,
        }
    }

    /// The MIME type an original of this format is served with.
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; charset=utf-8",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html",
            Format::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Format::Pdf => "application/pdf",
            Format::Zip => "application/zip",
        }
    }

    /// The name the format goes by in reports and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Docx => "docx",
            Format::Pdf => "pdf",
            Format::Zip => "zip",
        }
    }
}

/// The text of a file, and the encoding it was read in (for text formats).
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub text: String,
    pub encoding: Option<String>,
}

/// The text of one file that is not an archive. `max_bytes` bounds what any part of it may
/// inflate to (a .docx member, a PDF stream).
pub fn extract(format: Format, bytes: &[u8], max_bytes: usize) -> DomainResult<Extracted> {
    let of = |text: String| Extracted { text, encoding: None };
    match format {
        Format::Text | Format::Markdown => {
            let decoded = text::decode_upload(bytes)?;
            Ok(Extracted { text: decoded.text, encoding: Some(decoded.encoding.to_owned()) })
        }
        Format::Html => {
            let decoded = text::decode_upload(bytes)?;
            Ok(Extracted { text: html::main_text(&decoded.text), encoding: Some(decoded.encoding.to_owned()) })
        }
        Format::Docx => docx::text(bytes, max_bytes).map(of),
        Format::Pdf => pdf::text(bytes, max_bytes).map(of),
        Format::Zip => Err(DomainError::invalid("file", "a .zip inside a .zip is not accepted")),
    }
}

/// Joins lines, trimming each line's end, folding runs of blank lines into one (a stanza
/// break) and dropping blank lines at both ends.
pub(crate) fn join_lines<I: IntoIterator<Item = String>>(lines: I) -> String {
    let mut out = String::new();
    let mut blank_pending = false;
    for line in lines {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_pending {
                out.push('\n');
            }
        }
        blank_pending = false;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_by_name_then_by_content() {
        assert_eq!(Format::detect(Some("a.DOCX"), b""), Format::Docx);
        assert_eq!(Format::detect(Some("poem.md"), b"# x"), Format::Markdown);
        assert_eq!(Format::detect(Some("page.htm"), b""), Format::Html);
        assert_eq!(Format::detect(None, b"%PDF-1.4\n"), Format::Pdf);
        assert_eq!(Format::detect(Some("x"), "سطر".as_bytes()), Format::Text);
    }

    #[test]
    fn blank_line_runs_become_one_stanza_break() {
        let lines = ["", "a", "", "", "b  ", "c", ""].map(String::from);
        assert_eq!(join_lines(lines), "a\n\nb\nc");
    }
}
