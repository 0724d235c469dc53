//! `chatMessage`: an answer as the model writes it (`text` pieces, `restart` when the model is
//! asked again), ending with the stored answer and its verified citations (`message`), or an
//! error (INTERNAL with `reason` MODEL_FAILED, ...). The follower subscribes with the id it
//! then asks under (`askProject(input: {messageId})`): the first event, empty, says it is
//! following, so a client asks once it has it; an answer already stored is sent at once after
//! it. Only the user who asks follows (NOT_FOUND for anyone else); a follower waits at most
//! [`WAIT`] for an answer that does not come.

use std::time::Duration;

use async_graphql::{Context, ID, SimpleObject, Subscription};
use futures_util::stream::{self, Stream};
use nishan_domain::DomainError;
use nishan_domain::ids::{ChatMessageId, UserId};
use nishan_domain::ports::ChatRepository;
use tokio::sync::broadcast;

use super::follow::api;
use crate::chat_streams::Streamed;
use crate::graphql::types::{ChatMessage, parse_id};
use crate::graphql::{request, state};
use crate::state::AppState;

/// The longest a follower waits between two events.
pub const WAIT: Duration = Duration::from_secs(300);

/// One event of an answer being written.
#[derive(SimpleObject)]
pub struct ChatMessageEvent {
    /// More of the answer's text (empty in the last event).
    text: String,
    /// The text so far is void: the model is being asked again (a retry or a repair).
    restart: bool,
    /// The stored answer with its verified citations, in the last event only.
    message: Option<ChatMessage>,
}

#[derive(Default)]
pub struct ChatSubscription;

struct Following {
    app: AppState,
    id: ChatMessageId,
    rx: broadcast::Receiver<Streamed>,
    /// An answer already stored: sent, and the stream ends.
    stored: Option<nishan_domain::chat::ChatMessage>,
    /// The opening event (empty: "following") was sent.
    opened: bool,
    done: bool,
}

impl Drop for Following {
    fn drop(&mut self) {
        // The receiver goes with self; release sees it gone only after, so drop it first.
        let (tx, _) = broadcast::channel(1);
        drop(std::mem::replace(&mut self.rx, tx.subscribe()));
        self.app.chat_streams.release(self.id);
    }
}

fn last(message: nishan_domain::chat::ChatMessage) -> ChatMessageEvent {
    ChatMessageEvent { text: String::new(), restart: false, message: Some(ChatMessage(message)) }
}

#[Subscription]
impl ChatSubscription {
    /// The answer stored (or to be stored) under `messageId`, as it is written (see the module
    /// docs). Signed in only.
    async fn chat_message(
        &self,
        ctx: &Context<'_>,
        message_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ChatMessageEvent>> + use<>> {
        let id = ChatMessageId(parse_id(&message_id, "messageId").map_err(api)?);
        let app = state(ctx).clone();
        let actor = request(ctx).viewer.require().map_err(api)?;
        let user: UserId = actor.user_id;
        // Follow before reading the store, so that an answer stored in between is not missed.
        let rx =
            app.chat_streams.follow(id, user).ok_or_else(|| api(DomainError::NotFound { resource: "chat message" }))?;
        let stored = app.store.chat_message(id).await.map_err(api)?;
        // From here the follower is released when it ends (refused included).
        let following = Following { app: app.clone(), id, rx, stored, opened: false, done: false };
        if let Some(message) = &following.stored
            && app.chat().session(&actor, message.session_id).await.is_err()
        {
            return Err(api(DomainError::NotFound { resource: "chat message" }));
        }
        let events = stream::unfold(following, |mut f| async move {
            if f.done {
                return None;
            }
            if !f.opened {
                f.opened = true;
                return Some((Ok(ChatMessageEvent { text: String::new(), restart: false, message: None }), f));
            }
            if let Some(message) = f.stored.take() {
                f.done = true;
                return Some((Ok(last(message)), f));
            }
            loop {
                let event = match tokio::time::timeout(WAIT, f.rx.recv()).await {
                    Err(_) => {
                        f.done = true;
                        return Some((Err(api(DomainError::NotFound { resource: "chat message" })), f));
                    }
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                    Ok(Ok(event)) => event,
                };
                let item = match event {
                    Streamed::Text(text) => Ok(ChatMessageEvent { text, restart: false, message: None }),
                    Streamed::Restart => Ok(ChatMessageEvent { text: String::new(), restart: true, message: None }),
                    Streamed::Done(message) => {
                        f.done = true;
                        Ok(last(*message))
                    }
                    Streamed::Failed(e) => {
                        f.done = true;
                        Err(api(e))
                    }
                };
                return Some((item, f));
            }
        });
        Ok(events)
    }
}
