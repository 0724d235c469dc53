//! The event bus: a `tokio::sync::broadcast` channel in each process, bridged across server
//! replicas by PostgreSQL LISTEN/NOTIFY. A replica publishes locally and NOTIFYs; every
//! replica LISTENs and re-broadcasts what other replicas sent (its own notifications are
//! recognised by the origin id and skipped). NOTIFY stores nothing, so subscribers first read
//! the current state from the database and then follow the events.

use std::sync::Arc;
use std::time::Duration;

use nishan_domain::events::{DomainEvent, EventPublisher};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

const CHANNEL: &str = "nishan_events";
/// Events a slow subscriber may fall behind by before it skips some.
const CAPACITY: usize = 4096;

#[derive(Serialize, Deserialize)]
struct Envelope {
    origin: uuid::Uuid,
    event: DomainEvent,
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<DomainEvent>>,
    origin: uuid::Uuid,
    /// Set on PostgreSQL: where NOTIFYs go.
    notify: Option<tokio::sync::mpsc::UnboundedSender<String>>,
}

impl EventBus {
    /// A bus for this process only.
    pub fn local() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        Self { sender, origin: uuid::Uuid::new_v4(), notify: None }
    }

    /// A bus bridged through the database when it is PostgreSQL (one connection listens, one
    /// task sends NOTIFYs in publication order).
    pub async fn connect(db: &DatabaseConnection) -> Self {
        let mut bus = Self::local();
        if db.get_database_backend() != DbBackend::Postgres {
            return bus;
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let notifier = db.clone();
        tokio::spawn(async move {
            while let Some(payload) = rx.recv().await {
                let sql = sea_orm::Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                );
                if let Err(e) = notifier.execute_raw(sql).await {
                    tracing::warn!(error = %e, "could not NOTIFY an event to other replicas");
                }
            }
        });
        bus.notify = Some(tx);
        let pool = db.get_postgres_connection_pool().clone();
        let local = bus.sender.clone();
        let origin = bus.origin;
        tokio::spawn(async move {
            loop {
                match sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(CHANNEL).await {
                            tracing::warn!(error = %e, "LISTEN failed; retrying");
                        } else {
                            while let Ok(n) = listener.recv().await {
                                match serde_json::from_str::<Envelope>(n.payload()) {
                                    Ok(env) if env.origin != origin => {
                                        let _ = local.send(Arc::new(env.event));
                                    }
                                    Ok(_) => {}
                                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed event notification"),
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not connect the event listener; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        bus
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<DomainEvent>> {
        self.sender.subscribe()
    }

    /// Subscribers currently listening in this process.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }
}

impl EventPublisher for EventBus {
    fn publish(&self, event: DomainEvent) {
        if let Some(notify) = &self.notify {
            match serde_json::to_string(&Envelope { origin: self.origin, event: event.clone() }) {
                // NOTIFY payloads must stay under 8000 bytes; bigger events stay local.
                Ok(payload) if payload.len() < 7900 => {
                    let _ = notify.send(payload);
                }
                Ok(_) => tracing::warn!("an event too large for NOTIFY stayed on this replica"),
                Err(e) => tracing::warn!(error = %e, "could not encode an event"),
            }
        }
        let _ = self.sender.send(Arc::new(event));
    }
}
