//! Automatic training: a task that follows the event bus and, when researchers verify entities
//! (or import verified ones) in a project, asks the learning service whether the project is due
//! for a TRAINING job (`Learning::train_if_due`: enough new gold, none waiting). The decision is
//! made in the store's transaction, so every replica may ask at once and one job is queued.

use nishan_domain::events::{ActivityKind, DomainEvent};
use nishan_domain::ports::DocumentRepository;
use tokio::sync::broadcast::error::RecvError;

use crate::state::AppState;

/// Starts the task; it runs until the runtime stops.
pub fn spawn_auto_training(state: AppState) -> tokio::task::JoinHandle<()> {
    let mut events = state.events.subscribe();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                // Missed events: the next verification asks again.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            let DomainEvent::DocumentActivity(activity) = event.as_ref() else { continue };
            if !matches!(activity.kind, ActivityKind::EntityVerified | ActivityKind::EntitiesImported) {
                continue;
            }
            let project = match state.store.document_head(activity.document_id).await {
                Ok(Some(doc)) => doc.project_id,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "automatic training: reading the document failed");
                    continue;
                }
            };
            match state.learning().train_if_due(project).await {
                Ok(Some(job)) => tracing::info!(job = %job.id, project = %project, "automatic training queued"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, project = %project, "automatic training: queueing failed"),
            }
        }
    })
}
