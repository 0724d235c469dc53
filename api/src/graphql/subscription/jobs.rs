//! A job's progress and a document's activity, over `graphql-transport-ws`.
//! A subscriber first receives the current state (read from the database, since events are
//! not stored), then every change; a lagging subscriber skips what it missed instead of being
//! cut off. `jobProgress` ends after the job's final status.

use async_graphql::{Context, ID, Subscription};
use futures_util::stream::{self, Stream, StreamExt};
use nishan_domain::events::{DomainEvent, JobProgressEvent};
use nishan_domain::ids::DocumentId;
use nishan_domain::job::JobProgress as DomainProgress;
use tokio_stream::wrappers::BroadcastStream;

use crate::error::ApiError;
use crate::graphql::types::{DocumentActivity, JobProgress, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct JobSubscription;

/// The error of a refused subscription: FORBIDDEN for what the caller may not read.
fn refused(e: nishan_domain::DomainError) -> async_graphql::Error {
    let e = match e {
        nishan_domain::DomainError::NotFound { .. } => {
            nishan_domain::DomainError::forbidden("you may not follow this: you cannot read its document")
        }
        other => other,
    };
    ApiError::from(e).0
}

fn api(e: impl Into<ApiError>) -> async_graphql::Error {
    e.into().0
}

#[Subscription]
impl JobSubscription {
    /// The job's current state, then each change, ending with its final status. Only users
    /// who can read the document may subscribe.
    async fn job_progress(
        &self,
        ctx: &Context<'_>,
        job_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = JobProgress> + use<>> {
        let id = parse_id(&job_id, "jobId").map_err(api)?;
        let app = state(ctx);
        let actor = request(ctx).viewer.optional().map_err(api)?;
        // Listen before reading, so no change falls between the read and the first event.
        let events = BroadcastStream::new(app.events.subscribe());
        let (job, _) = app.jobs().find(actor.as_ref(), id).await.map_err(refused)?;
        let first = JobProgressEvent::from(&DomainProgress::from(&job));
        let done = job.status.is_final();
        let updates = events.filter_map(move |e| async move {
            match e.ok()?.as_ref() {
                DomainEvent::JobProgress(p) if p.job_id == id => Some(p.clone()),
                _ => None,
            }
        });
        // Ends right after yielding the final status, without waiting for another event.
        let updates = stream::unfold((Box::pin(updates), done), |(mut events, finished)| async move {
            if finished {
                return None;
            }
            let p = events.next().await?;
            let finished = p.status().is_final();
            Some((p, (events, finished)))
        });
        Ok(stream::once(async move { first }).chain(updates).map(JobProgress))
    }

    /// Every entity created, changed, verified, rejected or deleted in the document, and every
    /// new version. Only users who can read the document may subscribe.
    async fn document_activity(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = DocumentActivity> + use<>> {
        let doc = DocumentId(parse_id(&document_id, "documentId").map_err(api)?);
        let app = state(ctx);
        let actor = request(ctx).viewer.optional().map_err(api)?;
        let events = BroadcastStream::new(app.events.subscribe());
        app.documents().find(actor.as_ref(), doc).await.map_err(refused)?;
        Ok(events.filter_map(move |e| async move {
            match e.ok()?.as_ref() {
                DomainEvent::DocumentActivity(a) if a.document_id == doc => Some(DocumentActivity(a.clone())),
                _ => None,
            }
        }))
    }
}
