//! Asking a project's texts questions, and forgetting the conversations.

use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::DomainError;
use nishan_domain::chat::answer::StreamEvent;
use nishan_domain::ids::{ChatMessageId, ChatSessionId, ProjectId};
use nishan_domain::service::chat::{AskRequest, Follow};

use crate::chat_streams::Streamed;

use crate::error::ApiResult;
use crate::graphql::types::{ChatMessage, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct AskProjectInput {
    pub project_id: ID,
    /// At most 2,000 characters.
    pub question: String,
    /// The session to go on with (its conversation is sent with the question); a new one when
    /// omitted.
    pub session_id: Option<ID>,
    /// The model to ask; the default model when omitted.
    pub llm_model_id: Option<ID>,
    /// An id for the answer, chosen by the client (a UUID): the answer is streamed to
    /// `subscription chatMessage(messageId)` as the model writes it, and stored under it. A
    /// client subscribes first, then asks. Taken by another answer or user: CONFLICT.
    pub message_id: Option<ID>,
}

#[derive(Default)]
pub struct ChatMutation;

#[Object]
impl ChatMutation {
    /// Asks a project's texts a question: the passages holding its words are retrieved, the
    /// model answers from them and cites them, and every citation is checked against the text
    /// (a quote not in the text is dropped and counted in `droppedCitations`). Returns the
    /// answer; the question and the answer are kept in the session. Whoever may read the
    /// project may ask (signed in).
    async fn ask_project(&self, ctx: &Context<'_>, input: AskProjectInput) -> ApiResult<ChatMessage> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let ask = AskRequest {
            project: ProjectId(parse_id(&input.project_id, "projectId")?),
            question: input.question,
            session: input.session_id.as_ref().map(|s| parse_id(s, "sessionId").map(ChatSessionId)).transpose()?,
            model: input.llm_model_id.as_ref().map(|m| parse_id(m, "llmModelId")).transpose()?,
        };
        let message_id = input.message_id.as_ref().map(|m| parse_id(m, "messageId").map(ChatMessageId)).transpose()?;
        let app = state(ctx).clone();
        let meta = req.meta.clone();
        // In a task of its own: when the client goes away mid-answer, the calls made are still
        // recorded and the answer still kept.
        let asked = tokio::spawn(async move {
            let Some(id) = message_id else { return app.chat().ask(&meta, &actor, ask).await };
            let Some(tx) = app.chat_streams.start(id, actor.user_id) else {
                return Err(DomainError::conflict("messageId is taken"));
            };
            let sink = |event: StreamEvent| {
                let _ = tx.send(match event {
                    StreamEvent::Text(text) => Streamed::Text(text),
                    StreamEvent::Restart => Streamed::Restart,
                });
            };
            let follow = Follow { id, sink: &sink };
            let outcome = app.chat().ask_followed(&meta, &actor, ask, Some(follow)).await;
            let _ = tx.send(match &outcome {
                Ok(message) => Streamed::Done(Box::new(message.clone())),
                Err(e) => Streamed::Failed(e.clone()),
            });
            app.chat_streams.finish(id);
            outcome
        });
        let answer = asked.await.map_err(|e| crate::error::ApiError(crate::error::internal(&e.to_string())))??;
        Ok(ChatMessage(answer))
    }

    /// Deletes one of the caller's sessions with its messages.
    async fn delete_chat_session(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let id = ChatSessionId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).chat().delete_session(&req.meta, &actor, id).await?;
        Ok(true)
    }
}
