//! One GraphQL WebSocket connection, from upgrade to close: the `graphql-transport-ws`
//! protocol to the letter (every close code of the `graphql-ws` library) and the legacy
//! `graphql-ws` protocol. Generic over the executor (any async-graphql schema) and over how a
//! connection signs in ([`ConnectionHandler`]), so it can be tested on a schema of its own.
//!
//! Each operation starts in its own task and sends its results through a channel to the
//! connection's loop, which alone writes to the socket. A subscription's task hands its stream
//! over to the loop after the first result: the loop polls its subscriptions itself, so an
//! event wakes one task per connection, not two, and nothing is queued between them.
//! Operations carry a generation number so that results of an operation the client completed
//! never reach a later one that reuses its id.
//!
//! A subscription may also hand its results over already rendered ([`Handover`]): its
//! resolver gives a stream of JSON payloads that something shared by many subscribers wrote
//! once; the connection drops the operation's own stream and follows that one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Executor;
use async_graphql::parser::types::OperationType;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::close;
use super::message::{ClientMessage, Protocol, ServerMessage, next_rendered};
use crate::error::code;
use crate::graphql::gate::{RequestTrace, Transport};
use crate::metrics::{self, Outcome};

/// How a connection signs in, and what each of its operations carries.
pub trait ConnectionHandler: Send + Sync + 'static {
    /// What an accepted `connection_init` leaves for the connection's operations.
    type Session: Send + Sync + 'static;

    /// Accepts a `connection_init` payload, or refuses it (closed with 4403) with a reason.
    fn init(&self, payload: Value) -> impl Future<Output = Result<Self::Session, String>> + Send;

    /// The request as the session runs it (the handler adds the caller and per-request data).
    fn prepare(
        &self,
        session: &Self::Session,
        request: async_graphql::Request,
    ) -> impl Future<Output = async_graphql::Request> + Send;
}

/// The limits of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long the client has to send `connection_init`.
    pub init_timeout: Duration,
    /// How long a query or mutation may take to its result (subscriptions run on).
    pub operation_timeout: Duration,
    /// How often the legacy protocol's keep-alive goes out.
    pub keep_alive: Duration,
    /// Most operations running at once on one connection; one more is refused with `error`.
    pub max_operations: usize,
    /// How long one message may wait to be written: a client that reads nothing for this
    /// long is disconnected (its socket would otherwise hold the server's messages forever).
    pub send_timeout: Duration,
}

/// What an operation's task tells the connection.
enum Event {
    Next {
        id: String,
        generation: u64,
        /// Boxed: the channel's slots are as large as its largest message.
        response: Box<async_graphql::Response>,
    },
    Refused {
        id: String,
        generation: u64,
        errors: Vec<async_graphql::ServerError>,
    },
    Done {
        id: String,
        generation: u64,
    },
    /// A subscription past its first result: the loop polls it from now on.
    Subscribed {
        id: String,
        generation: u64,
        following: Following,
    },
}

struct Running {
    generation: u64,
    abort: AbortHandle,
}

/// A result rendered once for many subscribers, as a subscription hands it over.
pub enum Shared {
    /// A `next` message's payload, written as JSON (`{"data":…}`).
    Next(Arc<str>),
    /// The subscription's last message: an `error` with these errors.
    Error(Vec<async_graphql::ServerError>),
}

/// In every operation's request data: a subscription's resolver may [`give`](Self::give) it
/// the stream of its results, already rendered; the connection then follows that stream and
/// drops the operation's own (which must yield nothing: the resolver returns a pending one).
#[derive(Default)]
pub struct Handover {
    slot: Mutex<Option<BoxStream<'static, Shared>>>,
    given: Notify,
}

impl Handover {
    pub fn give(&self, results: BoxStream<'static, Shared>) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(results);
        self.given.notify_one();
    }

    async fn taken(&self) -> BoxStream<'static, Shared> {
        loop {
            if let Some(results) = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return results;
            }
            self.given.notified().await;
        }
    }
}

/// What a followed subscription yields.
enum Source {
    /// Results the operation resolves itself.
    Own(BoxStream<'static, async_graphql::Response>),
    /// Results handed over (see [`Handover`]).
    Shared(BoxStream<'static, Shared>),
}

/// One result of a followed subscription.
pub enum Followed {
    Own(async_graphql::Response),
    Shared(Shared),
}

/// A subscription the connection's loop polls: its results, then one `None` when it ends.
pub struct Following {
    source: Source,
    trace: Arc<RequestTrace>,
    ended: bool,
    _open: OpenOperation,
}

impl futures_util::Stream for Following {
    type Item = Option<Followed>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.ended {
            return std::task::Poll::Ready(None);
        }
        let next = match &mut self.source {
            Source::Own(stream) => stream.poll_next_unpin(cx).map(|r| r.map(Followed::Own)),
            Source::Shared(stream) => stream.poll_next_unpin(cx).map(|r| r.map(Followed::Shared)),
        };
        match next {
            std::task::Poll::Ready(Some(result)) => std::task::Poll::Ready(Some(Some(result))),
            std::task::Poll::Ready(None) => {
                self.ended = true;
                std::task::Poll::Ready(Some(None))
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

/// Serves a connection until either side closes it. `request_id` (that of the upgrade
/// request) goes on the log lines of the connection's operations.
pub async fn serve<E, H>(
    mut socket: WebSocket,
    protocol: Option<Protocol>,
    executor: E,
    handler: H,
    limits: Limits,
    request_id: String,
) where
    E: Executor,
    H: ConnectionHandler,
{
    let Some(protocol) = protocol else {
        close_with(&mut socket, close::SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable").await;
        return;
    };
    metrics::websockets_open(1);
    let handler = Arc::new(handler);
    let mut connection = Connection {
        protocol,
        executor,
        handler,
        session: None,
        init_received: false,
        running: HashMap::new(),
        following: tokio_stream::StreamMap::new(),
        generation: 0,
        limits,
        request_id,
    };
    let (events_tx, mut events) = mpsc::channel::<Event>(64);
    let init_deadline = tokio::time::sleep(limits.init_timeout);
    tokio::pin!(init_deadline);
    let mut keep_alive = tokio::time::interval_at(Instant::now() + limits.keep_alive, limits.keep_alive);

    'connection: loop {
        let step = tokio::select! {
            Some(event) = events.recv() => Step::Continue(connection.deliver(event)),
            Some((id, item)) = connection.following.next() => Step::Continue(connection.follow(id, item)),
            incoming = socket.recv() => match incoming {
                // Boxed: signing in awaits database queries, whose futures would otherwise
                // make every idle connection's task as large as theirs.
                Some(Ok(Message::Text(text))) => Box::pin(connection.receive(text.as_str(), &events_tx)).await,
                Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                    Ok(text) => Box::pin(connection.receive(text, &events_tx)).await,
                    Err(_) => Step::Close(close::BAD_REQUEST, "a message must be UTF-8 JSON".into()),
                },
                // Control frames: the WebSocket layer answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Step::Continue(Vec::new()),
                Some(Ok(Message::Close(_))) => {
                    // The WebSocket layer queued the answering close frame; reading on
                    // writes it out (then ends), so the client sees a clean close.
                    let _ = tokio::time::timeout(Duration::from_secs(1), socket.recv()).await;
                    Step::Gone
                }
                Some(Err(_)) | None => Step::Gone,
            },
            () = &mut init_deadline, if !connection.init_received => {
                Step::Close(close::CONNECTION_INITIALISATION_TIMEOUT, "Connection initialisation timeout".into())
            }
            _ = keep_alive.tick(), if protocol == Protocol::LegacyGraphqlWs && connection.session.is_some() => {
                Step::Continue(vec![ServerMessage::KeepAlive.to_json(protocol)])
            }
        };
        match step {
            Step::Continue(messages) => {
                for text in messages {
                    match tokio::time::timeout(limits.send_timeout, socket.send(Message::Text(text.into()))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break 'connection,
                        Err(_) => {
                            tracing::info!(
                                timeout_ms = limits.send_timeout.as_millis() as u64,
                                "a WebSocket client read nothing for too long; disconnected"
                            );
                            break 'connection;
                        }
                    }
                }
            }
            Step::Close(code, reason) => {
                close_with(&mut socket, code, &reason).await;
                break;
            }
            Step::SendThenClose(text, code, reason) => {
                let _ = socket.send(Message::Text(text.into())).await;
                close_with(&mut socket, code, &reason).await;
                break;
            }
            Step::Gone => break,
        }
    }
    connection.stop_all();
    metrics::websockets_open(-1);
}

async fn close_with(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame { code, reason: close::reason(reason).into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// What the loop does next.
enum Step {
    /// Send these messages (maybe none) and go on.
    Continue(Vec<String>),
    Close(u16, String),
    SendThenClose(String, u16, String),
    /// The client went away.
    Gone,
}

struct Connection<E, H: ConnectionHandler> {
    protocol: Protocol,
    executor: E,
    handler: Arc<H>,
    session: Option<Arc<H::Session>>,
    init_received: bool,
    running: HashMap<String, Running>,
    /// Subscriptions past their first result, by id.
    following: tokio_stream::StreamMap<String, Following>,
    generation: u64,
    limits: Limits,
    request_id: String,
}

impl<E: Executor, H: ConnectionHandler> Connection<E, H> {
    async fn receive(&mut self, text: &str, events: &mpsc::Sender<Event>) -> Step {
        let message = match super::message::parse(self.protocol, text) {
            Ok(message) => message,
            Err(reason) => return Step::Close(close::BAD_REQUEST, reason),
        };
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.init_received {
                    return Step::Close(
                        close::TOO_MANY_INITIALISATION_REQUESTS,
                        "Too many initialisation requests".into(),
                    );
                }
                self.init_received = true;
                match self.handler.init(payload).await {
                    Ok(session) => {
                        self.session = Some(Arc::new(session));
                        let mut messages = vec![ServerMessage::ConnectionAck.to_json(self.protocol)];
                        if self.protocol == Protocol::LegacyGraphqlWs {
                            messages.push(ServerMessage::KeepAlive.to_json(self.protocol));
                        }
                        Step::Continue(messages)
                    }
                    Err(reason) if self.protocol == Protocol::LegacyGraphqlWs => Step::SendThenClose(
                        ServerMessage::ConnectionError { message: &reason }.to_json(self.protocol),
                        close::FORBIDDEN,
                        "Forbidden".into(),
                    ),
                    Err(_) => Step::Close(close::FORBIDDEN, "Forbidden".into()),
                }
            }
            ClientMessage::Ping { payload } => {
                Step::Continue(vec![ServerMessage::Pong { payload }.to_json(self.protocol)])
            }
            ClientMessage::Pong => Step::Continue(Vec::new()),
            ClientMessage::Subscribe { id, request } => {
                let Some(session) = self.session.clone() else {
                    return Step::Close(close::UNAUTHORIZED, "Unauthorized".into());
                };
                if self.running.contains_key(&id) {
                    return Step::Close(
                        close::SUBSCRIBER_ALREADY_EXISTS,
                        format!("Subscriber for {id} already exists"),
                    );
                }
                if self.running.len() >= self.limits.max_operations {
                    let mut error = async_graphql::ServerError::new(
                        format!("at most {} operations may run at once on one connection", self.limits.max_operations),
                        None,
                    );
                    error.extensions.get_or_insert_with(Default::default).set("code", code::BAD_REQUEST);
                    let errors = [error];
                    return Step::Continue(vec![
                        ServerMessage::Error { id: &id, errors: &errors }.to_json(self.protocol),
                    ]);
                }
                self.start(id, *request, session, events.clone());
                Step::Continue(Vec::new())
            }
            ClientMessage::Complete { id } => match self.running.remove(&id) {
                Some(running) => {
                    running.abort.abort();
                    self.following.remove(&id);
                    // The legacy protocol confirms a `stop`; the current one expects nothing.
                    Step::Continue(match self.protocol {
                        Protocol::LegacyGraphqlWs => vec![ServerMessage::Complete { id: &id }.to_json(self.protocol)],
                        Protocol::GraphqlTransportWs => Vec::new(),
                    })
                }
                None => Step::Continue(Vec::new()),
            },
            ClientMessage::ConnectionTerminate => Step::Close(close::NORMAL, "Normal closure".into()),
        }
    }

    /// Starts an operation in its own task.
    fn start(
        &mut self,
        id: String,
        request: async_graphql::Request,
        session: Arc<H::Session>,
        events: mpsc::Sender<Event>,
    ) {
        self.generation += 1;
        let generation = self.generation;
        let executor = self.executor.clone();
        let handler = Arc::clone(&self.handler);
        let timeout = self.limits.operation_timeout;
        let task_id = id.clone();
        let span = tracing::info_span!(
            "graphql",
            request_id = self.request_id.as_str(),
            operation = request.operation_name.as_deref().map(tracing::field::display),
            transport = "ws"
        );
        let task = tokio::spawn(
            async move {
                let open = OpenOperation::new();
                run_operation(executor, handler, session, request, timeout, task_id, generation, events, open).await;
            }
            .instrument(span),
        );
        self.running.insert(id, Running { generation, abort: task.abort_handle() });
    }

    /// The messages an operation's event turns into (none for an operation the client has
    /// completed since).
    fn deliver(&mut self, event: Event) -> Vec<String> {
        let current = |id: &str, generation: u64, running: &HashMap<String, Running>| {
            running.get(id).is_some_and(|r| r.generation == generation)
        };
        match event {
            Event::Next { id, generation, response } if current(&id, generation, &self.running) => {
                vec![ServerMessage::Next { id: &id, response: &response }.to_json(self.protocol)]
            }
            Event::Refused { id, generation, errors } if current(&id, generation, &self.running) => {
                self.running.remove(&id);
                vec![ServerMessage::Error { id: &id, errors: &errors }.to_json(self.protocol)]
            }
            Event::Done { id, generation } if current(&id, generation, &self.running) => {
                self.running.remove(&id);
                vec![ServerMessage::Complete { id: &id }.to_json(self.protocol)]
            }
            Event::Subscribed { id, generation, following } if current(&id, generation, &self.running) => {
                self.following.insert(id, following);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The message of a followed subscription's next result (`None`: it ended).
    fn follow(&mut self, id: String, item: Option<Followed>) -> Vec<String> {
        let response = match item {
            None => {
                self.running.remove(&id);
                return vec![ServerMessage::Complete { id: &id }.to_json(self.protocol)];
            }
            Some(Followed::Shared(Shared::Next(payload))) => return vec![next_rendered(self.protocol, &id, &payload)],
            Some(Followed::Shared(Shared::Error(errors))) => {
                self.running.remove(&id);
                self.following.remove(&id);
                return vec![ServerMessage::Error { id: &id, errors: &errors }.to_json(self.protocol)];
            }
            Some(Followed::Own(response)) => response,
        };
        let ended = self.following.iter().find(|(key, _)| **key == id).is_some_and(|(_, f)| f.trace.ended_with_error());
        if ended {
            self.running.remove(&id);
            self.following.remove(&id);
            return vec![ServerMessage::Error { id: &id, errors: &response.errors }.to_json(self.protocol)];
        }
        vec![ServerMessage::Next { id: &id, response: &response }.to_json(self.protocol)]
    }

    fn stop_all(&mut self) {
        for (_, running) in self.running.drain() {
            running.abort.abort();
        }
        self.following.clear();
    }
}

/// Counts an operation as open for as long as it runs (in its task, or followed by the loop).
struct OpenOperation;

impl OpenOperation {
    fn new() -> Self {
        metrics::subscriptions_open(1);
        Self
    }
}

impl Drop for OpenOperation {
    fn drop(&mut self) {
        metrics::subscriptions_open(-1);
    }
}

#[allow(clippy::too_many_arguments)] // The parts of one operation, moved into its task.
async fn run_operation<E: Executor, H: ConnectionHandler>(
    executor: E,
    handler: Arc<H>,
    session: Arc<H::Session>,
    request: async_graphql::Request,
    timeout: Duration,
    id: String,
    generation: u64,
    events: mpsc::Sender<Event>,
    open: OpenOperation,
) {
    let started = std::time::Instant::now();
    let given_name = request.operation_name.clone();
    let mut request = handler.prepare(&session, request).await;
    let trace = RequestTrace::new(Transport::WebSocket);
    request.data.insert(Arc::clone(&trace));
    let handover = Arc::new(Handover::default());
    request.data.insert(Arc::clone(&handover));
    let mut stream = executor.execute_stream(request, None);

    // Queries and mutations must answer within the timeout; a subscription may wait for its
    // first event as long as it likes.
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut waiting = false;
    let first = loop {
        tokio::select! {
        item = stream.next() => break item,
        results = handover.taken() => {
            // Its results come rendered from elsewhere: the loop follows them from now on.
            drop(stream);
            let following = Following { source: Source::Shared(results), trace, ended: false, _open: open };
            let _ = events.send(Event::Subscribed { id, generation, following }).await;
            return;
        }
        () = &mut deadline, if !waiting => {
            // The kind is known by now (the document is parsed first thing).
            if trace.kind() == Some(OperationType::Subscription) {
                waiting = true;
            } else {
                let mut error = async_graphql::ServerError::new(
                    format!("the operation did not finish within {} ms and was stopped", timeout.as_millis()),
                    None,
                );
                error.extensions.get_or_insert_with(Default::default).set("code", code::TIMEOUT);
                record(&trace, given_name.as_deref(), Outcome::Timeout, started);
                let _ = events.send(Event::Refused { id, generation, errors: vec![error] }).await;
                return;
            }
        }
        }
    };
    let Some(mut response) = first else {
        let _ = events.send(Event::Done { id, generation }).await;
        return;
    };
    if trace.refusal(&mut response).is_some() {
        record(&trace, given_name.as_deref(), Outcome::Rejected, started);
        let _ = events.send(Event::Refused { id, generation, errors: response.errors }).await;
        return;
    }
    let outcome = if response.errors.is_empty() { Outcome::Ok } else { Outcome::Error };
    record(&trace, given_name.as_deref(), outcome, started);
    if trace.kind() == Some(OperationType::Subscription) && !trace.ended_with_error() {
        // The first result goes out now; the connection's loop polls the rest.
        if events.send(Event::Next { id: id.clone(), generation, response: Box::new(response) }).await.is_err() {
            return;
        }
        let following = Following { source: Source::Own(stream), trace, ended: false, _open: open };
        let _ = events.send(Event::Subscribed { id, generation, following }).await;
        return;
    }
    let mut next = Some(response);
    while let Some(response) = next {
        if trace.ended_with_error() {
            let _ = events.send(Event::Refused { id, generation, errors: response.errors }).await;
            return;
        }
        if events.send(Event::Next { id: id.clone(), generation, response: Box::new(response) }).await.is_err() {
            return;
        }
        next = stream.next().await;
    }
    let _ = events.send(Event::Done { id, generation }).await;
}

/// Counts and logs a query or mutation (a subscription's life is in the open gauge instead).
fn record(trace: &RequestTrace, given_name: Option<&str>, outcome: Outcome, started: std::time::Instant) {
    if trace.kind() == Some(OperationType::Subscription) {
        return;
    }
    let elapsed = started.elapsed();
    let name = match given_name {
        Some(name) => Some(name.to_owned()),
        None => {
            // Named in the document only: the span learns it now.
            let name = trace.name();
            if let Some(name) = &name {
                tracing::Span::current().record("operation", name.as_str());
            }
            name
        }
    };
    metrics::record_operation(name.as_deref(), outcome, elapsed);
    tracing::info!(outcome = outcome.label(), elapsed_ms = elapsed.as_millis() as u64, "graphql operation");
}
