//! Questions asked of a project's texts, and their answers with cited lines: chat sessions,
//! their messages, and citations (`answer`: the wire format chat models answer in, how an
//! answer is read and every citation checked against the text, and the built-in model's
//! extractive answer).
//!
//! Invariants:
//! - a session belongs to one user and one project; nobody else sees it (NOT_FOUND);
//! - a session's messages are numbered from 0 in the order they were written, a question
//!   (USER) always followed by its answer (ASSISTANT), both written in one transaction;
//! - a citation's `quote` is the document's content at `[start, end)` (code points), and its
//!   `line_number` the line where `start` stands: both recomputed by the server, never the
//!   model's.

pub mod answer;

use chrono::{DateTime, Utc};

use crate::error::{DomainError, DomainResult};
use crate::ids::{ChatMessageId, ChatSessionId, DocumentId, ProjectId, UserId};
use crate::llm::model::ModelId;

/// Most characters of a question.
pub const MAX_QUESTION_CHARS: usize = 2000;
/// Most characters of a session's title (the first question, cut).
pub const MAX_TITLE_CHARS: usize = 80;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatRole {
    User,
    Assistant,
}

impl ChatRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Assistant => "ASSISTANT",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "USER" => Ok(Self::User),
            "ASSISTANT" => Ok(Self::Assistant),
            other => Err(DomainError::internal(format!("unknown chat role {other:?} in storage"))),
        }
    }
}

/// A line an answer rests on: where in which document, and the words there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    pub document_id: DocumentId,
    /// The line of `start`, 1-based.
    pub line_number: u32,
    /// Code points `[start, end)` of the document's content.
    pub start: u32,
    pub end: u32,
    /// The content at `[start, end)`.
    pub quote: String,
}

/// One user's conversation with one project's texts.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatSession {
    pub id: ChatSessionId,
    pub project_id: ProjectId,
    pub user_id: UserId,
    /// The first question, cut to [`MAX_TITLE_CHARS`].
    pub title: String,
    pub created_at: DateTime<Utc>,
    /// When its last message was written (what retention reads).
    pub updated_at: DateTime<Utc>,
}

/// A question or an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub id: ChatMessageId,
    pub session_id: ChatSessionId,
    /// Its place in the session, from 0.
    pub position: u32,
    pub role: ChatRole,
    pub content: String,
    /// The verified citations (answers only).
    pub citations: Vec<Citation>,
    /// Citations the model gave that were not in the text (or named no passage shown).
    pub dropped_citations: u32,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cost: f64,
    /// The model that answered (answers only; None once the model is deleted).
    pub llm_model_id: Option<ModelId>,
    pub model_name: Option<String>,
    /// How long the model took, retries included (answers only).
    pub latency_ms: u32,
    pub created_at: DateTime<Utc>,
}

/// A question, checked: trimmed, not blank, at most [`MAX_QUESTION_CHARS`] characters.
pub fn question(raw: &str) -> DomainResult<String> {
    let q = raw.trim();
    if q.is_empty() {
        return Err(DomainError::invalid("question", "must not be blank"));
    }
    if q.chars().count() > MAX_QUESTION_CHARS {
        return Err(DomainError::invalid("question", format!("at most {MAX_QUESTION_CHARS} characters")));
    }
    Ok(q.to_owned())
}

/// A session's title from its first question.
pub fn title_of(question: &str) -> String {
    let mut title: String = question.chars().take(MAX_TITLE_CHARS).collect();
    if title.chars().count() < question.chars().count() {
        title.push('…');
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_trimmed_and_bounded() {
        assert_eq!(question("  کربلا میں کون تھا؟ \n").unwrap(), "کربلا میں کون تھا؟");
        assert!(matches!(question(" \n "), Err(DomainError::Invalid { .. })));
        assert!(question(&"ز".repeat(MAX_QUESTION_CHARS)).is_ok());
        assert!(matches!(question(&"ز".repeat(MAX_QUESTION_CHARS + 1)), Err(DomainError::Invalid { .. })));
    }

    #[test]
    fn titles_are_cut_on_characters() {
        assert_eq!(title_of("کون؟"), "کون؟");
        let long = "ز".repeat(200);
        assert_eq!(title_of(&long), format!("{}…", "ز".repeat(MAX_TITLE_CHARS)));
    }

    #[test]
    fn roles_round_trip() {
        for r in [ChatRole::User, ChatRole::Assistant] {
            assert_eq!(ChatRole::parse(r.as_str()).unwrap(), r);
        }
        assert!(ChatRole::parse("SYSTEM").is_err());
    }
}
