//! The event bus. In each process, events go to the subscribers of their topic (a document, a
//! job, a project, a user), each topic a `tokio::sync::broadcast` channel made while someone
//! listens, so an event wakes only those who follow what it is about. Between server replicas
//! (PostgreSQL), every event a replica publishes is stored in `bus_events` under a sequence
//! number and announced by a NOTIFY carrying that number and the origin, plus the event itself
//! when it fits (NOTIFY payloads stop at 8000 bytes; a larger event is read by its number).
//! Every replica LISTENs and delivers what the others published. NOTIFY stores nothing, so after
//! its listener reconnects a replica reads from the log what it missed (numbers it has not seen,
//! from a window before the highest it had), then tells its subscribers to re-read what they
//! follow (`Delivery::Resync`); `missed` is set when events may be lost for good (the log was
//! unreadable, or the outage outlasted the log's retention). A subscriber that falls behind its
//! channel gets the same `Resync { missed: true }` instead of the events it skipped.
//!
//! Invariants: a replica delivers each event of another replica at most once (numbers seen are
//! remembered across the window), and its own events only locally; subscribers of one topic
//! receive its events in publication order on their replica (across replicas, in commit order
//! of the NOTIFYs).

use std::collections::{BTreeSet, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::Stream;
use nishan_domain::events::{DomainEvent, EventPublisher};
use nishan_domain::ids::{DocumentId, ProjectId, UserId};
use nishan_domain::job::JobId;
use sea_orm::sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

const CHANNEL: &str = "nishan_events";
/// Events one subscriber of a topic may fall behind by before it skips to a `Resync`.
const TOPIC_CAPACITY: usize = 256;
/// Events a firehose subscriber (`subscribe`) may fall behind by.
const FIREHOSE_CAPACITY: usize = 4096;
/// Largest event carried inside its NOTIFY (the payload limit is 8000 bytes with the number and
/// origin in front); larger ones are read from the log by their number.
const INLINE_MAX: i32 = 7000;
/// Most events one statement stores (and announces).
const MAX_BATCH: usize = 500;
/// How far below the highest number seen a replay starts. Numbers are taken when an event is
/// stored and become visible when it commits, so one replica may see 12 before 11; every
/// replica stores from one task, so the numbers in flight at once are few, and far fewer than
/// this.
const REPLAY_WINDOW: i64 = 10_000;

/// What an event is about: its subscribers are those who follow that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Document(DocumentId),
    Job(JobId),
    /// Who may read the project changed (`AccessChanged`).
    Project(ProjectId),
    /// The user's sessions ended (`SessionsEnded`).
    User(UserId),
}

impl Topic {
    pub fn of(event: &DomainEvent) -> Self {
        match event {
            DomainEvent::JobProgress(p) => Self::Job(p.job_id),
            DomainEvent::DocumentActivity(a) => Self::Document(a.document_id),
            DomainEvent::SessionsEnded { user_id } => Self::User(*user_id),
            DomainEvent::AccessChanged { project_id, .. } => Self::Project(*project_id),
        }
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    Event(Arc<DomainEvent>),
    /// Events may have been missed: re-read what you follow. `missed` is false after a
    /// reconnect that recovered every event from the log, true when some may be lost for good.
    Resync {
        missed: bool,
        /// Which of the bus's resyncs this is (0: this subscriber's own, after it fell behind):
        /// a subscription of several topics hears each of the bus's once.
        round: u64,
    },
}

/// The link between this replica and the others, as tests and operators see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeState {
    /// The listener is connected and has caught up.
    pub connected: bool,
    /// How many times it has connected.
    pub connections: u64,
    /// The PostgreSQL backend process of the listener's connection.
    pub backend_pid: Option<i32>,
}

/// How the bridge between replicas behaves.
#[derive(Debug, Clone, Copy)]
pub struct BridgeConfig {
    /// How long the listener waits before connecting again after losing its connection.
    pub reconnect_delay: Duration,
    /// How long stored events are kept (a listener down for longer may have lost some).
    pub retention: Duration,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self { reconnect_delay: Duration::from_secs(1), retention: Duration::from_secs(600) }
    }
}

struct Inner {
    origin: uuid::Uuid,
    firehose: broadcast::Sender<Arc<DomainEvent>>,
    topics: Mutex<HashMap<Topic, broadcast::Sender<Delivery>>>,
    /// Set on PostgreSQL: events to store and announce to the other replicas.
    outbox: Option<mpsc::UnboundedSender<Arc<DomainEvent>>>,
    bridge: Option<watch::Receiver<BridgeState>>,
    /// How many resyncs the bus has sent.
    resyncs: std::sync::atomic::AtomicU64,
}

impl Inner {
    fn new(
        outbox: Option<mpsc::UnboundedSender<Arc<DomainEvent>>>,
        bridge: Option<watch::Receiver<BridgeState>>,
    ) -> Self {
        Self {
            origin: uuid::Uuid::new_v4(),
            firehose: broadcast::channel(FIREHOSE_CAPACITY).0,
            topics: Mutex::new(HashMap::new()),
            outbox,
            bridge,
            resyncs: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Hands an event to this process's subscribers.
    fn deliver(&self, event: Arc<DomainEvent>) {
        let _ = self.firehose.send(Arc::clone(&event));
        let topic = Topic::of(&event);
        let sender = self.topics.lock().unwrap_or_else(|e| e.into_inner()).get(&topic).cloned();
        if let Some(sender) = sender {
            let _ = sender.send(Delivery::Event(event));
        }
    }

    /// Tells every subscriber to re-read what it follows.
    fn resync(&self, missed: bool) {
        let round = self.resyncs.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let senders: Vec<_> = self.topics.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        for sender in senders {
            let _ = sender.send(Delivery::Resync { missed, round });
        }
    }
}

/// The bus: cheap to clone, shared by everything in a process.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl EventBus {
    /// A bus for this process only.
    pub fn local() -> Self {
        Self { inner: Arc::new(Inner::new(None, None)) }
    }

    /// A bus bridged through the database when it is PostgreSQL, with the default settings.
    pub async fn connect(db: &DatabaseConnection) -> Self {
        Self::connect_with(db, BridgeConfig::default()).await
    }

    /// A bus bridged through the database when it is PostgreSQL: one task stores and
    /// announces this replica's events in publication order, one listens for the others'.
    pub async fn connect_with(db: &DatabaseConnection, config: BridgeConfig) -> Self {
        if db.get_database_backend() != DbBackend::Postgres {
            return Self::local();
        }
        let pool = db.get_postgres_connection_pool().clone();
        let (outbox, events) = mpsc::unbounded_channel();
        let (state, state_rx) = watch::channel(BridgeState::default());
        let bus = Self { inner: Arc::new(Inner::new(Some(outbox), Some(state_rx))) };
        tokio::spawn(store_and_announce(pool.clone(), bus.inner.origin, events));
        tokio::spawn(listen(Arc::downgrade(&bus.inner), pool, config, state));
        bus
    }

    /// Every event published in or delivered to this process (for the job workers, which wake
    /// on any). Subscribers of one thing use [`Self::subscribe_to`].
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<DomainEvent>> {
        self.inner.firehose.subscribe()
    }

    /// The events of the given topics, merged, and the resyncs.
    pub fn subscribe_to(&self, topics: &[Topic]) -> Subscription {
        let mut map = self.inner.topics.lock().unwrap_or_else(|e| e.into_inner());
        let streams = topics
            .iter()
            .map(|t| {
                let sender = map.entry(*t).or_insert_with(|| broadcast::channel(TOPIC_CAPACITY).0);
                BroadcastStream::new(sender.subscribe())
            })
            .collect();
        Subscription { streams, topics: topics.to_vec(), bus: Arc::downgrade(&self.inner), last_round: 0 }
    }

    /// Subscriptions currently open in this process (each counts once per topic it follows).
    pub fn subscribers(&self) -> usize {
        let map = self.inner.topics.lock().unwrap_or_else(|e| e.into_inner());
        map.values().map(broadcast::Sender::receiver_count).sum::<usize>() + self.inner.firehose.receiver_count()
    }

    /// The link to the other replicas (PostgreSQL only).
    pub fn bridge(&self) -> Option<watch::Receiver<BridgeState>> {
        self.inner.bridge.clone()
    }
}

impl EventPublisher for EventBus {
    fn publish(&self, event: DomainEvent) {
        let event = Arc::new(event);
        if let Some(outbox) = &self.inner.outbox {
            let _ = outbox.send(Arc::clone(&event));
        }
        self.inner.deliver(event);
    }
}

/// The events of some topics, merged: a stream that never ends while the bus lives.
pub struct Subscription {
    streams: Vec<BroadcastStream<Delivery>>,
    topics: Vec<Topic>,
    bus: Weak<Inner>,
    /// The latest of the bus's resyncs delivered (each topic's channel carries it; an older or
    /// the same one on another channel says nothing new).
    last_round: u64,
}

impl Stream for Subscription {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        let this = &mut *self;
        let mut open = false;
        for stream in &mut this.streams {
            loop {
                match Pin::new(&mut *stream).poll_next(cx) {
                    Poll::Ready(Some(Ok(Delivery::Resync { round, .. }))) if round != 0 && round <= this.last_round => {
                        continue;
                    }
                    Poll::Ready(Some(Ok(delivery))) => {
                        if let Delivery::Resync { round, .. } = delivery {
                            this.last_round = this.last_round.max(round);
                        }
                        return Poll::Ready(Some(delivery));
                    }
                    Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(_)))) => {
                        return Poll::Ready(Some(Delivery::Resync { missed: true, round: 0 }));
                    }
                    Poll::Ready(None) => break,
                    Poll::Pending => {
                        open = true;
                        break;
                    }
                }
            }
        }
        if open { Poll::Pending } else { Poll::Ready(None) }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.streams.clear();
        let Some(bus) = self.bus.upgrade() else { return };
        let mut map = bus.topics.lock().unwrap_or_else(|e| e.into_inner());
        for topic in &self.topics {
            if map.get(topic).is_some_and(|s| s.receiver_count() == 0) {
                map.remove(topic);
            }
        }
    }
}

const STORE_AND_NOTIFY: &str = "WITH stored AS (
        INSERT INTO bus_events (origin, payload)
        SELECT $1::text::uuid, p FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n
        RETURNING id, payload)
    SELECT pg_notify($3, id::text || ' ' || $1::text
        || CASE WHEN octet_length(payload) <= $4 THEN ' ' || payload ELSE '' END)
    FROM stored ORDER BY id";

/// Stores and announces this replica's events, in publication order, many per statement when
/// they come faster than one round trip.
async fn store_and_announce(pool: PgPool, origin: uuid::Uuid, mut events: mpsc::UnboundedReceiver<Arc<DomainEvent>>) {
    let origin = origin.to_string();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = events.recv().await {
        batch.clear();
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match events.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        let payloads: Vec<String> = batch.iter().filter_map(|e| serde_json::to_string(e.as_ref()).ok()).collect();
        for attempt in 0..3u32 {
            let sent = sea_orm::sqlx::query(STORE_AND_NOTIFY)
                .bind(&origin)
                .bind(&payloads)
                .bind(CHANNEL)
                .bind(INLINE_MAX)
                .execute(&pool)
                .await;
            match sent {
                Ok(_) => break,
                Err(e) if attempt < 2 => {
                    tracing::warn!(error = %e, "could not pass events to the other replicas; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, events = payloads.len(), "events stayed on this replica");
                }
            }
        }
    }
}

/// What the listener has seen of the log.
struct Feed {
    origin: String,
    /// Numbers delivered or skipped (own events) within the replay window.
    seen: BTreeSet<i64>,
    /// The highest number seen, or the log's highest when the listener first connected.
    high: i64,
    /// The log's highest number when the listener first connected: older events are not ours
    /// to deliver.
    floor: i64,
}

impl Feed {
    /// Whether `id` is new (and remembers it).
    fn mark(&mut self, id: i64) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.high = self.high.max(id);
        while self.seen.first().is_some_and(|&first| first < self.high - REPLAY_WINDOW) {
            self.seen.pop_first();
        }
        true
    }

    /// Delivers a stored event unless it is this replica's own or was delivered already.
    fn take(&mut self, bus: &Inner, id: i64, origin: &str, payload: &str) {
        if !self.mark(id) || origin == self.origin {
            return;
        }
        match serde_json::from_str::<DomainEvent>(payload) {
            Ok(event) => bus.deliver(Arc::new(event)),
            Err(e) => tracing::warn!(error = %e, id, "ignoring a malformed event"),
        }
    }

    /// A notification: `<number> <origin>[ <event JSON>]`.
    async fn receive(&mut self, bus: &Inner, pool: &PgPool, notification: &str) {
        let mut parts = notification.splitn(3, ' ');
        let (Some(Ok(id)), Some(origin)) = (parts.next().map(str::parse::<i64>), parts.next()) else {
            tracing::warn!(notification = %notification.chars().take(80).collect::<String>(), "ignoring a malformed event notification");
            return;
        };
        if let Some(payload) = parts.next() {
            self.take(bus, id, origin, payload);
            return;
        }
        if self.seen.contains(&id) || origin == self.origin {
            self.mark(id);
            return;
        }
        // Too large for the notification: read it from the log.
        let row: Result<Option<(String,)>, _> =
            sea_orm::sqlx::query_as("SELECT payload FROM bus_events WHERE id = $1").bind(id).fetch_optional(pool).await;
        match row {
            Ok(Some((payload,))) => self.take(bus, id, origin, &payload),
            Ok(None) => {
                tracing::warn!(id, "an announced event is no longer stored");
                bus.resync(true);
            }
            Err(e) => {
                tracing::warn!(error = %e, id, "could not read an announced event");
                bus.resync(true);
            }
        }
    }

    /// Delivers every stored event after the window below the highest seen that this replica
    /// has not delivered yet.
    async fn replay(&mut self, bus: &Inner, pool: &PgPool) -> Result<usize, sea_orm::sqlx::Error> {
        let from = self.floor.max(self.high - REPLAY_WINDOW);
        let rows: Vec<(i64, String, String)> =
            sea_orm::sqlx::query_as("SELECT id, origin::text, payload FROM bus_events WHERE id > $1 ORDER BY id")
                .bind(from)
                .fetch_all(pool)
                .await?;
        let before = self.seen.len();
        for (id, origin, payload) in &rows {
            self.take(bus, *id, origin, payload);
        }
        Ok(self.seen.len().saturating_sub(before))
    }
}

/// A listener on its own connection, and that connection's backend process.
async fn open(pool: &PgPool) -> Result<(PgListener, i32), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // This loop reconnects itself, and catches up before it listens on.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    let pid: i32 = sea_orm::sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut listener).await?;
    Ok((listener, pid))
}

/// Listens for the other replicas' events until the bus is dropped: connects, catches up after
/// a reconnect, delivers each announced event, and prunes the log now and then.
async fn listen(bus: Weak<Inner>, pool: PgPool, config: BridgeConfig, state: watch::Sender<BridgeState>) {
    // The listener holds a connection of its own, outside the server's pool.
    let options = (*pool.connect_options()).clone();
    let listen_pool =
        PgPoolOptions::new().max_connections(1).max_lifetime(None).idle_timeout(None).connect_lazy_with(options);
    let Some(origin) = bus.upgrade().map(|b| b.origin.to_string()) else { return };
    let mut feed = Feed { origin, seen: BTreeSet::new(), high: 0, floor: 0 };
    let mut started = false;
    let mut lost_at: Option<Instant> = None;
    let mut connections = 0;
    let mut prune = tokio::time::interval(config.retention.min(Duration::from_secs(60)));
    loop {
        let (mut listener, pid) = match open(&listen_pool).await {
            Ok(opened) => opened,
            Err(e) => {
                tracing::warn!(error = %e, "could not connect the event listener; retrying");
                tokio::time::sleep(config.reconnect_delay).await;
                continue;
            }
        };
        let Some(inner) = bus.upgrade() else { return };
        // Listening already: whatever commits from now on is announced to us. Catch up on what
        // was committed before.
        if !started {
            match sea_orm::sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM bus_events").fetch_one(&pool).await
            {
                Ok(high) => {
                    feed.floor = high.unwrap_or(0);
                    feed.high = feed.floor;
                    started = true;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the event log; retrying");
                    tokio::time::sleep(config.reconnect_delay).await;
                    continue;
                }
            }
        } else {
            let outage = lost_at.map_or(Duration::ZERO, |at| at.elapsed());
            let missed = match feed.replay(&inner, &pool).await {
                Ok(recovered) => {
                    tracing::info!(recovered, "the event listener reconnected and caught up");
                    outage >= config.retention
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the event listener reconnected but could not read what it missed");
                    true
                }
            };
            inner.resync(missed);
        }
        drop(inner);
        connections += 1;
        state.send_replace(BridgeState { connected: true, connections, backend_pid: Some(pid) });
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) => {
                        let Some(inner) = bus.upgrade() else { return };
                        feed.receive(&inner, &pool, notification.payload()).await;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "the event listener failed");
                        break;
                    }
                },
                _ = prune.tick() => {
                    let deleted = sea_orm::sqlx::query("DELETE FROM bus_events WHERE created_at < now() - make_interval(secs => $1)")
                        .bind(config.retention.as_secs_f64())
                        .execute(&pool)
                        .await;
                    if let Err(e) = deleted {
                        tracing::warn!(error = %e, "could not prune the event log");
                    }
                }
            }
        }
        drop(listener);
        lost_at = Some(Instant::now());
        state.send_modify(|s| s.connected = false);
        tracing::warn!("the event listener lost its connection; reconnecting");
        tokio::time::sleep(config.reconnect_delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use nishan_domain::events::{ActivityEvent, ActivityKind};

    fn activity(doc: DocumentId) -> DomainEvent {
        DomainEvent::DocumentActivity(ActivityEvent::new(doc, ActivityKind::EntityCreated, &[], None))
    }

    #[tokio::test]
    async fn subscribers_hear_only_their_topics() {
        let bus = EventBus::local();
        let (mine, other) = (DocumentId::new(), DocumentId::new());
        let mut sub = bus.subscribe_to(&[Topic::Document(mine)]);
        bus.publish(activity(other));
        bus.publish(activity(mine));
        match sub.next().await {
            Some(Delivery::Event(e)) => assert_eq!(Topic::of(&e), Topic::Document(mine)),
            other => panic!("expected the event of my document, got {other:?}"),
        }
        // The topic's channel goes when its last subscriber does.
        assert_eq!(bus.inner.topics.lock().unwrap().len(), 1);
        drop(sub);
        assert!(bus.inner.topics.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_to_resync() {
        let bus = EventBus::local();
        let doc = DocumentId::new();
        let mut sub = bus.subscribe_to(&[Topic::Document(doc)]);
        for _ in 0..TOPIC_CAPACITY + 10 {
            bus.publish(activity(doc));
        }
        assert!(matches!(sub.next().await, Some(Delivery::Resync { missed: true, .. })));
        // Then it goes on with the events still held.
        assert!(matches!(sub.next().await, Some(Delivery::Event(_))));
    }

    /// A subscription follows several topics (a document, its project, its user), each with a
    /// channel of its own: a reconnect's resync reaches it once, not once per topic.
    #[tokio::test]
    async fn a_resync_reaches_a_subscriber_of_several_topics_once() {
        let bus = EventBus::local();
        let (doc, project) = (DocumentId::new(), nishan_domain::ids::ProjectId::new());
        let mut sub = bus.subscribe_to(&[Topic::Document(doc), Topic::Project(project)]);
        bus.inner.resync(true);
        bus.publish(activity(doc));
        bus.inner.resync(false);
        assert!(matches!(sub.next().await, Some(Delivery::Resync { missed: true, round: 1 })));
        assert!(matches!(sub.next().await, Some(Delivery::Event(_))));
        assert!(matches!(sub.next().await, Some(Delivery::Resync { missed: false, round: 2 })));
        let more = tokio::time::timeout(std::time::Duration::from_millis(50), sub.next()).await;
        assert!(more.is_err(), "nothing more: {more:?}");
    }

    #[test]
    fn the_feed_delivers_each_number_once() {
        let mut feed = Feed { origin: "me".into(), seen: BTreeSet::new(), high: 0, floor: 0 };
        assert!(feed.mark(12));
        assert!(feed.mark(11), "a number seen out of order is still new");
        assert!(!feed.mark(12));
        assert!(feed.mark(12 + REPLAY_WINDOW + 1));
        assert!(!feed.seen.contains(&11), "numbers below the window are forgotten");
    }
}
