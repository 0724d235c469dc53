//! The search index in the database: a document's passages (`nishan_domain::search::passages`)
//! in `search_passages`, their words in `search_postings` and in SQLite FTS5
//! (`search_passages_fts`, kept by triggers) or a PostgreSQL `tsvector` column under GIN, the
//! project's counts in `search_stats`, and what each document's passages were made from in
//! `search_documents`.
//!
//! Invariants: the document writes call [`index_document`] / [`unindex_document`] (a content
//! edit [`reindex_changed_lines`]) inside their own transactions, so the index changes with the
//! text or not at all; `search_stats`
//! always equals the counts of the project's rows (each write adds or subtracts what it
//! inserted or deleted, in the same transaction); the full-text indexes see exactly the folded
//! words, separated by single spaces, so they propose a passage for a term exactly when its
//! words hold the term (the ranking in the domain checks each candidate all the same).
//! `search_postings` holds, per project, word and document, the document's passages holding
//! the word, each with the word's count there and the passage's length (BM25's groups of one
//! score), as one row of 12-byte entries ([`Entry`]): written with the passages, in the same
//! transaction; an edit writes again only the rows of the words of the lines it changed. A
//! one-word query reads at most one row per document holding its word, counts the groups in
//! process, and reads only the passages of the groups its page falls in
//! ([`SearchRepository::group_passages`]). A whole-word query of several words
//! is ranked in SQL ([`word_score`]: the domain's BM25 with its floating-point operations in
//! its order, IEEE doubles on both databases, from each passage's `word_count` and
//! `repeats`), ordered as the domain orders (titles in code-point order on PostgreSQL too),
//! and cut to its page there.

use std::collections::HashMap;

use nishan_domain::document::Document;
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, KnowledgeItemId, ProjectId};
use nishan_domain::ports::{PageRequest, PassageEntity, SearchFilter, SearchRepository};
use nishan_domain::search::semantic::content_hash;
use nishan_domain::search::{
    Candidate, CorpusStats, LineChange, Matching, Passage, PassageId, Term, WordGroup, WordScoring, passages_iter,
};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement, Value};
use uuid::Uuid;

use super::{Store, internal};

/// The format of the index's passages: raise it when `search::passages` or the folding
/// changes, and every server re-indexes its documents at start-up.
pub const INDEX_VERSION: i32 = 5;

/// Passages written by one INSERT (11 or 12 values each, under both databases' limits).
const INSERT_ROWS: usize = 500;
/// Posting rows written by one INSERT (4 values each: under SQLite's 32,766 variables).
const POSTING_ROWS: usize = 4_000;
/// Words of a document's posting rows read and written again by one statement of an edit.
const POSTING_KEYS: usize = 200;
/// Lines of documents indexed in one write transaction when the index is rebuilt (at
/// start-up): about half a second of the write lock on a small machine.
const REBUILD_LINES: usize = 20_000;
/// Ids in one `IN (...)` list.
pub(super) const ID_CHUNK: usize = 900;

/// Statement placeholders of one backend: `?` on SQLite, `$n` on PostgreSQL.
pub(super) struct Params {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Params {
    pub(super) fn new(backend: DbBackend) -> Self {
        Self { backend, values: Vec::new() }
    }

    /// Adds a value; returns its placeholder.
    pub(super) fn push(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// Placeholders of a list of values, comma-separated.
    pub(super) fn list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> String {
        values.into_iter().map(|v| self.push(v)).collect::<Vec<_>>().join(", ")
    }

    pub(super) fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

fn is_postgres(conn: &impl ConnectionTrait) -> bool {
    conn.get_database_backend() == DbBackend::Postgres
}

/// A PostgreSQL `tsvector` literal of words at positions 1, 2, ...: `'w':1 'x':2,5`.
fn tsvector_literal(words: &[String]) -> String {
    let mut positions: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        match positions.iter_mut().find(|(x, _)| *x == w.as_str()) {
            Some((_, at)) => at.push(i + 1),
            None => positions.push((w.as_str(), vec![i + 1])),
        }
    }
    positions
        .into_iter()
        .map(|(w, at)| {
            let at: Vec<String> = at.iter().map(|p| p.min(&16383).to_string()).collect();
            format!("{}:{}", quote_lexeme(w), at.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A lexeme in single quotes, as `tsvector` and `tsquery` literals write one.
fn quote_lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// A term as an FTS5 query: `"w"`, `"w"*`, `"a b"`, `"a b"*`.
fn fts5_term(term: &Term) -> String {
    let quoted = format!("\"{}\"", term.words().join(" ").replace('"', "\"\""));
    if term.ends_in_prefix() { format!("{quoted}*") } else { quoted }
}

/// A term as a PostgreSQL `tsquery`: `'w'`, `'w':*`, `('a' <-> 'b':*)`.
fn tsquery_term(term: &Term) -> String {
    let words = term.words();
    let n = words.len();
    let parts: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let q = quote_lexeme(w);
            if i + 1 == n && term.ends_in_prefix() { format!("{q}:*") } else { q }
        })
        .collect();
    if n == 1 { parts.into_iter().next().unwrap_or_default() } else { format!("({})", parts.join(" <-> ")) }
}

/// The full-text condition of terms (all or any) on the alias `p` of `search_passages` (and
/// `search_passages_fts` on SQLite), with its parameter.
fn match_condition(params: &mut Params, terms: &[Term], matching: Matching) -> String {
    if params.backend == DbBackend::Postgres {
        let join = if matching == Matching::All { " & " } else { " | " };
        let query = terms.iter().map(tsquery_term).collect::<Vec<_>>().join(join);
        format!("p.lexemes @@ {}::tsquery", params.push(query))
    } else {
        let join = if matching == Matching::All { " AND " } else { " OR " };
        let query = terms.iter().map(fts5_term).collect::<Vec<_>>().join(join);
        format!("search_passages_fts MATCH {}", params.push(query))
    }
}

/// `FROM` of a full-text query over the project's passages. On SQLite, `CROSS JOIN` keeps the
/// full-text index as the outer loop: left to choose, the planner walks the project's passages
/// and evaluates the MATCH once per row, a hundred times slower on the corpus.
fn from_clause(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres {
        "FROM search_passages p"
    } else {
        "FROM search_passages_fts CROSS JOIN search_passages p ON p.id = search_passages_fts.rowid"
    }
}

/// Stores the passages of `doc` (its current content and version), their postings, and adds
/// them to the project's counts. The document must have no passages yet ([`unindex_document`]
/// first). The passages are made and written [`INSERT_ROWS`] at a time, so a large document's
/// are never all in one statement; its postings (one row per distinct word) are written once
/// all its passages have their ids.
pub(crate) async fn index_document(conn: &impl ConnectionTrait, doc: &Document) -> DomainResult<()> {
    let backend = conn.get_database_backend();
    let mut passages = passages_iter(&doc.content);
    let (mut passages_total, mut words_total) = (0i64, 0i64);
    let mut postings = Postings::default();
    loop {
        let batch: Vec<Passage> = passages.by_ref().take(INSERT_ROWS).collect();
        if batch.is_empty() {
            break;
        }
        passages_total += batch.len() as i64;
        words_total += batch.iter().map(|p| p.words.len() as i64).sum::<i64>();
        insert_passages(conn, doc, batch, &mut postings).await?;
    }
    insert_postings(conn, doc.project_id, doc.id, postings.into_rows()).await?;
    add_to_stats(conn, doc.project_id, passages_total, words_total).await?;
    let mut params = Params::new(backend);
    let sql = format!(
        "INSERT INTO search_documents (document_id, project_id, content_version, index_version) VALUES ({}, {}, {}, {}) \
         ON CONFLICT (document_id) DO UPDATE SET content_version = excluded.content_version, \
         index_version = excluded.index_version",
        params.push(doc.id.0),
        params.push(doc.project_id.0),
        params.push(doc.current_version as i64),
        params.push(INDEX_VERSION),
    );
    conn.execute_raw(params.statement(sql)).await.map_err(internal)?;
    Ok(())
}

/// One INSERT of passages of `doc` (at most [`INSERT_ROWS`]); their words go to `postings`
/// under the ids the database gave them.
async fn insert_passages(
    conn: &impl ConnectionTrait,
    doc: &Document,
    rows: Vec<Passage>,
    postings: &mut Postings,
) -> DomainResult<()> {
    let backend = conn.get_database_backend();
    let postgres = is_postgres(conn);
    let mut params = Params::new(backend);
    let mut tuples = Vec::with_capacity(rows.len());
    let mut words_at = HashMap::with_capacity(rows.len());
    for p in rows {
        let word_string = p.word_string();
        let repeats = p.repeats();
        let word_count = p.words.len() as i64;
        let lexemes = postgres.then(|| tsvector_literal(&p.words));
        let hash = content_hash(&p.text);
        let mut tuple = vec![
            params.push(doc.project_id.0),
            params.push(doc.id.0),
            params.push(p.line_number as i64),
            params.push(p.start as i64),
            params.push(p.end as i64),
            params.push(p.text),
            params.push(word_string),
            params.push(word_count),
            params.push(hash),
            params.push(repeats),
        ];
        if let Some(lexemes) = lexemes {
            let lexemes = params.push(lexemes);
            tuple.push(format!("{lexemes}::tsvector"));
        }
        tuples.push(format!("({})", tuple.join(", ")));
        words_at.insert(p.start as i32, p.words);
    }
    let columns = "project_id, document_id, line_number, start_offset, end_offset, text, words, word_count, content_hash, repeats";
    let columns = if postgres { format!("{columns}, lexemes") } else { columns.to_owned() };
    let sql =
        format!("INSERT INTO search_passages ({columns}) VALUES {} RETURNING id, start_offset", tuples.join(", "));
    let inserted = conn.query_all_raw(params.statement(sql)).await.map_err(internal)?;
    for row in inserted {
        let id: i64 = row.try_get("", "id").map_err(internal)?;
        let start: i32 = row.try_get("", "start_offset").map_err(internal)?;
        let words = words_at.remove(&start).ok_or_else(|| DomainError::internal("an unknown passage was returned"))?;
        postings.add(id, &words);
    }
    if !words_at.is_empty() {
        return Err(DomainError::internal("a passage's id was not returned"));
    }
    Ok(())
}

/// One passage holding a word: its id, how often the word stands there, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    passage: i64,
    tf: u16,
    word_count: u16,
}

/// Bytes of one [`Entry`] in a row's `entries`.
const ENTRY_BYTES: usize = 12;

impl Entry {
    /// The entries of a row, as [`encode_entries`] wrote them.
    fn decode(bytes: &[u8]) -> DomainResult<Vec<Entry>> {
        if !bytes.len().is_multiple_of(ENTRY_BYTES) {
            return Err(DomainError::internal(format!("search_postings entries of {} bytes", bytes.len())));
        }
        Ok(bytes
            .chunks_exact(ENTRY_BYTES)
            .map(|b| Entry {
                passage: i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                tf: u16::from_le_bytes([b[8], b[9]]),
                word_count: u16::from_le_bytes([b[10], b[11]]),
            })
            .collect())
    }
}

/// A row's `entries`: 12-byte little-endian records (passage id i64, tf u16, word count u16).
fn encode_entries(entries: &[Entry]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(entries.len() * ENTRY_BYTES);
    for e in entries {
        bytes.extend_from_slice(&e.passage.to_le_bytes());
        bytes.extend_from_slice(&e.tf.to_le_bytes());
        bytes.extend_from_slice(&e.word_count.to_le_bytes());
    }
    bytes
}

/// A document's postings being made: per distinct word, the passages holding it.
#[derive(Default)]
struct Postings {
    words: HashMap<String, Vec<Entry>>,
}

impl Postings {
    /// Adds a passage's words (each distinct word once, with its count).
    fn add(&mut self, passage: i64, words: &[String]) {
        let word_count = u16::try_from(words.len()).unwrap_or(u16::MAX);
        let mut counts: Vec<(&str, u16)> = Vec::new();
        for w in words {
            match counts.iter_mut().find(|(x, _)| *x == w.as_str()) {
                Some((_, n)) => *n = n.saturating_add(1),
                None => counts.push((w.as_str(), 1)),
            }
        }
        for (word, tf) in counts {
            let entry = Entry { passage, tf, word_count };
            match self.words.get_mut(word) {
                Some(entries) => entries.push(entry),
                None => {
                    self.words.insert(word.to_owned(), vec![entry]);
                }
            }
        }
    }

    /// The rows: each word with its entries in passage-id order.
    fn into_rows(self) -> Vec<(String, Vec<Entry>)> {
        let mut rows: Vec<(String, Vec<Entry>)> = self.words.into_iter().collect();
        for (_, entries) in &mut rows {
            entries.sort_unstable_by_key(|e| e.passage);
        }
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

/// Writes a document's posting rows (none of which may exist yet), [`POSTING_ROWS`] a statement.
async fn insert_postings(
    conn: &impl ConnectionTrait,
    project: ProjectId,
    doc: DocumentId,
    rows: Vec<(String, Vec<Entry>)>,
) -> DomainResult<()> {
    let backend = conn.get_database_backend();
    for chunk in rows.chunks(POSTING_ROWS) {
        let mut params = Params::new(backend);
        let tuples: Vec<String> = chunk
            .iter()
            .map(|(word, entries)| {
                format!(
                    "({}, {}, {}, {})",
                    params.push(project.0),
                    params.push(word.clone()),
                    params.push(doc.0),
                    params.push(encode_entries(entries))
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO search_postings (project_id, word, document_id, entries) VALUES {}",
            tuples.join(", ")
        );
        conn.execute_raw(params.statement(sql)).await.map_err(internal)?;
    }
    Ok(())
}

/// The ids and words of a document's passages starting at or after code point `from` (and
/// before `until`, if given): what an edit removes.
async fn passages_in(
    conn: &impl ConnectionTrait,
    doc: DocumentId,
    from: u32,
    until: Option<u32>,
) -> DomainResult<Vec<(i64, Vec<String>)>> {
    let mut params = Params::new(conn.get_database_backend());
    let mut sql = format!(
        "SELECT id, words FROM search_passages WHERE document_id = {} AND start_offset >= {}",
        params.push(doc.0),
        params.push(from as i64)
    );
    if let Some(until) = until {
        sql.push_str(&format!(" AND start_offset < {}", params.push(until as i64)));
    }
    let rows = conn.query_all_raw(params.statement(sql)).await.map_err(internal)?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("", "id").map_err(internal)?;
            let words: String = row.try_get("", "words").map_err(internal)?;
            Ok((id, words.split(' ').filter(|w| !w.is_empty()).map(str::to_owned).collect()))
        })
        .collect()
}

/// Moves a document's posting rows by an edit: the passages `removed` leave the rows of their
/// words, the entries of `added` join theirs. Only the rows of those words are read and
/// written again ([`POSTING_KEYS`] words a statement).
async fn update_postings(
    conn: &impl ConnectionTrait,
    project: ProjectId,
    doc: DocumentId,
    removed: &[(i64, Vec<String>)],
    added: Postings,
) -> DomainResult<()> {
    let backend = conn.get_database_backend();
    let gone: std::collections::HashSet<i64> = removed.iter().map(|(id, _)| *id).collect();
    let mut words: std::collections::BTreeSet<String> = removed.iter().flat_map(|(_, ws)| ws.iter().cloned()).collect();
    words.extend(added.words.keys().cloned());
    let mut added = added.words;
    let words: Vec<String> = words.into_iter().collect();
    let mut rows = Vec::new();
    for chunk in words.chunks(POSTING_KEYS) {
        let mut params = Params::new(backend);
        let (p, d) = (params.push(project.0), params.push(doc.0));
        let list = params.list(chunk.iter().cloned());
        let sql = format!(
            "SELECT word, entries FROM search_postings WHERE project_id = {p} AND document_id = {d} AND word IN ({list})"
        );
        let mut kept: HashMap<String, Vec<Entry>> = HashMap::new();
        for row in conn.query_all_raw(params.statement(sql)).await.map_err(internal)? {
            let word: String = row.try_get("", "word").map_err(internal)?;
            let bytes: Vec<u8> = row.try_get("", "entries").map_err(internal)?;
            let entries = Entry::decode(&bytes)?.into_iter().filter(|e| !gone.contains(&e.passage)).collect();
            kept.insert(word, entries);
        }
        let mut params = Params::new(backend);
        let (p, d) = (params.push(project.0), params.push(doc.0));
        let list = params.list(chunk.iter().cloned());
        let sql =
            format!("DELETE FROM search_postings WHERE project_id = {p} AND document_id = {d} AND word IN ({list})");
        conn.execute_raw(params.statement(sql)).await.map_err(internal)?;
        for word in chunk {
            let mut entries = kept.remove(word).unwrap_or_default();
            entries.extend(added.remove(word).unwrap_or_default());
            if !entries.is_empty() {
                entries.sort_unstable_by_key(|e| e.passage);
                rows.push((word.clone(), entries));
            }
        }
    }
    insert_postings(conn, project, doc, rows).await
}

/// Removes a document's passages and postings and subtracts them from its project's counts.
pub(crate) async fn unindex_document(conn: &impl ConnectionTrait, doc: DocumentId) -> DomainResult<()> {
    let backend = conn.get_database_backend();
    let mut params = Params::new(backend);
    let sql = format!(
        "SELECT project_id, COUNT(*) AS passages, COALESCE(SUM(word_count), 0) AS words FROM search_passages \
         WHERE document_id = {} GROUP BY project_id",
        params.push(doc.0)
    );
    let rows = conn.query_all_raw(params.statement(sql)).await.map_err(internal)?;
    for row in rows {
        let project: Uuid = row.try_get("", "project_id").map_err(internal)?;
        let passages: i64 = row.try_get("", "passages").map_err(internal)?;
        let words: i64 = row.try_get("", "words").map_err(internal)?;
        add_to_stats(conn, ProjectId(project), -passages, -words).await?;
    }
    for table in ["search_postings", "search_passages", "search_documents"] {
        let mut params = Params::new(backend);
        let sql = format!("DELETE FROM {table} WHERE document_id = {}", params.push(doc.0));
        conn.execute_raw(params.statement(sql)).await.map_err(internal)?;
    }
    Ok(())
}

/// Replaces a document's passages by those of its current content.
pub(crate) async fn reindex_document(conn: &impl ConnectionTrait, doc: &Document) -> DomainResult<()> {
    unindex_document(conn, doc.id).await?;
    index_document(conn, doc).await
}

/// Moves a document's passages from its content at version `from` (`old`) to its current
/// content (`doc`), writing only what changed ([`LineChange`]): the passages of the unchanged
/// leading lines stay as they are, those of the unchanged trailing lines move in one UPDATE
/// (their words are not written, so neither full-text index changes for them, nor do their
/// postings, which name passages by id), and only the changed lines' passages are deleted and
/// inserted, and the posting rows of their words written again; the project's counts move by
/// the difference. When the index does not hold `old` (another version, or an older index
/// format that start-up has not rebuilt yet), the document is indexed again whole.
pub(crate) async fn reindex_changed_lines(
    conn: &impl ConnectionTrait,
    old: &str,
    from: u32,
    doc: &Document,
) -> DomainResult<()> {
    let backend = conn.get_database_backend();
    let mut params = Params::new(backend);
    let sql = format!(
        "UPDATE search_documents SET content_version = {} WHERE document_id = {} AND content_version = {} \
         AND index_version = {}",
        params.push(doc.current_version as i64),
        params.push(doc.id.0),
        params.push(from as i64),
        params.push(INDEX_VERSION),
    );
    if conn.execute_raw(params.statement(sql)).await.map_err(internal)?.rows_affected() == 0 {
        return reindex_document(conn, doc).await;
    }
    let change = LineChange::between(old, &doc.content);
    let mut removed = Vec::new();
    if !change.removed.is_empty() {
        removed = passages_in(conn, doc.id, change.start, change.old_end).await?;
        let mut params = Params::new(backend);
        let mut sql = format!(
            "DELETE FROM search_passages WHERE document_id = {} AND start_offset >= {}",
            params.push(doc.id.0),
            params.push(change.start as i64)
        );
        if let Some(end) = change.old_end {
            sql.push_str(&format!(" AND start_offset < {}", params.push(end as i64)));
        }
        conn.execute_raw(params.statement(sql)).await.map_err(internal)?;
    }
    if let Some(end) = change.old_end.filter(|_| (change.lines, change.chars) != (0, 0)) {
        let mut params = Params::new(backend);
        // Each placeholder its own value: SQLite's `?` are positional.
        let (lines, chars, chars_again) =
            (params.push(change.lines), params.push(change.chars), params.push(change.chars));
        let sql = format!(
            "UPDATE search_passages SET line_number = line_number + {lines}, start_offset = start_offset + {chars}, \
             end_offset = end_offset + {chars_again} WHERE document_id = {} AND start_offset >= {}",
            params.push(doc.id.0),
            params.push(end as i64)
        );
        conn.execute_raw(params.statement(sql)).await.map_err(internal)?;
    }
    let words = |ps: &[Passage]| ps.iter().map(|p| p.words.len() as i64).sum::<i64>();
    let passages_delta = change.added.len() as i64 - change.removed.len() as i64;
    let words_delta = words(&change.added) - words(&change.removed);
    let mut added = change.added;
    let mut postings = Postings::default();
    while !added.is_empty() {
        let rest = added.split_off(added.len().min(INSERT_ROWS));
        insert_passages(conn, doc, added, &mut postings).await?;
        added = rest;
    }
    update_postings(conn, doc.project_id, doc.id, &removed, postings).await?;
    add_to_stats(conn, doc.project_id, passages_delta, words_delta).await
}

async fn add_to_stats(conn: &impl ConnectionTrait, project: ProjectId, passages: i64, words: i64) -> DomainResult<()> {
    if passages == 0 && words == 0 {
        return Ok(());
    }
    let mut params = Params::new(conn.get_database_backend());
    let sql = format!(
        "INSERT INTO search_stats (project_id, passages, words) VALUES ({}, {}, {}) ON CONFLICT (project_id) \
         DO UPDATE SET passages = search_stats.passages + excluded.passages, words = search_stats.words + excluded.words",
        params.push(project.0),
        params.push(passages),
        params.push(words),
    );
    conn.execute_raw(params.statement(sql)).await.map_err(internal)?;
    Ok(())
}

/// The BM25 score of a passage `p` for whole words, as SQL over its stored words and length:
/// per word, `((idf × tf) × (k1 + 1)) / (tf + (k1 × ((1 − b) + (b × (dl / avgdl)))))`, the
/// operations of `rank::term_score` in its order (IEEE doubles on both databases), summed in
/// the words' order. `tf` is 1 when no word of the passage repeats (`repeats` empty, most
/// rows), else 1 + the count of ` w ` in `repeats` with every space doubled (so that places
/// next to each other are all counted).
fn word_score(params: &mut Params, scoring: &WordScoring) -> String {
    let [k1_plus_1, k1, one_minus_b, b] = WordScoring::constants();
    let spaced = "REPLACE(' ' || p.repeats || ' ', ' ', '  ')";
    let dl = "CAST(p.word_count AS DOUBLE PRECISION)";
    let mut shares = Vec::with_capacity(scoring.words.len());
    for (word, idf) in scoring.words.iter().zip(&scoring.idfs) {
        let pattern = format!(" {word} ");
        let width = pattern.chars().count() as i64;
        let tf = |params: &mut Params| {
            format!(
                "CAST(CASE WHEN p.repeats = '' THEN 1 ELSE 1 + (LENGTH({spaced}) - LENGTH(REPLACE({spaced}, {}, ''))) / {} \
                 END AS DOUBLE PRECISION)",
                params.push(pattern.clone()),
                params.push(width)
            )
        };
        let idf = params.push(*idf);
        let tf_above = tf(params);
        let k1_plus_1 = params.push(k1_plus_1);
        let tf_below = tf(params);
        let k1 = params.push(k1);
        let one_minus_b = params.push(one_minus_b);
        let b = params.push(b);
        let mean = params.push(scoring.mean_length);
        shares.push(format!(
            "((({idf} * {tf_above}) * {k1_plus_1}) / ({tf_below} + ({k1} * ({one_minus_b} + ({b} * ({dl} / {mean}))))))"
        ));
    }
    format!("({})", shares.join(" + "))
}

impl Store {
    /// Indexes every document whose passages are missing or stale (made from an older content
    /// version or index format): documents stored before the index existed, after an upgrade.
    /// Documents are indexed in write transactions of up to [`REBUILD_LINES`] lines (at least
    /// one document each), each reading its documents again (so an edit that committed
    /// meanwhile is what gets indexed): the pages of the posting rows that many documents share
    /// are then written once per transaction, not once per document. Returns how many were
    /// indexed.
    pub async fn index_stale_documents(&self) -> DomainResult<u64> {
        let backend = self.connection().get_database_backend();
        let mut params = Params::new(backend);
        let sql = format!(
            "SELECT d.id FROM documents d LEFT JOIN search_documents s ON s.document_id = d.id \
             JOIN document_stats v ON v.document_id = d.id \
             WHERE s.document_id IS NULL OR s.index_version <> {} OR s.content_version <> v.version",
            params.push(INDEX_VERSION)
        );
        let rows = self.connection().query_all_raw(params.statement(sql)).await.map_err(internal)?;
        let mut indexed = 0;
        let mut txn = None;
        let mut lines = 0usize;
        for row in rows {
            let id: Uuid = row.try_get("", "id").map_err(internal)?;
            if txn.is_none() {
                txn = Some(self.write().await?);
            }
            let open = txn.as_ref().expect("a transaction was opened");
            // The stats row locked: a content edit (which swaps the version there first) waits.
            if super::documents::stored_version(open, DocumentId(id), Some(sea_orm::sea_query::LockType::Update))
                .await?
                .is_none()
            {
                continue; // Deleted meanwhile.
            }
            let Some(doc) =
                super::documents::load_documents(open, crate::entity::document::Entity::find_by_id(id)).await?.pop()
            else {
                continue;
            };
            reindex_document(open, &doc).await?;
            indexed += 1;
            lines += doc.content.lines().count();
            if lines >= REBUILD_LINES {
                txn.take().expect("a transaction is open").commit().await.map_err(internal)?;
                lines = 0;
            }
        }
        if let Some(txn) = txn {
            txn.commit().await.map_err(internal)?;
        }
        Ok(indexed)
    }
}

fn stats_of(row: &sea_orm::QueryResult) -> DomainResult<CorpusStats> {
    let passages: i64 = row.try_get("", "passages").map_err(internal)?;
    let words: i64 = row.try_get("", "words").map_err(internal)?;
    Ok(CorpusStats { passages: passages.max(0) as u64, words: words.max(0) as u64 })
}

/// The columns a [`candidate_of`] row holds, on `search_passages p JOIN documents d`.
pub(super) const CANDIDATE_COLUMNS: &str =
    "p.id, p.document_id, d.title, d.created_at, p.line_number, p.start_offset, p.end_offset, p.words";

/// A candidate from a row of [`CANDIDATE_COLUMNS`].
pub(super) fn candidate_of(row: &sea_orm::QueryResult) -> DomainResult<Candidate> {
    let get_u32 = |column: &str| -> DomainResult<u32> {
        let v: i32 = row.try_get("", column).map_err(internal)?;
        u32::try_from(v).map_err(|_| DomainError::internal(format!("{column} {v} out of range")))
    };
    Ok(Candidate {
        passage: PassageId(row.try_get("", "id").map_err(internal)?),
        document_id: DocumentId(row.try_get("", "document_id").map_err(internal)?),
        document_title: row.try_get("", "title").map_err(internal)?,
        document_created_at: row.try_get("", "created_at").map_err(internal)?,
        line_number: get_u32("line_number")?,
        start: get_u32("start_offset")?,
        end: get_u32("end_offset")?,
        words: row.try_get("", "words").map_err(internal)?,
    })
}

/// Every passage of the project holding `word`: its posting rows, one per document.
async fn word_entries(conn: &impl ConnectionTrait, project: ProjectId, word: &str) -> DomainResult<Vec<Entry>> {
    let mut params = Params::new(conn.get_database_backend());
    let sql = format!(
        "SELECT entries FROM search_postings WHERE project_id = {} AND word = {}",
        params.push(project.0),
        params.push(word.to_owned())
    );
    let mut entries = Vec::new();
    for row in conn.query_all_raw(params.statement(sql)).await.map_err(internal)? {
        let bytes: Vec<u8> = row.try_get("", "entries").map_err(internal)?;
        entries.extend(Entry::decode(&bytes)?);
    }
    Ok(entries)
}

impl SearchRepository for Store {
    async fn search_stats(&self, project: ProjectId) -> DomainResult<CorpusStats> {
        let mut params = Params::new(self.connection().get_database_backend());
        let sql = format!("SELECT passages, words FROM search_stats WHERE project_id = {}", params.push(project.0));
        match self.connection().query_one_raw(params.statement(sql)).await.map_err(internal)? {
            Some(row) => stats_of(&row),
            None => Ok(CorpusStats::default()),
        }
    }

    async fn document_frequencies(&self, project: ProjectId, terms: &[Term]) -> DomainResult<Vec<u64>> {
        let backend = self.connection().get_database_backend();
        let mut counts = Vec::with_capacity(terms.len());
        for term in terms {
            let mut params = Params::new(backend);
            let condition = match_condition(&mut params, std::slice::from_ref(term), Matching::All);
            let sql = format!(
                "SELECT COUNT(*) AS n {} WHERE {condition} AND p.project_id = {}",
                from_clause(backend),
                params.push(project.0)
            );
            let row = self.connection().query_one_raw(params.statement(sql)).await.map_err(internal)?;
            let n: i64 = match row {
                Some(row) => row.try_get("", "n").map_err(internal)?,
                None => 0,
            };
            counts.push(n.max(0) as u64);
        }
        Ok(counts)
    }

    async fn search_candidates(
        &self,
        project: ProjectId,
        terms: &[Term],
        matching: Matching,
        filter: &SearchFilter,
    ) -> DomainResult<Vec<Candidate>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.connection().get_database_backend();
        let mut params = Params::new(backend);
        let condition = match_condition(&mut params, terms, matching);
        let mut sql = format!(
            "SELECT {CANDIDATE_COLUMNS} {} JOIN documents d ON d.id = p.document_id WHERE {condition} \
             AND p.project_id = {}",
            from_clause(backend),
            params.push(project.0)
        );
        if !filter.documents.is_empty() {
            let list = params.list(filter.documents.iter().map(|d| d.0));
            sql.push_str(&format!(" AND p.document_id IN ({list})"));
        }
        if !filter.entity_types.is_empty() {
            let list = params.list(filter.entity_types.iter().map(|t| t.0));
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM entities e WHERE e.document_id = p.document_id AND e.layer = 'curated' \
                 AND e.entity_type_id IN ({list}) AND e.start_offset < p.end_offset AND e.end_offset > p.start_offset)"
            ));
        }
        if !filter.knowledge_items.is_empty() {
            let list = params.list(filter.knowledge_items.iter().map(|k| k.0));
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM entities e WHERE e.document_id = p.document_id AND e.layer = 'curated' \
                 AND e.knowledge_item_id IN ({list}) AND e.start_offset < p.end_offset AND e.end_offset > p.start_offset)"
            ));
        }
        let rows = self.connection().query_all_raw(params.statement(sql)).await.map_err(internal)?;
        rows.iter().map(candidate_of).collect()
    }

    async fn top_word_matches(
        &self,
        project: ProjectId,
        scoring: &WordScoring,
        documents: &[DocumentId],
        page: PageRequest,
    ) -> DomainResult<Vec<Candidate>> {
        if scoring.words.is_empty() || page.limit == 0 {
            return Ok(Vec::new());
        }
        let backend = self.connection().get_database_backend();
        let mut params = Params::new(backend);
        // Placeholders are numbered in the order they are pushed, and SQLite's `?` binds in
        // the order they appear: the statement is written left to right as they are pushed.
        let score = word_score(&mut params, scoring);
        let terms: Vec<Term> = scoring.words.iter().map(|w| Term::Word(w.clone())).collect();
        let condition = match_condition(&mut params, &terms, Matching::All);
        let mut sql = format!(
            "SELECT {CANDIDATE_COLUMNS}, {score} AS score {} JOIN documents d ON d.id = p.document_id \
             WHERE {condition} AND p.project_id = {}",
            from_clause(backend),
            params.push(project.0)
        );
        if !documents.is_empty() {
            let list = params.list(documents.iter().map(|d| d.0));
            sql.push_str(&format!(" AND p.document_id IN ({list})"));
        }
        // Titles in code-point order, as Rust compares them (PostgreSQL's default collation
        // would follow the locale).
        let title = if backend == DbBackend::Postgres { "d.title COLLATE \"C\"" } else { "d.title" };
        sql.push_str(&format!(
            " ORDER BY score DESC, {title}, d.created_at, p.document_id, p.start_offset LIMIT {} OFFSET {}",
            params.push(i64::try_from(page.limit).unwrap_or(i64::MAX)),
            params.push(i64::try_from(page.offset).unwrap_or(i64::MAX)),
        ));
        let rows = self.connection().query_all_raw(params.statement(sql)).await.map_err(internal)?;
        rows.iter().map(candidate_of).collect()
    }

    async fn count_matches(&self, project: ProjectId, terms: &[Term], documents: &[DocumentId]) -> DomainResult<u64> {
        if terms.is_empty() {
            return Ok(0);
        }
        let backend = self.connection().get_database_backend();
        let mut params = Params::new(backend);
        let condition = match_condition(&mut params, terms, Matching::All);
        let mut sql = format!(
            "SELECT COUNT(*) AS n {} WHERE {condition} AND p.project_id = {}",
            from_clause(backend),
            params.push(project.0)
        );
        if !documents.is_empty() {
            let list = params.list(documents.iter().map(|d| d.0));
            sql.push_str(&format!(" AND p.document_id IN ({list})"));
        }
        let row = self.connection().query_one_raw(params.statement(sql)).await.map_err(internal)?;
        let n: i64 = match row {
            Some(row) => row.try_get("", "n").map_err(internal)?,
            None => 0,
        };
        Ok(n.max(0) as u64)
    }

    async fn word_groups(&self, project: ProjectId, word: &str) -> DomainResult<Vec<WordGroup>> {
        let mut groups: HashMap<(u16, u16), u64> = HashMap::new();
        for e in word_entries(self.connection(), project, word).await? {
            *groups.entry((e.tf, e.word_count)).or_default() += 1;
        }
        let mut groups: Vec<WordGroup> = groups
            .into_iter()
            .map(|((tf, word_count), passages)| WordGroup {
                tf: u32::from(tf),
                word_count: u32::from(word_count),
                passages,
            })
            .collect();
        groups.sort_unstable_by_key(|g| (g.tf, g.word_count));
        Ok(groups)
    }

    async fn group_passages(
        &self,
        project: ProjectId,
        word: &str,
        groups: &[(u32, u32)],
        page: PageRequest,
    ) -> DomainResult<Vec<Candidate>> {
        if groups.is_empty() || page.limit == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = word_entries(self.connection(), project, word)
            .await?
            .into_iter()
            .filter(|e| groups.contains(&(u32::from(e.tf), u32::from(e.word_count))))
            .map(|e| e.passage)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.connection().get_database_backend();
        let mut params = Params::new(backend);
        // The ids as one parameter, whatever their number.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let ids = if backend == DbBackend::Postgres {
            format!("p.id = ANY(string_to_array({}, ',')::bigint[])", params.push(list))
        } else {
            format!("p.id IN (SELECT value FROM json_each({}))", params.push(format!("[{list}]")))
        };
        // Titles in code-point order, as Rust compares them.
        let title = if backend == DbBackend::Postgres { "d.title COLLATE \"C\"" } else { "d.title" };
        let sql = format!(
            "SELECT {CANDIDATE_COLUMNS} FROM search_passages p JOIN documents d ON d.id = p.document_id WHERE {ids} \
             ORDER BY {title}, d.created_at, p.document_id, p.start_offset LIMIT {} OFFSET {}",
            params.push(i64::try_from(page.limit).unwrap_or(i64::MAX)),
            params.push(i64::try_from(page.offset).unwrap_or(i64::MAX)),
        );
        let rows = self.connection().query_all_raw(params.statement(sql)).await.map_err(internal)?;
        rows.iter().map(candidate_of).collect()
    }

    async fn passage_texts(&self, ids: &[PassageId]) -> DomainResult<HashMap<PassageId, String>> {
        let backend = self.connection().get_database_backend();
        let mut texts = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let mut params = Params::new(backend);
            let list = params.list(chunk.iter().map(|p| p.0));
            let sql = format!("SELECT id, text FROM search_passages WHERE id IN ({list})");
            for row in self.connection().query_all_raw(params.statement(sql)).await.map_err(internal)? {
                let id: i64 = row.try_get("", "id").map_err(internal)?;
                texts.insert(PassageId(id), row.try_get("", "text").map_err(internal)?);
            }
        }
        Ok(texts)
    }

    async fn passage_entities(
        &self,
        ids: &[PassageId],
        types: &[EntityTypeId],
        items: &[KnowledgeItemId],
    ) -> DomainResult<Vec<PassageEntity>> {
        let backend = self.connection().get_database_backend();
        let mut found = Vec::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let mut params = Params::new(backend);
            let list = params.list(chunk.iter().map(|p| p.0));
            let mut sql = format!(
                "SELECT p.id AS passage, e.id AS entity, e.entity_type_id, e.start_offset, e.end_offset \
                 FROM search_passages p JOIN entities e ON e.document_id = p.document_id AND e.layer = 'curated' \
                 AND e.start_offset < p.end_offset AND e.end_offset > p.start_offset WHERE p.id IN ({list})"
            );
            if !types.is_empty() {
                let list = params.list(types.iter().map(|t| t.0));
                sql.push_str(&format!(" AND e.entity_type_id IN ({list})"));
            }
            if !items.is_empty() {
                let list = params.list(items.iter().map(|k| k.0));
                sql.push_str(&format!(" AND e.knowledge_item_id IN ({list})"));
            }
            for row in self.connection().query_all_raw(params.statement(sql)).await.map_err(internal)? {
                let start: i32 = row.try_get("", "start_offset").map_err(internal)?;
                let end: i32 = row.try_get("", "end_offset").map_err(internal)?;
                found.push(PassageEntity {
                    passage: PassageId(row.try_get("", "passage").map_err(internal)?),
                    entity: EntityId(row.try_get("", "entity").map_err(internal)?),
                    entity_type: EntityTypeId(row.try_get("", "entity_type_id").map_err(internal)?),
                    start: start.max(0) as u32,
                    end: end.max(0) as u32,
                });
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_quote_words_and_merge_positions() {
        let words: Vec<String> = ["علی", "حسن", "علی"].iter().map(|w| (*w).to_owned()).collect();
        assert_eq!(tsvector_literal(&words), "'علی':1,3 'حسن':2");
        assert_eq!(quote_lexeme("it's\\"), "'it''s\\\\'");
        let phrase = Term::Phrase { words: vec!["شاہ".into(), "کرب".into()], last_is_prefix: true };
        assert_eq!(tsquery_term(&phrase), "('شاہ' <-> 'کرب':*)");
        assert_eq!(fts5_term(&phrase), "\"شاہ کرب\"*");
        assert_eq!(tsquery_term(&Term::Word("علی".into())), "'علی'");
        assert_eq!(fts5_term(&Term::Prefix("عل".into())), "\"عل\"*");
    }
}
