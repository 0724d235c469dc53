//! CSV: a header row, then one row per entity, quoted as RFC 4180 says (a field holding a
//! comma, a quote or a line break is put in double quotes, quotes doubled), rows ending in
//! CRLF, UTF-8 without a byte-order mark. Urdu text needs no quoting of its own (the Urdu comma
//! `،` is not the separator); context fields often hold line breaks and are then quoted.
//!
//! A CSV file must stay one table, so the direction and the offset unit are columns:
//! `direction` (`rtl`/`ltr`) on every row, and `offsets` (`unicode_code_points`) beside
//! `start` and `end`. `document_id` is the SHA-256 of the document's text, as in JSONL.
//!
//! Reading maps columns by their header names, in any order. `start`, `end`, `type` and `text`
//! are needed (`text` is checked against the document); `verified`, `confidence`, `offsets`
//! and `document_id` are read when present; the other columns are informative.

use super::{ExportDocument, ImportIssue, OFFSETS, ParsedDocument, ParsedSpan, direction_name};

/// The header row.
pub const COLUMNS: [&str; 15] = [
    "document_id",
    "document",
    "direction",
    "line",
    "text",
    "type",
    "start",
    "end",
    "offsets",
    "confidence",
    "source",
    "verified",
    "verified_by",
    "context_before",
    "context_after",
];

/// The header and one row per entity of every document, in canonical order.
pub fn write(docs: &[ExportDocument]) -> String {
    let mut w = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(Vec::new());
    let failed = "writing CSV to memory cannot fail";
    w.write_record(COLUMNS).expect(failed);
    for doc in docs {
        for e in &doc.entities {
            w.write_record([
                doc.id.as_str(),
                &doc.title,
                direction_name(doc.direction),
                &e.line_number.to_string(),
                &e.text,
                &e.type_name,
                &e.start.to_string(),
                &e.end.to_string(),
                OFFSETS,
                &e.confidence.map(|c| c.to_string()).unwrap_or_default(),
                e.source.as_str(),
                if e.verified { "true" } else { "false" },
                e.verified_by.as_deref().unwrap_or_default(),
                &e.context_before,
                &e.context_after,
            ])
            .expect(failed);
        }
    }
    String::from_utf8(w.into_inner().expect(failed)).expect("CSV of strings is UTF-8")
}

/// Reads the rows as spans of one document.
pub fn parse(data: &str) -> (ParsedDocument, Vec<ImportIssue>) {
    let data = data.strip_prefix('\u{FEFF}').unwrap_or(data);
    let mut doc = ParsedDocument { line: 1, ..Default::default() };
    let mut issues = Vec::new();
    let mut reader = ::csv::ReaderBuilder::new().has_headers(true).from_reader(data.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return (doc, vec![ImportIssue::new(1, format!("unreadable header row ({e})"))]),
    };
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let needed = ["start", "end", "type", "text"].map(|name| (name, column(name)));
    if let Some((missing, _)) = needed.iter().find(|(_, at)| at.is_none()) {
        let message = format!("the header row has no `{missing}` column (it needs start, end, type and text)");
        return (doc, vec![ImportIssue::new(1, message)]);
    }
    let [start_at, end_at, type_at, text_at] = needed.map(|(_, at)| at.unwrap_or_default());
    let (verified_at, confidence_at, offsets_at, document_at) =
        (column("verified"), column("confidence"), column("offsets"), column("document_id"));
    let mut lines = Lines::new(data);
    for (n, record) in reader.records().enumerate() {
        let name = format!("row {}", n + 1);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p.byte()));
                let message = match e.kind() {
                    ::csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("{name} has {len} fields, the header row {expected_len}")
                    }
                    _ => format!("{name} is malformed ({e})"),
                };
                issues.push(ImportIssue::new(line, message));
                continue;
            }
        };
        // The physical line (a quoted field may hold line breaks).
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        let field = |at: usize| record.get(at).unwrap_or_default();
        let optional = |at: Option<usize>| at.map(field).map(str::trim).filter(|v| !v.is_empty());
        let mut issue = |message: String| issues.push(ImportIssue::new(line, format!("{name}: {message}")));
        let number = |column: &str, at: usize, issue: &mut dyn FnMut(String)| match field(at).trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                issue(format!("{column} «{}» is not a whole number", field(at)));
                None
            }
        };
        let (start, end) = (number("start", start_at, &mut issue), number("end", end_at, &mut issue));
        if let Some(o) = optional(offsets_at)
            && o != OFFSETS
        {
            issue(format!("offsets are «{o}», but they must be {OFFSETS}"));
            continue;
        }
        let verified = match optional(verified_at).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "no" | "0") => false,
            Some("true" | "yes" | "1") => true,
            Some(other) => {
                issue(format!("verified «{other}» is not true or false"));
                continue;
            }
        };
        let confidence = match optional(confidence_at).map(str::parse::<f64>) {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(_)) => {
                issue(format!("confidence «{}» is not a number", optional(confidence_at).unwrap_or_default()));
                continue;
            }
        };
        let (Some(start), Some(end)) = (start, end) else { continue };
        let mut span = ParsedSpan::new(line, name.clone(), start, end, field(type_at).trim());
        span.text = Some(field(text_at).to_owned());
        span.document_id = optional(document_at).map(str::to_owned);
        span.verified = verified;
        span.confidence = confidence;
        doc.spans.push(span);
    }
    (doc, issues)
}

/// The 1-based lines of records at byte offsets, asked in ascending order, so counting line
/// breaks costs one pass over the data in all.
struct Lines<'a> {
    data: &'a [u8],
    counted_to: usize,
    breaks: u32,
}

impl<'a> Lines<'a> {
    fn new(data: &'a str) -> Self {
        Self { data: data.as_bytes(), counted_to: 0, breaks: 0 }
    }

    /// The line of the record at `byte` (the reader's offsets may point at the end of the line
    /// before, so line breaks there are skipped).
    fn at(&mut self, byte: u64) -> u32 {
        let mut byte = (byte as usize).min(self.data.len());
        while byte < self.data.len() && matches!(self.data[byte], b'\r' | b'\n') {
            byte += 1;
        }
        if byte > self.counted_to {
            self.breaks += self.data[self.counted_to..byte].iter().filter(|&&b| b == b'\n').count() as u32;
            self.counted_to = byte;
        }
        self.breaks + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::tests::sample;

    const EXPECTED: &str = concat!(
        "document_id,document,direction,line,text,type,start,end,offsets,confidence,source,verified,verified_by,context_before,context_after\r\n",
        "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,امام حسینؑ ابن علیؑ,PERSON,0,19,unicode_code_points,0.9,LLM,true,anis,,\", کربلا میں\nعباسؑ، فرات پر\"\r\n",
        "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,امام,DESIGNATION,0,4,unicode_code_points,,MANUAL,false,,,\" حسینؑ ابن علیؑ, کربلا میں\nعباسؑ، فرات پر\"\r\n",
        "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,حسینؑ,PERSON,5,10,unicode_code_points,,MANUAL,false,,امام ,\" ابن علیؑ, کربلا میں\nعباسؑ، فرات پر\"\r\n",
        "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,\"علیؑ, کربلا\",LOCATION,15,26,unicode_code_points,,MANUAL,false,,امام حسینؑ ابن ,\" میں\nعباسؑ، فرات پر\"\r\n",
        "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,کربلا,LOCATION,21,26,unicode_code_points,,MANUAL,false,,\"امام حسینؑ ابن علیؑ, \",\" میں\nعباسؑ، فرات پر\"\r\n",
        "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,2,عباسؑ,PERSON,31,36,unicode_code_points,,MANUAL,false,,\"امام حسینؑ ابن علیؑ, کربلا میں\n\",، فرات پر\r\n",
        "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,2,فرات,LOCATION,38,42,unicode_code_points,,MANUAL,false,,\"امام حسینؑ ابن علیؑ, کربلا میں\nعباسؑ، \", پر\r\n",
    );

    #[test]
    fn exact_output_quotes_commas_quotes_and_line_breaks() {
        assert_eq!(write(&[sample()]), EXPECTED);
        let mut doc = sample();
        doc.title = "The \"Marsiya\"".into();
        doc.entities.truncate(1);
        let row = write(&[doc]).lines().nth(1).unwrap().to_owned();
        assert!(
            row.starts_with(
                "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"The \"\"Marsiya\"\"\",rtl,"
            ),
            "{row}"
        );
    }

    #[test]
    fn reads_what_it_writes() {
        let (doc, issues) = parse(EXPECTED);
        assert_eq!(issues, []);
        let sample = sample();
        assert_eq!(doc.spans.len(), sample.entities.len());
        for (span, e) in doc.spans.iter().zip(&sample.entities) {
            assert_eq!((span.start, span.end), (e.start.into(), e.end.into()));
            assert_eq!((&span.type_name, span.text.as_ref(), span.verified), (&e.type_name, Some(&e.text), e.verified));
            assert_eq!((span.confidence, span.document_id.as_deref()), (e.confidence, Some(sample.id.as_str())));
        }
        assert_eq!((doc.spans[1].line, doc.spans[1].name.as_str()), (4, "row 2"));
    }

    #[test]
    fn reads_columns_in_any_order_with_a_byte_order_mark() {
        let (doc, issues) = parse("\u{FEFF}type,text,end,start,verified\nPERSON,\"عباسؑ\",36,31,TRUE\n");
        assert_eq!(issues, []);
        assert_eq!((doc.spans[0].start, doc.spans[0].end, doc.spans[0].verified), (31, 36, true));
        assert_eq!(doc.spans[0].text.as_deref(), Some("عباسؑ"));
    }

    #[test]
    fn malformed_rows_are_named() {
        let issues = |data: &str| parse(data).1.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            issues("start,end,type\n1,2,PERSON\n"),
            ["line 1: the header row has no `text` column (it needs start, end, type and text)"]
        );
        assert_eq!(
            issues(
                "start,end,type,text,verified,confidence,offsets\nx,2,PERSON,a,,,\n1,2,PERSON,a,maybe,,\n1,2,PERSON,a,,high,\n1,2,PERSON,a,,,utf16\n1,2\n"
            ),
            [
                "line 2: row 1: start «x» is not a whole number",
                "line 3: row 2: verified «maybe» is not true or false",
                "line 4: row 3: confidence «high» is not a number",
                "line 5: row 4: offsets are «utf16», but they must be unicode_code_points",
                "line 6: row 5 has 2 fields, the header row 7",
            ]
        );
    }
}
