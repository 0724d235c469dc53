//! CoNLL, in two layouts.
//!
//! `CONLL` is CoNLL-2003 as spaCy (`spacy convert -c ner`), seqeval and the Hugging Face
//! loaders read it, with no line they would take for a token: each document opens with the
//! line `-DOCSTART- -X- O O` (spaCy's document delimiter, exactly) and a blank line, then one
//! token per line in the four space-separated columns of CoNLL-2003, `token POS chunk NER`,
//! with `_` (not given) for the part-of-speech and chunk columns and a BIO tag last:
//!
//! ```text
//! -DOCSTART- -X- O O
//!
//! امام _ _ B-PERSON
//! حسینؑ _ _ I-PERSON
//! ```
//!
//! `CONLL_COMMENTED` keeps what plain CoNLL-2003 cannot say, in `#` lines before each
//! document and offset columns, separated by tabs (tools that read `#` lines as comments, such
//! as CoNLL-U readers, take these; CoNLL-2003 readers do not):
//!
//! ```text
//! # id = <sha-256 of the text>
//! # title = Stanza, one
//! # direction = rtl
//! # offsets = unicode_code_points
//! امام→0→4→B-PERSON
//! حسینؑ→5→10→I-PERSON
//! ```
//!
//! (→ stands for a tab.) In both, a blank line follows each line of the text (a blank text
//! line gives just the blank line), so a text line is a sentence to the readers. Tokens are the
//! text's whitespace-separated pieces, split further at Unicode word boundaries (UAX #29, so `،`
//! and `,` stand alone) and at the edges of the exported entities; a token never holds
//! whitespace, so splitting a token line at whitespace gives its columns back. A token has one
//! tag, so of overlapping entities only those [`flat`](super::flat) keeps are written; a line
//! break ends an entity (an entity running over two lines is written as two).
//!
//! Reading accepts both layouts, and two columns (`token TAG`, as other tools write them),
//! split by tabs or, without tabs, by spaces; `#` comment lines are skipped, and so are
//! `-DOCSTART-` lines with the blank line after them. Tokens are placed in the document's text
//! in order, skipping whitespace; the offset columns, when present, must agree. `I-X` not
//! following `B-X` or `I-X` on the same line starts an entity.

use unicode_segmentation::UnicodeSegmentation;

use super::{ExportDocument, Exported, ImportIssue, OFFSETS, ParsedDocument, ParsedSpan, direction_name, flat};
use crate::text;

/// The line that opens each document of a `CONLL` export: spaCy's document delimiter.
pub const DOCSTART: &str = "-DOCSTART- -X- O O";

/// What the part-of-speech and chunk columns of a `CONLL` export hold: nothing given.
const NOT_GIVEN: &str = "_";

/// The two layouts a CoNLL export is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// CoNLL-2003: `-DOCSTART-` lines, `token _ _ TAG` separated by spaces.
    Conll2003,
    /// `#` header lines, `token start end TAG` separated by tabs.
    Commented,
}

/// Writes the documents one after another in `layout`.
pub fn write(docs: &[ExportDocument], layout: Layout) -> Exported {
    let mut out = String::new();
    let mut omitted = 0;
    for doc in docs {
        let kept = flat(&doc.entities);
        omitted += doc.entities.len() - kept.len();
        let entities: Vec<(u32, u32, &str)> =
            kept.iter().map(|&i| &doc.entities[i]).map(|e| (e.start, e.end, e.type_name.as_str())).collect();
        let mut cuts: Vec<u32> = entities.iter().flat_map(|&(s, e, _)| [s, e]).collect();
        cuts.sort_unstable();
        cuts.dedup();
        match layout {
            Layout::Conll2003 => {
                out.push_str(DOCSTART);
                out.push_str("\n\n");
            }
            Layout::Commented => {
                for (key, value) in [
                    ("id", doc.id.as_str()),
                    ("title", &doc.title),
                    ("direction", direction_name(doc.direction)),
                    ("offsets", OFFSETS),
                ] {
                    out.push_str(&format!("# {key} = {}\n", one_line(value)));
                }
            }
        }
        for line in text::lines(&doc.text) {
            let mut previous: Option<usize> = None;
            for (start, end) in tokens(&line.text, line.start, &cuts) {
                // Entities do not overlap, so at most one holds the token: the last starting
                // at or before it.
                let holder = entities.partition_point(|&(s, _, _)| s <= start).checked_sub(1);
                let holder = holder.filter(|&i| end <= entities[i].1);
                let tag = match holder {
                    Some(i) if previous == Some(i) => format!("I-{}", entities[i].2),
                    Some(i) => format!("B-{}", entities[i].2),
                    None => "O".to_owned(),
                };
                previous = holder;
                let token: String =
                    line.text.chars().skip((start - line.start) as usize).take((end - start) as usize).collect();
                match layout {
                    Layout::Conll2003 => out.push_str(&format!("{token} {NOT_GIVEN} {NOT_GIVEN} {tag}\n")),
                    Layout::Commented => out.push_str(&format!("{token}\t{start}\t{end}\t{tag}\n")),
                }
            }
            out.push('\n');
        }
    }
    Exported { data: out, omitted }
}

/// A header value on one line, without tabs (a tab would make it read as a token).
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r', '\t'], " ")
}

/// The tokens of a line starting at code point `line_start`: whitespace-separated pieces, split
/// at word boundaries and at `cuts` (sorted code-point offsets). Absolute `[start, end)`.
fn tokens(line: &str, line_start: u32, cuts: &[u32]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut offset = line_start;
    for piece in line.split(char::is_whitespace) {
        let mut at = offset;
        for segment in piece.split_word_bounds() {
            let end = at + segment.chars().count() as u32;
            let first_cut = cuts.partition_point(|&c| c <= at);
            let mut from = at;
            for &cut in cuts[first_cut..].iter().take_while(|&&c| c < end) {
                out.push((from, cut));
                from = cut;
            }
            out.push((from, end));
            at = end;
        }
        // The piece, then the one whitespace character `split` consumed.
        offset = at + 1;
    }
    out
}

/// One token line of the data.
struct TokenLine<'a> {
    line: u32,
    token: &'a str,
    offsets: Option<(u32, u32)>,
    tag: &'a str,
}

/// Reads one document's tokens and places them in `text`, the document's content. Issues
/// name the first text line that differs, malformed lines and tags.
pub fn parse(data: &str, text: &str) -> (ParsedDocument, Vec<ImportIssue>) {
    let mut issues = Vec::new();
    let mut sections: Vec<Vec<TokenLine>> = vec![];
    let mut current: Vec<TokenLine> = vec![];
    // Documents begun, by `# id =` header and by `-DOCSTART-` line (a file uses one or the other).
    let (mut headers, mut docstarts) = (0, 0);
    // The blank line right after `-DOCSTART-` belongs to it, not to the text.
    let mut after_docstart = false;
    let mut raw_lines: Vec<&str> = data.split('\n').collect();
    if raw_lines.last() == Some(&"") {
        raw_lines.pop();
    }
    for (i, raw) in raw_lines.into_iter().enumerate() {
        let line = i as u32 + 1;
        let second_document = |issues: &mut Vec<ImportIssue>| {
            issues.push(ImportIssue::new(line, "a second document starts here; import one document at a time"));
        };
        let cols: Vec<&str> = if raw.starts_with("-DOCSTART-") {
            docstarts += 1;
            if docstarts == 2 {
                second_document(&mut issues);
            }
            after_docstart = true;
            continue;
        } else if raw.contains('\t') {
            raw.split('\t').collect()
        } else if raw.trim().is_empty() {
            if !std::mem::take(&mut after_docstart) {
                sections.push(std::mem::take(&mut current));
            }
            continue;
        } else if raw.starts_with('#') {
            if raw.starts_with("# id =") {
                headers += 1;
                if headers == 2 {
                    second_document(&mut issues);
                }
            }
            continue;
        } else {
            raw.split_whitespace().collect()
        };
        if cols.len() < 2 || cols[0].is_empty() {
            issues.push(ImportIssue::new(line, "expected a token and its tag, separated by a tab"));
            continue;
        }
        // Four tab-separated columns are the commented layout's offsets, which must be numbers;
        // four space-separated ones are CoNLL-2003's part-of-speech and chunk columns (offsets
        // only when both are numbers).
        let tabbed = raw.contains('\t');
        let offsets = match cols.as_slice() {
            [_, s, e, _] => match (s.trim().parse::<u32>(), e.trim().parse::<u32>()) {
                (Ok(s), Ok(e)) => Some((s, e)),
                _ if !tabbed => None,
                _ => {
                    issues.push(ImportIssue::new(
                        line,
                        format!("the offsets {s:?} and {e:?} are not code-point offsets (whole numbers)"),
                    ));
                    continue;
                }
            },
            _ => None,
        };
        after_docstart = false;
        current.push(TokenLine { line, token: cols[0], offsets, tag: cols[cols.len() - 1].trim() });
    }
    if !current.is_empty() {
        sections.push(current);
    }
    let mut doc = ParsedDocument { line: 1, ..Default::default() };
    if !issues.is_empty() {
        return (doc, issues);
    }
    let places = match align(&sections, text) {
        Ok(places) => places,
        Err(issue) => return (doc, vec![issue]),
    };
    for (section, places) in sections.iter().zip(places) {
        read_entities(section, &places, &mut doc.spans, &mut issues);
    }
    (doc, issues)
}

/// Places the sections' tokens in the document's lines, in order: the code-point span of
/// every token, or the first difference.
fn align(sections: &[Vec<TokenLine>], text: &str) -> Result<Vec<Vec<(u32, u32)>>, ImportIssue> {
    let lines = text::lines(text);
    let mut places = Vec::with_capacity(sections.len());
    for (number, (section, line)) in sections.iter().zip(&lines).enumerate() {
        let number = number + 1;
        let chars: Vec<char> = line.text.chars().collect();
        let mut at = 0usize;
        let differs = |data_line: u32| {
            let data: Vec<&str> = section.iter().map(|t| t.token).collect();
            ImportIssue::new(
                data_line,
                format!(
                    "text line {number} differs from the document: the document has «{}», the data has «{}»",
                    line.text,
                    data.join(" ")
                ),
            )
        };
        let mut found = Vec::with_capacity(section.len());
        for t in section {
            while chars.get(at).is_some_and(|c| c.is_whitespace()) {
                at += 1;
            }
            let token: Vec<char> = t.token.chars().collect();
            if chars.get(at..at + token.len()) != Some(token.as_slice()) {
                return Err(differs(t.line));
            }
            let span = (line.start + at as u32, line.start + (at + token.len()) as u32);
            if let Some(given) = t.offsets
                && given != span
            {
                return Err(ImportIssue::new(
                    t.line,
                    format!(
                        "token «{}» is given at {}..{}, but text line {number} has it at {}..{}",
                        t.token, given.0, given.1, span.0, span.1
                    ),
                ));
            }
            found.push(span);
            at += token.len();
        }
        if chars[at..].iter().any(|c| !c.is_whitespace()) {
            return Err(differs(section.last().map_or(1, |t| t.line + 1)));
        }
        places.push(found);
    }
    if sections.len() != lines.len() {
        let last = sections.iter().rev().find_map(|s| s.last()).map_or(1, |t| t.line);
        return Err(ImportIssue::new(
            last,
            format!(
                "the data has {} text lines (a blank line ends each), the document has {}",
                sections.len(),
                lines.len()
            ),
        ));
    }
    Ok(places)
}

/// The entities of one aligned line, from its BIO tags.
fn read_entities(
    section: &[TokenLine],
    places: &[(u32, u32)],
    spans: &mut Vec<ParsedSpan>,
    issues: &mut Vec<ImportIssue>,
) {
    let mut open: Option<ParsedSpan> = None;
    for (t, &(start, end)) in section.iter().zip(places) {
        let (kind, ty) = match t.tag.split_once('-') {
            _ if t.tag == "O" => {
                spans.extend(open.take());
                continue;
            }
            Some((k @ ("B" | "I"), ty)) if !ty.is_empty() => (k, ty),
            _ => {
                issues.push(ImportIssue::new(t.line, format!("tag «{}» is not O, B-TYPE or I-TYPE", t.tag)));
                spans.extend(open.take());
                continue;
            }
        };
        match open.as_mut() {
            Some(o) if kind == "I" && o.type_name == ty => o.end = end.into(),
            _ => {
                spans.extend(open.take());
                open = Some(ParsedSpan::new(t.line, format!("{kind}-{ty}"), start.into(), end.into(), ty));
            }
        }
    }
    spans.extend(open);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_that_are_not_numbers_name_their_line() {
        let (_, issues) = parse("حسین\t0\t4\tB-PERSON\nکربلا\ta\tb\tB-LOCATION\n", "حسین کربلا");
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].line, 2);
        assert!(issues[0].message.contains("\"a\" and \"b\""), "{}", issues[0].message);
    }
    use crate::exchange::tests::{TEXT, sample};

    const EXPECTED_2003: &str = "-DOCSTART- -X- O O

امام _ _ B-PERSON
حسینؑ _ _ I-PERSON
ابن _ _ I-PERSON
علیؑ _ _ I-PERSON
, _ _ O
کربلا _ _ B-LOCATION
میں _ _ O

عباسؑ _ _ B-PERSON
، _ _ O
فرات _ _ B-LOCATION
پر _ _ O

";

    const EXPECTED: &str = "# id = 9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475
# title = Stanza, one
# direction = rtl
# offsets = unicode_code_points
امام\t0\t4\tB-PERSON
حسینؑ\t5\t10\tI-PERSON
ابن\t11\t14\tI-PERSON
علیؑ\t15\t19\tI-PERSON
,\t19\t20\tO
کربلا\t21\t26\tB-LOCATION
میں\t27\t30\tO

عباسؑ\t31\t36\tB-PERSON
،\t36\t37\tO
فرات\t38\t42\tB-LOCATION
پر\t43\t45\tO

";

    #[test]
    fn exact_output_keeps_the_first_and_longest_of_overlapping_entities() {
        let exported = write(&[sample()], Layout::Commented);
        assert_eq!(exported.data, EXPECTED);
        // The DESIGNATION and PERSON inside the long PERSON, and the LOCATION crossing it.
        assert_eq!(exported.omitted, 3);
        let exported = write(&[sample()], Layout::Conll2003);
        assert_eq!(exported.data, EXPECTED_2003);
        assert_eq!(exported.omitted, 3);
    }

    #[test]
    fn conll_2003_has_no_line_a_reader_would_take_for_a_token() {
        let mut second = sample();
        second.title = "Stanza, two".into();
        let data = write(&[sample(), second], Layout::Conll2003).data;
        // Every line is a blank line, the document delimiter, or four space-separated columns
        // whose first is a token of the text and whose last is a tag.
        for line in data.lines() {
            let cols: Vec<&str> = line.split(' ').collect();
            match cols.as_slice() {
                [""] => {}
                ["-DOCSTART-", "-X-", "O", "O"] => {}
                [token, "_", "_", tag] => {
                    assert!(TEXT.contains(token), "{line}");
                    assert!(*tag == "O" || tag.starts_with("B-") || tag.starts_with("I-"), "{line}");
                }
                _ => panic!("a line that is no CoNLL-2003 token: {line:?}"),
            }
        }
        assert_eq!(data.matches(DOCSTART).count(), 2);
        assert!(!data.contains('#') && !data.contains('\t'));
    }

    fn spans(data: &str, text: &str) -> (Vec<(i64, i64, String)>, Vec<String>) {
        let (doc, issues) = parse(data, text);
        (
            doc.spans.into_iter().map(|s| (s.start, s.end, s.type_name)).collect(),
            issues.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn reads_what_it_writes() {
        let doc = sample();
        let kept: Vec<(i64, i64, String)> = flat(&doc.entities)
            .into_iter()
            .map(|i| &doc.entities[i])
            .map(|e| (e.start.into(), e.end.into(), e.type_name.clone()))
            .collect();
        for data in [EXPECTED, EXPECTED_2003] {
            let (found, issues) = spans(data, TEXT);
            assert_eq!(issues, Vec::<String>::new());
            assert_eq!(found, kept);
        }
    }

    #[test]
    fn a_blank_first_line_of_the_text_survives_the_docstart_line() {
        let text = "\nعباسؑ فرات";
        let mut doc = sample();
        doc.text = text.into();
        doc.entities = vec![crate::exchange::tests::entity("عباسؑ", "PERSON")];
        doc.entities[0].start = 1;
        doc.entities[0].end = 6;
        doc.relations = vec![];
        let data = write(&[doc], Layout::Conll2003).data;
        assert_eq!(data, "-DOCSTART- -X- O O\n\n\nعباسؑ _ _ B-PERSON\nفرات _ _ O\n\n");
        assert_eq!(spans(&data, text), (vec![(1, 6, "PERSON".into())], vec![]));
    }

    #[test]
    fn entity_edges_inside_words_split_tokens_and_line_breaks_end_entities() {
        let text = "ابوالفضل عباس\nعلمدار";
        let entity = |start, end, ty: &str| {
            let mut e = crate::exchange::tests::entity("کربلا", ty);
            (e.start, e.end, e.text) = (start, end, String::new());
            e
        };
        let mut doc = sample();
        doc.text = text.into();
        doc.entities = vec![entity(3, 20, "PERSON")];
        doc.relations = vec![];
        let data = write(&[doc], Layout::Commented).data;
        let body: Vec<&str> = data.lines().skip(4).collect();
        assert_eq!(
            body,
            ["ابو\t0\t3\tO", "الفضل\t3\t8\tB-PERSON", "عباس\t9\t13\tI-PERSON", "", "علمدار\t14\t20\tB-PERSON", ""]
        );
        let (found, _) = spans(&data, text);
        assert_eq!(found, [(3, 13, "PERSON".into()), (14, 20, "PERSON".into())]);
    }

    #[test]
    fn reads_two_column_files_of_other_tools() {
        let data = "-DOCSTART- -X- O\nامام B-PERSON\nحسینؑ I-PERSON\nابن I-PERSON\nعلیؑ I-PERSON\n, O\nکربلا B-LOCATION\nمیں O\n\nعباسؑ B-PERSON\n، O\nفرات I-LOCATION\nپر O\n";
        let (found, issues) = spans(data, TEXT);
        assert_eq!(issues, Vec::<String>::new());
        // An I- tag that follows no entity of its type starts one.
        assert_eq!(
            found,
            [
                (0, 19, "PERSON".into()),
                (21, 26, "LOCATION".into()),
                (31, 36, "PERSON".into()),
                (38, 42, "LOCATION".into())
            ]
        );
    }

    #[test]
    fn names_the_first_differing_line_and_malformed_lines() {
        let other = EXPECTED.replace("فرات\t38\t42", "دجلہ\t38\t42");
        assert_eq!(
            spans(&other, TEXT).1,
            [
                "line 15: text line 2 differs from the document: the document has «عباسؑ، فرات پر», the data has «عباسؑ ، دجلہ پر»"
            ]
        );
        let missing = EXPECTED.replace("پر\t43\t45\tO\n", "");
        assert_eq!(
            spans(&missing, TEXT).1,
            [
                "line 16: text line 2 differs from the document: the document has «عباسؑ، فرات پر», the data has «عباسؑ ، فرات»"
            ]
        );
        let shifted = EXPECTED.replace("کربلا\t21\t26", "کربلا\t20\t25");
        assert_eq!(
            spans(&shifted, TEXT).1,
            ["line 10: token «کربلا» is given at 20..25, but text line 1 has it at 21..26"]
        );
        let short = EXPECTED.split("\n\n").next().unwrap().to_owned() + "\n\n";
        assert_eq!(
            spans(&short, TEXT).1,
            ["line 11: the data has 1 text lines (a blank line ends each), the document has 2"]
        );
        let malformed = EXPECTED.replace("ابن\t11\t14\tI-PERSON", "ابن").replace("B-LOCATION", "X-LOCATION");
        assert_eq!(spans(&malformed, TEXT).1, ["line 7: expected a token and its tag, separated by a tab"]);
        let bad_tag = EXPECTED.replace("B-LOCATION", "LOCATION");
        assert_eq!(
            spans(&bad_tag, TEXT).1,
            [
                "line 10: tag «LOCATION» is not O, B-TYPE or I-TYPE",
                "line 15: tag «LOCATION» is not O, B-TYPE or I-TYPE"
            ]
        );
        let twice = format!("{EXPECTED}{EXPECTED}");
        assert_eq!(spans(&twice, TEXT).1, ["line 18: a second document starts here; import one document at a time"]);
        let twice = format!("{EXPECTED_2003}{EXPECTED_2003}");
        assert_eq!(spans(&twice, TEXT).1, ["line 16: a second document starts here; import one document at a time"]);
    }
}
