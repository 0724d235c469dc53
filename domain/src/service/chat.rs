//! Asking a project's texts: `ask` retrieves the passages that hold the question's words (the
//! lexical search, any word matching, BM25), asks the chosen model (the default one when none
//! is named) to answer from them and cite, checks every citation against the text
//! (`chat::answer`), and writes the question and the answer into the session in one
//! transaction with its audit row. Whoever may read a project may ask it (signed in: a
//! session belongs to its user); a session of someone else, or of a project the caller can no
//! longer read, is NOT_FOUND.
//!
//! Model calls are made as a job makes them: within the model's rate limits (refused with
//! RATE_LIMITED when a window is full), retried with backoff on transient failures
//! (`llm::retry`), one repair request after a malformed answer, every attempt recorded
//! (tokens, cost, latency; usage accounting reads them). A call that finally fails is a
//! `ModelFailed` error and nothing is written. The built-in model answers offline with the
//! best passages, each cited.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::chat::answer::{
    AnswerError, AnswerStream, RawAnswer, Source, StreamEvent, answer_request, builtin_answer, parse_answer,
    repair_request, verify_citations,
};
use crate::chat::{ChatMessage, ChatRole, ChatSession, question, title_of};
use crate::error::{DomainError, DomainResult};
use crate::ids::{ChatMessageId, ChatSessionId, DocumentId, ProjectId};
use crate::llm::model::{LlmModel, ModelId, Reservation};
use crate::llm::retry::RetryPolicy;
use crate::llm::{Completion, CompletionRequest, LlmClient, LlmError, ModelEndpoint, Provider};
use crate::policy::Actor;
use crate::ports::{
    ChatRepository, Clock, DocumentRepository, ModelCall, ModelRepository, Page, PageRequest, ProjectRepository,
    SearchFilter, SearchRepository, SecretCipher,
};
use crate::search::{Matching, SearchQuery};
use crate::service::embeddings::QueryEmbedder;
use crate::service::models::model_endpoint;
use crate::service::projects::{ProjectRef, Projects};
use crate::service::search::Search;
use crate::text::DocumentText;

/// Passages shown to a model with a question.
pub const PASSAGES_PER_QUESTION: usize = 8;
/// Most tokens asked of a model for one answer (less when the model's own limit is lower).
pub const MAX_ANSWER_TOKENS: u32 = 2048;

/// A question as a client asks it.
#[derive(Debug, Clone)]
pub struct AskRequest {
    pub project: ProjectId,
    pub question: String,
    /// The session to go on with; a new one when None.
    pub session: Option<ChatSessionId>,
    /// The model to ask; the default model when None.
    pub model: Option<ModelId>,
}

pub struct Chat<'a, S, L, K, C> {
    pub store: &'a S,
    pub llm: &'a L,
    pub cipher: &'a K,
    pub clock: &'a C,
    pub retry: RetryPolicy,
}

/// An answer followed as it is written: its id, chosen before it is asked (so that a follower
/// may wait for it first), and where its text goes.
#[derive(Clone, Copy)]
pub struct Follow<'s> {
    pub id: ChatMessageId,
    pub sink: &'s (dyn Fn(StreamEvent) + Send + Sync),
}

/// A number in `[0, 1)` for retry jitter.
fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

/// What asking the model came to: its answer and the sums of every attempt.
struct Answered {
    raw: RawAnswer,
    prompt_tokens: u32,
    completion_tokens: u32,
    cost: f64,
}

impl<S, L, K, C> Chat<'_, S, L, K, C>
where
    S: ChatRepository
        + ProjectRepository
        + SearchRepository
        + ModelRepository
        + DocumentRepository
        + crate::ports::EmbeddingRepository
        + Sync,
    L: LlmClient + crate::llm::embed::EmbeddingClient,
    K: SecretCipher + Sync,
    C: Clock,
{
    /// Asks a question (see the module docs); returns the answer.
    pub async fn ask(&self, meta: &RequestMeta, actor: &Actor, request: AskRequest) -> DomainResult<ChatMessage> {
        self.ask_followed(meta, actor, request, None).await
    }

    /// [`ask`](Self::ask), the answer's text given to `follow` as the model writes it (the
    /// built-in model gives its lines one by one), and the answer stored under `follow.id`.
    pub async fn ask_followed(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        request: AskRequest,
        follow: Option<Follow<'_>>,
    ) -> DomainResult<ChatMessage> {
        let question = question(&request.question)?;
        self.readable(actor, request.project).await?;
        if let Some(f) = follow
            && self.store.chat_message(f.id).await?.is_some()
        {
            return Err(DomainError::conflict("messageId is taken"));
        }
        let now = self.clock.now();
        let (session, new_session, history) = match request.session {
            Some(id) => {
                let session = self.own_session(actor, id).await?;
                if session.project_id != request.project {
                    return Err(DomainError::NotFound { resource: "chat session" });
                }
                let history = self.store.chat_messages(id).await?;
                (session, false, history)
            }
            None => {
                let session = ChatSession {
                    id: ChatSessionId::new(),
                    project_id: request.project,
                    user_id: actor.user_id,
                    title: title_of(&question),
                    created_at: now,
                    updated_at: now,
                };
                (session, true, Vec::new())
            }
        };
        let model = self.model(request.model).await?;
        let sources = self.retrieve(actor, request.project, &question, &history).await?;
        let started = self.clock.now();
        let answered = if model.provider == Provider::Builtin {
            let raw = builtin_answer(&sources);
            if let Some(f) = follow {
                for line in raw.answer.split_inclusive('\n') {
                    (f.sink)(StreamEvent::Text(line.to_owned()));
                }
            }
            Answered { raw, prompt_tokens: 0, completion_tokens: 0, cost: 0.0 }
        } else {
            let turns: Vec<(ChatRole, String)> = history.iter().map(|m| (m.role, m.content.clone())).collect();
            let ask = answer_request(
                &turns,
                &sources,
                &question,
                model.max_tokens.min(MAX_ANSWER_TOKENS),
                model.temperature as f32,
            );
            self.answer_from_model(actor, request.project, &model, &ask, follow).await?
        };
        let latency_ms = (self.clock.now() - started).num_milliseconds().max(0) as u32;
        let texts = self.texts_of(&sources).await?;
        let (citations, dropped) =
            verify_citations(&answered.raw.citations, answered.raw.malformed_citations, &sources, &texts);
        let at = self.clock.now();
        let asked = ChatMessage {
            id: ChatMessageId::new(),
            session_id: session.id,
            position: 0,
            role: ChatRole::User,
            content: question,
            citations: Vec::new(),
            dropped_citations: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost: 0.0,
            llm_model_id: None,
            model_name: None,
            latency_ms: 0,
            created_at: now,
        };
        let answer = ChatMessage {
            id: follow.map_or_else(ChatMessageId::new, |f| f.id),
            session_id: session.id,
            position: 0,
            role: ChatRole::Assistant,
            content: answered.raw.answer,
            citations,
            dropped_citations: dropped,
            prompt_tokens: answered.prompt_tokens,
            completion_tokens: answered.completion_tokens,
            cost: answered.cost,
            llm_model_id: Some(model.id),
            model_name: Some(model.name.clone()),
            latency_ms,
            created_at: at,
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "chat.ask", "chat_session")
            .resource(session.id, &session.title)
            .project(request.project)
            .changes(json!({
                "message": answer.id.to_string(),
                "model": model.name,
                "citations": answer.citations.len(),
                "droppedCitations": dropped,
            }));
        let answer_id = answer.id;
        let session = ChatSession { updated_at: at, ..session };
        self.store.append_exchange(session, new_session, asked, answer, audit).await?;
        self.store.chat_message(answer_id).await?.ok_or_else(|| DomainError::internal("the answer vanished"))
    }

    /// The caller's sessions of a project, the most recently used first.
    pub async fn sessions(
        &self,
        actor: &Actor,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<ChatSession>> {
        self.readable(actor, project).await?;
        self.store.chat_sessions(actor.user_id, project, page).await
    }

    /// One of the caller's sessions (NOT_FOUND for anyone else's, or once its project cannot
    /// be read).
    pub async fn session(&self, actor: &Actor, id: ChatSessionId) -> DomainResult<ChatSession> {
        let session = self.own_session(actor, id).await?;
        self.readable(actor, session.project_id).await?;
        Ok(session)
    }

    /// A session's messages, for the caller who owns it.
    pub async fn messages(&self, actor: &Actor, id: ChatSessionId) -> DomainResult<Vec<ChatMessage>> {
        self.own_session(actor, id).await?;
        self.store.chat_messages(id).await
    }

    /// Deletes one of the caller's sessions with its messages.
    pub async fn delete_session(&self, meta: &RequestMeta, actor: &Actor, id: ChatSessionId) -> DomainResult<()> {
        let session = self.session(actor, id).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "chat.delete_session", "chat_session")
            .resource(id, &session.title)
            .project(session.project_id);
        self.store.delete_chat_session(id, audit).await
    }

    async fn readable(&self, actor: &Actor, project: ProjectId) -> DomainResult<()> {
        Projects { store: self.store, events: &crate::events::NoEvents }
            .find(Some(actor), ProjectRef::Id(project))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })
            .map(|_| ())
    }

    async fn own_session(&self, actor: &Actor, id: ChatSessionId) -> DomainResult<ChatSession> {
        match self.store.chat_session(id).await? {
            Some(s) if s.user_id == actor.user_id => Ok(s),
            _ => Err(DomainError::NotFound { resource: "chat session" }),
        }
    }

    /// The model asked: the one named (active), or the default.
    async fn model(&self, id: Option<ModelId>) -> DomainResult<LlmModel> {
        match id {
            Some(id) => match self.store.model_by_id(id).await? {
                Some(m) if m.is_active => Ok(m),
                Some(_) => Err(DomainError::invalid("llmModelId", "the model is not active")),
                None => Err(DomainError::NotFound { resource: "model" }),
            },
            None => self
                .store
                .default_model()
                .await?
                .ok_or_else(|| DomainError::invalid("llmModelId", "no default model: name one")),
        }
    }

    /// The best passages for the question; for a follow-up whose words are in no passage,
    /// those of the session's previous question.
    /// With the project's embeddings, the retrieval is hybrid (as `search`).
    async fn retrieve(
        &self,
        actor: &Actor,
        project: ProjectId,
        question: &str,
        history: &[ChatMessage],
    ) -> DomainResult<Vec<Source>> {
        let embedder = QueryEmbedder::new(self.store, self.llm, self.cipher, Some(actor.user_id));
        let search = Search { store: self.store, semantic: Some(&embedder) };
        let filter = SearchFilter::default();
        let mut queries = vec![question.to_owned()];
        if let Some(previous) = history.iter().rev().find(|m| m.role == ChatRole::User) {
            queries.push(previous.content.clone());
        }
        let mut ranked = Vec::new();
        for (i, q) in queries.iter().enumerate() {
            let query = match SearchQuery::any_words_of(q) {
                Ok(query) => query,
                // A question without a word is refused; an earlier one without a word is skipped.
                Err(e) if i == 0 && history.is_empty() => return Err(e),
                Err(_) => continue,
            };
            ranked = search.hybrid(project, q, &query, Matching::Any, &filter).await?;
            if !ranked.is_empty() {
                break;
            }
        }
        ranked.truncate(PASSAGES_PER_QUESTION);
        let ids: Vec<_> = ranked.iter().map(|r| r.candidate.passage).collect();
        let mut texts = self.store.passage_texts(&ids).await?;
        Ok(ranked
            .into_iter()
            .filter_map(|r| {
                let c = r.candidate;
                Some(Source {
                    text: texts.remove(&c.passage)?,
                    document_id: c.document_id,
                    title: c.document_title,
                    line_number: c.line_number,
                    start: c.start,
                    end: c.end,
                })
            })
            .collect())
    }

    /// The current texts of the sources' documents.
    async fn texts_of(&self, sources: &[Source]) -> DomainResult<HashMap<DocumentId, Arc<DocumentText>>> {
        let mut texts = HashMap::new();
        for s in sources {
            if texts.contains_key(&s.document_id) {
                continue;
            }
            if let Some(head) = self.store.document_head(s.document_id).await? {
                texts.insert(s.document_id, self.store.document_text(&head).await?);
            }
        }
        Ok(texts)
    }

    /// Asks a model: within its rate limits, retried, repaired once, every attempt recorded.
    async fn answer_from_model(
        &self,
        actor: &Actor,
        project: ProjectId,
        model: &LlmModel,
        request: &CompletionRequest,
        follow: Option<Follow<'_>>,
    ) -> DomainResult<Answered> {
        let key = match self.store.encrypted_key(model.id).await? {
            Some(sealed) => Some(self.cipher.decrypt(&sealed)?),
            None => None,
        };
        let endpoint = model_endpoint(model, key);
        let mut sums = Answered {
            raw: RawAnswer { answer: String::new(), citations: Vec::new(), malformed_citations: 0 },
            prompt_tokens: 0,
            completion_tokens: 0,
            cost: 0.0,
        };
        let first = self.call(actor, project, model, &endpoint, request, &mut sums, follow).await?;
        let raw = match parse_answer(&first.text) {
            Ok(raw) => raw,
            Err(error) => {
                let repair = repair_request(request, &first.text, &error);
                if let Some(f) = follow {
                    (f.sink)(StreamEvent::Restart);
                }
                let again = self.call(actor, project, model, &endpoint, &repair, &mut sums, follow).await?;
                parse_answer(&again.text).map_err(|e: AnswerError| {
                    DomainError::ModelFailed(format!("the model's answer was not usable after a repair request: {e}"))
                })?
            }
        };
        sums.raw = raw;
        Ok(sums)
    }

    /// One request, retried per the policy, each attempt recorded and added to `sums`.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        actor: &Actor,
        project: ProjectId,
        model: &LlmModel,
        endpoint: &ModelEndpoint,
        request: &CompletionRequest,
        sums: &mut Answered,
        follow: Option<Follow<'_>>,
    ) -> DomainResult<Completion> {
        let mut attempt = 1;
        loop {
            self.reserve(model).await?;
            let started = self.clock.now();
            let outcome = match follow {
                None => self.llm.complete(endpoint, request).await,
                Some(f) => {
                    if attempt > 1 {
                        (f.sink)(StreamEvent::Restart);
                    }
                    let reader = std::sync::Mutex::new(AnswerStream::default());
                    let on_text = |piece: &str| {
                        let text = reader.lock().map(|mut r| r.push(piece)).unwrap_or_default();
                        if !text.is_empty() {
                            (f.sink)(StreamEvent::Text(text));
                        }
                    };
                    self.llm.stream(endpoint, request, &on_text).await
                }
            };
            let at: DateTime<Utc> = self.clock.now();
            let (prompt, completion) = outcome.as_ref().map_or((0, 0), |c| (c.prompt_tokens, c.completion_tokens));
            let cost = model.cost(prompt, completion);
            sums.prompt_tokens += prompt;
            sums.completion_tokens += completion;
            sums.cost += cost;
            self.store
                .record_call(ModelCall {
                    job_id: None,
                    llm_model_id: model.id,
                    project_id: Some(project),
                    user_id: Some(actor.user_id),
                    chunk_index: None,
                    attempt,
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                    cost,
                    latency_ms: (at - started).num_milliseconds().max(0) as u32,
                    error: outcome.as_ref().err().map(ToString::to_string),
                    at,
                })
                .await?;
            match outcome {
                Ok(c) => return Ok(c),
                Err(e) => match self.retry.delay(attempt, &e, jitter()) {
                    Some(wait) => {
                        self.clock.sleep(wait).await;
                        attempt += 1;
                    }
                    None => return Err(model_failed(&e)),
                },
            }
        }
    }

    /// Takes a call from the model's rate limits, or refuses with RATE_LIMITED.
    async fn reserve(&self, model: &LlmModel) -> DomainResult<()> {
        let windows = model.call_windows();
        if windows.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        match self.store.reserve_call(model.id, &windows, now).await? {
            Reservation::Granted => Ok(()),
            Reservation::WaitUntil(until) => Err(crate::llm::model::rate_limited(until, self.clock.now())),
        }
    }
}

fn model_failed(e: &LlmError) -> DomainError {
    DomainError::ModelFailed(format!("the model did not answer: {e}"))
}
