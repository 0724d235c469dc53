//! Chat sessions, their messages and citations, as clients see them.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use nishan_domain::chat::{
    ChatMessage as DomainMessage, ChatRole, ChatSession as DomainSession, Citation as DomainCitation,
};
use nishan_domain::ports::{DocumentRepository, ProjectRepository};

use super::{Document, Project};
use crate::error::ApiResult;
use crate::graphql::loaders::{DocumentLoader, Loaded, ProjectLoader};
use crate::graphql::{request, state};

/// Who wrote a message.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ChatRole", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlChatRole {
    User,
    Assistant,
}

impl From<ChatRole> for GqlChatRole {
    fn from(r: ChatRole) -> Self {
        match r {
            ChatRole::User => Self::User,
            ChatRole::Assistant => Self::Assistant,
        }
    }
}

/// One user's conversation with one project's texts; private to that user.
pub struct ChatSession(pub DomainSession);

#[Object]
impl ChatSession {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The first question, cut to 80 characters.
    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn project(&self, ctx: &Context<'_>) -> ApiResult<Option<Project>> {
        match ctx.data_opt::<Loaded<ProjectLoader>>() {
            Some(loader) => Ok(loader.load_one(self.0.project_id).await?.map(Project)),
            // Subscriptions carry no loaders.
            None => Ok(state(ctx).store.project_by_id(self.0.project_id).await?.map(Project)),
        }
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When its last message was written (retention counts from it).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Its questions and answers in order.
    #[graphql(complexity = "100 * child_complexity")]
    async fn messages(&self, ctx: &Context<'_>) -> ApiResult<Vec<ChatMessage>> {
        let actor = request(ctx).viewer.require()?;
        Ok(state(ctx).chat().messages(&actor, self.0.id).await?.into_iter().map(ChatMessage).collect())
    }
}

/// A question (USER) or its answer (ASSISTANT).
pub struct ChatMessage(pub DomainMessage);

#[Object]
impl ChatMessage {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn role(&self) -> GqlChatRole {
        self.0.role.into()
    }

    async fn content(&self) -> &str {
        &self.0.content
    }

    /// Its session (only its owner reads it).
    async fn session(&self, ctx: &Context<'_>) -> ApiResult<ChatSession> {
        let actor = request(ctx).viewer.require()?;
        Ok(ChatSession(state(ctx).chat().session(&actor, self.0.session_id).await?))
    }

    /// Its place in the session, from 0.
    async fn position(&self) -> u32 {
        self.0.position
    }

    /// The lines the answer rests on, each checked against the text: its quote is the
    /// document's content at `[start, end)`.
    async fn citations(&self) -> Vec<Citation> {
        self.0.citations.iter().cloned().map(Citation).collect()
    }

    /// Citations the model gave that were not in the text (or named no passage it was shown).
    async fn dropped_citations(&self) -> u32 {
        self.0.dropped_citations
    }

    async fn prompt_tokens(&self) -> u32 {
        self.0.prompt_tokens
    }

    async fn completion_tokens(&self) -> u32 {
        self.0.completion_tokens
    }

    /// Of every call made for the answer (retries and repairs included).
    async fn cost(&self) -> f64 {
        self.0.cost
    }

    /// The model that answered (answers only).
    async fn llm_model_id(&self) -> Option<ID> {
        self.0.llm_model_id.map(|m| ID(m.to_string()))
    }

    /// The model's name when it answered (answers only).
    async fn model_name(&self) -> Option<&str> {
        self.0.model_name.as_deref()
    }

    /// How long the model took, retries included (answers only; 0 for questions).
    async fn latency_ms(&self) -> u32 {
        self.0.latency_ms
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A cited line: code points `[start, end)` of the document's content.
pub struct Citation(pub DomainCitation);

#[Object]
impl Citation {
    /// Null once the document is deleted.
    async fn document(&self, ctx: &Context<'_>) -> ApiResult<Option<Document>> {
        match ctx.data_opt::<Loaded<DocumentLoader>>() {
            Some(loader) => Ok(loader.load_one(self.0.document_id).await?.map(Document)),
            // Subscriptions carry no loaders.
            None => Ok(state(ctx).store.document_infos_by_ids(&[self.0.document_id]).await?.pop().map(Document::info)),
        }
    }

    /// The line of `start`, 1-based.
    async fn line_number(&self) -> u32 {
        self.0.line_number
    }

    async fn start(&self) -> u32 {
        self.0.start
    }

    async fn end(&self) -> u32 {
        self.0.end
    }

    /// The document's content at `[start, end)`.
    async fn quote(&self) -> &str {
        &self.0.quote
    }
}
