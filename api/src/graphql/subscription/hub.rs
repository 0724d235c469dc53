//! `documentActivity` fan-out over WebSocket: each event is resolved and written as JSON once per
//! group of subscribers that would receive the same bytes, and the bytes are shared.
//!
//! A group is keyed by the document, the operation as sent (its text, operation name, variables
//! and extensions) and what decides which events its subscribers receive (the project's
//! annotation mode, the subscriber's access at subscribe time and who they are). One task per
//! group follows the bus, keeps the events its key may read, renders each through the schema
//! once (a subscription of the same operation fed by the group: [`RenderFeed`]) and broadcasts
//! the JSON. Each subscriber then only checks its own connection's access for each event (a
//! cache lookup), as before: a subscriber who signed out or left the project gets its `error`
//! while the rest of its group goes on. A subscriber that falls behind the group's channel gets
//! a `RESYNC` rendered for it, as one that falls behind the bus does.
//!
//! Groups live while they have subscribers (the hub holds them weakly).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use async_graphql::{PathSegment, Pos, ServerError};
use futures_util::stream::{BoxStream, StreamExt};
use nishan_domain::events::{ActivityEvent, ActivityKind, DomainEvent};
use nishan_domain::ids::{DocumentId, ProjectId, UserId};
use nishan_domain::policy::ProjectAccess;
use nishan_domain::rounds::{AnnotationMode, may_read};
use nishan_infrastructure::events::{Delivery, Subscription as Events};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::access::{ConnectionAccess, Lost};
use crate::auth::Viewer;
use crate::graphql::{NishanSchema, RequestContext};
use crate::ws::protocol::Shared;

/// Rendered events a subscriber may fall behind its group by before it gets a `RESYNC`.
const GROUP_CAPACITY: usize = 256;

/// The groups of this server, by key.
#[derive(Clone, Default)]
pub struct Hub {
    groups: Arc<Mutex<HashMap<Key, Weak<Group>>>>,
    /// Events rendered so far, by every group.
    renders: Arc<std::sync::atomic::AtomicU64>,
}

/// What a WebSocket subscription's request carries so that its resolver can join a group: the
/// hub, the schema (to render with) and the operation as sent.
pub struct ShareWith {
    pub hub: Hub,
    pub schema: NishanSchema,
    pub operation: Operation,
}

/// An operation as its client sent it.
#[derive(Clone)]
pub struct Operation {
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: async_graphql::Variables,
    pub extensions: async_graphql::Extensions,
}

impl Operation {
    /// `None` when it cannot be rendered again from what was sent (a persisted query sent by
    /// its hash alone).
    pub fn of(request: &async_graphql::Request) -> Option<Self> {
        (!request.query.trim().is_empty()).then(|| Self {
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: request.variables.clone(),
            extensions: request.extensions.clone(),
        })
    }

    /// The operation's part of a group's key: equal for operations that render alike.
    fn key(&self) -> String {
        let variables = serde_json::to_string(&self.variables).unwrap_or_default();
        let mut extensions: Vec<_> = self.extensions.0.iter().collect();
        extensions.sort_by(|a, b| a.0.cmp(b.0));
        let extensions = serde_json::to_string(&extensions).unwrap_or_default();
        format!("{:?}\n{}\n{variables}\n{extensions}", self.operation_name, self.query)
    }

    fn request(&self) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(self.query.clone()).variables(self.variables.clone());
        request.operation_name = self.operation_name.clone();
        request.extensions = self.extensions.clone();
        request
    }
}

/// Who receives which events: the project's annotation mode, the subscriber's access to the
/// project and who they are.
pub type Layers = (AnnotationMode, ProjectAccess, Option<UserId>);

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    doc: DocumentId,
    operation: String,
    /// `Layers`, written out (the access has no hash of its own).
    layers: String,
}

/// In a group's render request: the events to render, in order. The `documentActivity`
/// resolver follows it instead of the bus, and checks nothing (each subscriber checks its own
/// access).
pub struct RenderFeed(Mutex<Option<mpsc::UnboundedReceiver<ActivityEvent>>>);

impl RenderFeed {
    pub fn take(&self) -> Option<mpsc::UnboundedReceiver<ActivityEvent>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What a group broadcasts.
enum Item {
    /// An event its key may read, rendered.
    Rendered(Arc<str>),
    /// An event that may change someone's access (each subscriber checks its own).
    Control(Arc<DomainEvent>),
    /// The bus's resync: `payload` is the rendered `RESYNC` when events may be lost.
    Resync { payload: Option<Arc<str>> },
}

struct Group {
    key: Key,
    hub: Weak<Mutex<HashMap<Key, Weak<Group>>>>,
    items: broadcast::Sender<Arc<Item>>,
    /// Renders asked for by one subscriber (a `RESYNC` for one that fell behind).
    renders: mpsc::UnboundedSender<oneshot::Sender<Option<Arc<str>>>>,
    task: tokio::task::AbortHandle,
}

impl Drop for Group {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(hub) = self.hub.upgrade() {
            let mut groups = hub.lock().unwrap_or_else(|e| e.into_inner());
            if groups.get(&self.key).is_some_and(|g| g.strong_count() == 0) {
                groups.remove(&self.key);
            }
        }
    }
}

/// Renders events through the schema: a subscription of the group's operation fed one event at
/// a time.
struct Renderer {
    doc: DocumentId,
    feed: mpsc::UnboundedSender<ActivityEvent>,
    results: BoxStream<'static, async_graphql::Response>,
    /// The hub's count of renders.
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl Renderer {
    fn new(
        schema: &NishanSchema,
        operation: &Operation,
        doc: DocumentId,
        count: Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        let (feed, events) = mpsc::unbounded_channel();
        let mut request = operation.request();
        request.data.insert(RequestContext { viewer: Viewer::Anonymous, meta: Default::default() });
        request.data.insert(RenderFeed(Mutex::new(Some(events))));
        Self { doc, feed, results: schema.execute_stream(request), count }
    }

    /// The event's `payload` as JSON (`None` if the render stream ended, which it does not).
    async fn render(&mut self, event: ActivityEvent) -> Option<Arc<str>> {
        self.feed.send(event).ok()?;
        self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = self.results.next().await?;
        serde_json::to_string(&response).ok().map(Arc::from)
    }

    async fn resync(&mut self) -> Option<Arc<str>> {
        self.render(ActivityEvent::new(self.doc, ActivityKind::Resync, &[], None)).await
    }
}

/// Follows the bus for a group: keeps what its key may read, renders it once, broadcasts it.
async fn run(
    mut events: Events,
    doc: DocumentId,
    layers: Layers,
    mut renderer: Renderer,
    items: broadcast::Sender<Arc<Item>>,
    mut renders: mpsc::UnboundedReceiver<oneshot::Sender<Option<Arc<str>>>>,
) {
    loop {
        tokio::select! {
            delivery = events.next() => {
                let item = match delivery {
                    None => return,
                    Some(Delivery::Event(event)) => match event.as_ref() {
                        DomainEvent::DocumentActivity(a) if a.document_id == doc => {
                            let (mode, access, caller) = &layers;
                            if !may_read(*mode, access, *caller, a.layer()) {
                                continue;
                            }
                            match renderer.render(a.clone()).await {
                                Some(payload) => Item::Rendered(payload),
                                None => continue,
                            }
                        }
                        _ => Item::Control(event),
                    },
                    Some(Delivery::Resync { missed, .. }) => {
                        Item::Resync { payload: if missed { renderer.resync().await } else { None } }
                    }
                };
                let _ = items.send(Arc::new(item));
            }
            Some(reply) = renders.recv() => {
                let _ = reply.send(renderer.resync().await);
            }
        }
    }
}

/// What a subscriber brings to its group.
pub struct Joining {
    pub doc: DocumentId,
    pub project: ProjectId,
    pub layers: Layers,
    pub access: Arc<ConnectionAccess>,
    /// Where the subscription's field stands in its document, for its final error.
    pub field: (Pos, String),
    /// The bus subscription a new group follows (made by the caller, who knows the topics).
    pub events: Box<dyn FnOnce() -> Events + Send>,
}

impl Hub {
    /// The subscriber's results: its group's rendered events, as its access allows.
    pub fn join(&self, share: &ShareWith, joining: Joining) -> BoxStream<'static, Shared> {
        let key = Key { doc: joining.doc, operation: share.operation.key(), layers: format!("{:?}", joining.layers) };
        let group = {
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            match groups.get(&key).and_then(Weak::upgrade) {
                Some(group) => group,
                None => {
                    let (items, _) = broadcast::channel(GROUP_CAPACITY);
                    let (renders, requests) = mpsc::unbounded_channel();
                    let renderer =
                        Renderer::new(&share.schema, &share.operation, joining.doc, Arc::clone(&self.renders));
                    let task = tokio::spawn(run(
                        (joining.events)(),
                        joining.doc,
                        joining.layers,
                        renderer,
                        items.clone(),
                        requests,
                    ));
                    let group = Arc::new(Group {
                        key: key.clone(),
                        hub: Arc::downgrade(&self.groups),
                        items,
                        renders,
                        task: task.abort_handle(),
                    });
                    groups.insert(key, Arc::downgrade(&group));
                    group
                }
            }
        };
        let member = Member {
            items: group.items.subscribe(),
            group,
            access: joining.access,
            project: joining.project,
            field: joining.field,
            done: false,
        };
        futures_util::stream::unfold(member, |mut m| async move {
            let item = m.next().await?;
            Some((item, m))
        })
        .boxed()
    }

    /// Events rendered so far (for tests: one per event and group, whatever the subscribers).
    pub fn renders(&self) -> u64 {
        self.renders.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Subscribers of the groups alive now (for tests).
    pub fn members(&self) -> usize {
        // Dropped after the lock: the last reference to a group takes the lock to remove it.
        let live: Vec<Arc<Group>> =
            self.groups.lock().unwrap_or_else(|e| e.into_inner()).values().filter_map(Weak::upgrade).collect();
        live.iter().map(|g| g.items.receiver_count()).sum()
    }

    /// Groups alive now (for tests).
    pub fn groups(&self) -> usize {
        self.groups.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|g| g.strong_count() > 0).count()
    }
}

/// One subscriber of a group.
struct Member {
    group: Arc<Group>,
    items: broadcast::Receiver<Arc<Item>>,
    access: Arc<ConnectionAccess>,
    project: ProjectId,
    field: (Pos, String),
    done: bool,
}

impl Member {
    async fn next(&mut self) -> Option<Shared> {
        loop {
            if self.done {
                return None;
            }
            let payload = match self.items.recv().await {
                Ok(item) => match item.as_ref() {
                    Item::Rendered(payload) => Some(Arc::clone(payload)),
                    Item::Control(event) => {
                        if !self.access.forget(event, self.project) {
                            continue;
                        }
                        None
                    }
                    Item::Resync { payload } => {
                        self.access.forget_all();
                        payload.clone()
                    }
                },
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Events were skipped: a RESYNC, as after falling behind the bus.
                    self.access.forget_all();
                    let (reply, answer) = oneshot::channel();
                    if self.group.renders.send(reply).is_err() {
                        return None;
                    }
                    answer.await.ok().flatten()
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            // Boxed only when the cache cannot answer: its database queries would otherwise
            // make every idle subscriber's state as large as theirs.
            let verdict = match self.access.cached(self.project) {
                Some(verdict) => Some(verdict),
                None => Box::pin(self.access.check(self.project)).await,
            };
            match verdict {
                Some(Ok(())) => {}
                Some(Err(lost)) => {
                    self.done = true;
                    return Some(Shared::Error(vec![self.error(lost)]));
                }
                None => continue,
            }
            if let Some(payload) = payload {
                return Some(Shared::Next(payload));
            }
        }
    }

    /// The final error, as the subscription's own stream would have ended with it.
    fn error(&self, lost: Lost) -> ServerError {
        let (pos, name) = &self.field;
        let mut error = crate::error::ApiError::from(lost.error("document")).0.into_server_error(*pos);
        error.path = vec![PathSegment::Field(name.clone())];
        error
    }
}
