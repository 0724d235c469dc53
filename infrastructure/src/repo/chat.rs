//! Chat sessions and messages. A question and its answer are appended in one write
//! transaction with the audit row: the session's row is updated first (on PostgreSQL that
//! locks it, so two questions of one session are numbered one after the other), then the
//! messages take the next two positions of the session.

use chrono::{DateTime, Utc};
use nishan_domain::audit::AuditEntry;
use nishan_domain::chat::{ChatMessage, ChatRole, ChatSession, Citation};
use nishan_domain::ids::{ChatMessageId, ChatSessionId, DocumentId, ProjectId, UserId};
use nishan_domain::ports::{ChatRepository, Page, PageRequest};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::Order;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Store, audit, conflict_or_internal, internal, page_of};
use crate::entity::{chat_message, chat_session};

fn session_of(m: chat_session::Model) -> ChatSession {
    ChatSession {
        id: ChatSessionId(m.id),
        project_id: ProjectId(m.project_id),
        user_id: UserId(m.user_id),
        title: m.title,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn citations_json(citations: &[Citation]) -> Value {
    Value::Array(
        citations
            .iter()
            .map(|c| {
                json!({
                    "documentId": c.document_id.0,
                    "lineNumber": c.line_number,
                    "start": c.start,
                    "end": c.end,
                    "quote": c.quote,
                })
            })
            .collect(),
    )
}

fn citations_of(v: &Value) -> DomainResult<Vec<Citation>> {
    let bad = || DomainError::internal("a stored citation is malformed");
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|c| {
            let n = |k: &str| c.get(k).and_then(Value::as_u64).map(|x| x as u32).ok_or_else(bad);
            Ok(Citation {
                document_id: DocumentId(
                    c.get("documentId").and_then(Value::as_str).and_then(|s| s.parse().ok()).ok_or_else(bad)?,
                ),
                line_number: n("lineNumber")?,
                start: n("start")?,
                end: n("end")?,
                quote: c.get("quote").and_then(Value::as_str).ok_or_else(bad)?.to_owned(),
            })
        })
        .collect()
}

fn message_of(m: chat_message::Model) -> DomainResult<ChatMessage> {
    Ok(ChatMessage {
        id: ChatMessageId(m.id),
        session_id: ChatSessionId(m.session_id),
        position: m.position as u32,
        role: ChatRole::parse(&m.role)?,
        citations: citations_of(&m.citations)?,
        content: m.content,
        dropped_citations: m.dropped_citations as u32,
        prompt_tokens: m.prompt_tokens as u32,
        completion_tokens: m.completion_tokens as u32,
        cost: m.cost,
        llm_model_id: m.llm_model_id,
        model_name: m.model_name,
        latency_ms: m.latency_ms as u32,
        created_at: m.created_at,
    })
}

async fn insert_message(conn: &impl ConnectionTrait, m: &ChatMessage, position: u32) -> DomainResult<()> {
    chat_message::ActiveModel {
        id: Set(m.id.0),
        session_id: Set(m.session_id.0),
        position: Set(position as i32),
        role: Set(m.role.as_str().to_owned()),
        content: Set(m.content.clone()),
        citations: Set(citations_json(&m.citations)),
        dropped_citations: Set(m.dropped_citations as i32),
        prompt_tokens: Set(m.prompt_tokens as i32),
        completion_tokens: Set(m.completion_tokens as i32),
        cost: Set(m.cost),
        llm_model_id: Set(m.llm_model_id),
        model_name: Set(m.model_name.clone()),
        latency_ms: Set(m.latency_ms as i32),
        created_at: Set(m.created_at),
    }
    .insert(conn)
    .await
    .map_err(|e| conflict_or_internal(e, "another question of this session was written at the same time"))?;
    Ok(())
}

impl ChatRepository for Store {
    async fn append_exchange(
        &self,
        session: ChatSession,
        new_session: bool,
        question: ChatMessage,
        answer: ChatMessage,
        audit_entry: AuditEntry,
    ) -> DomainResult<ChatSession> {
        let txn = self.write().await?;
        if new_session {
            chat_session::ActiveModel {
                id: Set(session.id.0),
                project_id: Set(session.project_id.0),
                user_id: Set(session.user_id.0),
                title: Set(session.title.clone()),
                created_at: Set(session.created_at),
                updated_at: Set(session.updated_at),
            }
            .insert(&txn)
            .await
            .map_err(internal)?;
        } else {
            let updated = chat_session::Entity::update_many()
                .col_expr(chat_session::Column::UpdatedAt, sea_orm::sea_query::Expr::value(session.updated_at))
                .filter(chat_session::Column::Id.eq(session.id.0))
                .exec(&txn)
                .await
                .map_err(internal)?;
            if updated.rows_affected == 0 {
                return Err(DomainError::NotFound { resource: "chat session" });
            }
        }
        let next = chat_message::Entity::find()
            .filter(chat_message::Column::SessionId.eq(session.id.0))
            .count(&txn)
            .await
            .map_err(internal)? as u32;
        insert_message(&txn, &question, next).await?;
        insert_message(&txn, &answer, next + 1).await?;
        audit::insert(&txn, audit_entry).await?;
        let stored = chat_session::Entity::find_by_id(session.id.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or_else(|| DomainError::internal("chat session vanished"))?;
        txn.commit().await.map_err(internal)?;
        Ok(session_of(stored))
    }

    async fn chat_session(&self, id: ChatSessionId) -> DomainResult<Option<ChatSession>> {
        let row = chat_session::Entity::find_by_id(id.0).one(self.connection()).await.map_err(internal)?;
        Ok(row.map(session_of))
    }

    async fn chat_sessions(
        &self,
        user: UserId,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<ChatSession>> {
        let q = chat_session::Entity::find()
            .filter(chat_session::Column::UserId.eq(user.0))
            .filter(chat_session::Column::ProjectId.eq(project.0));
        let order = [(chat_session::Column::UpdatedAt, Order::Desc), (chat_session::Column::Id, Order::Desc)];
        let (rows, total) = page_of(self.connection(), q, &order, page).await?;
        Ok(Page { items: rows.into_iter().map(session_of).collect(), total })
    }

    async fn chat_messages(&self, session: ChatSessionId) -> DomainResult<Vec<ChatMessage>> {
        chat_message::Entity::find()
            .filter(chat_message::Column::SessionId.eq(session.0))
            .order_by_asc(chat_message::Column::Position)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(message_of)
            .collect()
    }

    async fn chat_message(&self, id: ChatMessageId) -> DomainResult<Option<ChatMessage>> {
        chat_message::Entity::find_by_id(id.0)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(message_of)
            .transpose()
    }

    async fn delete_chat_session(&self, id: ChatSessionId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        // The messages first: SQLite enforces the cascade only with foreign keys on.
        chat_message::Entity::delete_many()
            .filter(chat_message::Column::SessionId.eq(id.0))
            .exec(&txn)
            .await
            .map_err(internal)?;
        let deleted = chat_session::Entity::delete_by_id(id.0).exec(&txn).await.map_err(internal)?;
        if deleted.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "chat session" });
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn delete_chat_sessions_before(&self, before: DateTime<Utc>) -> DomainResult<u64> {
        let txn = self.write().await?;
        let old: Vec<Uuid> = chat_session::Entity::find()
            .select_only()
            .column(chat_session::Column::Id)
            .filter(chat_session::Column::UpdatedAt.lt(before))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(internal)?;
        let mut removed = 0;
        for ids in old.chunks(500) {
            chat_message::Entity::delete_many()
                .filter(chat_message::Column::SessionId.is_in(ids.iter().copied()))
                .exec(&txn)
                .await
                .map_err(internal)?;
            removed += chat_session::Entity::delete_many()
                .filter(chat_session::Column::Id.is_in(ids.iter().copied()))
                .exec(&txn)
                .await
                .map_err(internal)?
                .rows_affected;
        }
        txn.commit().await.map_err(internal)?;
        Ok(removed)
    }
}
