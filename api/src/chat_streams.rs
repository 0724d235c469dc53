//! Answers being written, followed by `subscription chatMessage(messageId)`: one broadcast
//! channel per answer id, held by this server (the ask and its followers meet on the replica
//! that runs them). An id belongs to the user who first named it, by following it or asking
//! under it; anyone else is refused. A channel is removed when its answer is done and when its
//! last follower leaves while no answer is being written under it.

use std::collections::HashMap;
use std::sync::Mutex;

use nishan_domain::DomainError;
use nishan_domain::chat::ChatMessage;
use nishan_domain::ids::{ChatMessageId, UserId};
use tokio::sync::broadcast;

/// What a follower of an answer is told.
#[derive(Debug, Clone)]
pub enum Streamed {
    Text(String),
    /// The text so far is void: the model is asked again.
    Restart,
    /// The answer, stored, with its verified citations.
    Done(Box<ChatMessage>),
    Failed(DomainError),
}

struct Entry {
    user: UserId,
    tx: broadcast::Sender<Streamed>,
    asking: bool,
}

/// Events of one answer kept for a follower that is behind.
const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct ChatStreams {
    entries: Mutex<HashMap<ChatMessageId, Entry>>,
}

impl ChatStreams {
    /// A follower's receiver for `id`; None when the id is another user's.
    pub fn follow(&self, id: ChatMessageId, user: UserId) -> Option<broadcast::Receiver<Streamed>> {
        let mut entries = self.entries.lock().expect("chat streams lock");
        let entry =
            entries.entry(id).or_insert_with(|| Entry { user, tx: broadcast::channel(CAPACITY).0, asking: false });
        (entry.user == user).then(|| entry.tx.subscribe())
    }

    /// The sender of an answer about to be written under `id`; None when the id is another
    /// user's or an answer is already being written under it.
    pub fn start(&self, id: ChatMessageId, user: UserId) -> Option<broadcast::Sender<Streamed>> {
        let mut entries = self.entries.lock().expect("chat streams lock");
        let entry =
            entries.entry(id).or_insert_with(|| Entry { user, tx: broadcast::channel(CAPACITY).0, asking: false });
        if entry.user != user || entry.asking {
            return None;
        }
        entry.asking = true;
        Some(entry.tx.clone())
    }

    /// The answer under `id` is done (sent to its followers): the channel goes.
    pub fn finish(&self, id: ChatMessageId) {
        self.entries.lock().expect("chat streams lock").remove(&id);
    }

    /// A follower left: the channel goes if nobody follows it and nothing is written to it.
    pub fn release(&self, id: ChatMessageId) {
        let mut entries = self.entries.lock().expect("chat streams lock");
        if entries.get(&id).is_some_and(|e| !e.asking && e.tx.receiver_count() == 0) {
            entries.remove(&id);
        }
    }
}
