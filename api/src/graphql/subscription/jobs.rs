//! `jobProgress`: a job's current state, then each change, ending with its final status. The
//! stream ends from the job's row too: the row is read again when the bus says events may have
//! been missed (a replica's listener reconnected, or the subscriber fell behind), and every
//! `NISHAN_JOB_PROGRESS_RECHECK_MS` while the job runs, so a final event that never arrives
//! does not leave the subscriber waiting. Every event is checked against the caller's access
//! (`access`): a caller who signed out or left the project gets an `error` and nothing more.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, ID, Subscription};
use futures_util::stream::{self, Stream, StreamExt};
use nishan_domain::events::{DomainEvent, JobProgressEvent};
use nishan_domain::ids::ProjectId;
use nishan_domain::job::{JobId, JobProgress as DomainProgress};
use nishan_domain::ports::JobRepository;
use nishan_infrastructure::events::{Delivery, Subscription as Events, Topic};

use super::access::{ConnectionAccess, Lost};
use super::follow::{Ending, access, api, refused};
use crate::graphql::types::{JobProgress, parse_id};
use crate::graphql::{request, state};
use crate::state::AppState;

#[derive(Default)]
pub struct JobSubscription;

#[Subscription]
impl JobSubscription {
    /// The job's current state, then each change, ending with its final status. Only users
    /// who can read the document may subscribe (NOT_FOUND otherwise, UNAUTHENTICATED when not
    /// signed in); a subscriber who loses access gets an `error` (UNAUTHENTICATED or
    /// FORBIDDEN) and the stream ends.
    async fn job_progress(
        &self,
        ctx: &Context<'_>,
        job_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<JobProgress>> + use<>> {
        let id = parse_id(&job_id, "jobId").map_err(api)?;
        let app = state(ctx).clone();
        let actor = request(ctx).viewer.optional().map_err(api)?;
        let (job, _) = app.jobs().find(actor.as_ref(), id).await.map_err(|e| refused(actor.as_ref(), "job", e))?;
        let access = access(ctx);
        let mut topics = vec![Topic::Job(id), Topic::Project(job.project_id)];
        topics.extend(access.user().map(Topic::User));
        // Listen before reading the state to start from, so no change falls in between.
        let events = app.events.subscribe_to(&topics);
        let job = app.store.job_by_id(id).await.map_err(api)?.unwrap_or(job);
        let first = JobProgressEvent::from(&DomainProgress::from(&job));
        let recheck = Duration::from_millis(app.settings.job_progress_recheck_ms.max(10));
        let follow = Follow {
            id,
            project: job.project_id,
            app,
            events,
            access,
            ending: Ending::of(ctx, "job"),
            recheck: tokio::time::interval_at(tokio::time::Instant::now() + recheck, recheck),
            last: first.clone(),
            done: first.status().is_final(),
        };
        let updates = stream::unfold(follow, |mut f| async move {
            let item = f.next().await?;
            Some((item, f))
        });
        Ok(stream::once(async move { Ok(JobProgress(first)) }).chain(updates))
    }
}

struct Follow {
    id: JobId,
    project: ProjectId,
    app: AppState,
    events: Events,
    access: Arc<ConnectionAccess>,
    ending: Ending,
    recheck: tokio::time::Interval,
    /// The state last sent.
    last: JobProgressEvent,
    /// The final status was sent, or access ended.
    done: bool,
}

impl Follow {
    /// The next item to send; `None` ends the stream.
    async fn next(&mut self) -> Option<async_graphql::Result<JobProgress>> {
        loop {
            if self.done {
                return None;
            }
            let fresh = tokio::select! {
                delivery = self.events.next() => match delivery? {
                    Delivery::Event(event) => match event.as_ref() {
                        DomainEvent::JobProgress(p) if p.job_id == self.id => Some(p.clone()),
                        other => {
                            if self.access.forget(other, self.project)
                                && let Some(Err(lost)) = self.access.check(self.project).await
                            {
                                return Some(Err(self.end(lost)));
                            }
                            None
                        }
                    },
                    Delivery::Resync { .. } => {
                        self.access.forget_all();
                        self.reread(false).await
                    }
                },
                _ = self.recheck.tick() => self.reread(true).await,
            };
            let Some(progress) = fresh else { continue };
            if progress == self.last {
                continue;
            }
            match self.access.check(self.project).await {
                Some(Ok(())) => {}
                Some(Err(lost)) => return Some(Err(self.end(lost))),
                None => continue,
            }
            self.done = progress.status().is_final();
            self.last = progress.clone();
            return Some(Ok(JobProgress(progress)));
        }
    }

    /// The job's state from its row; with `final_only`, only a final one (a running job's
    /// events, which may be on their way, are not overtaken by an older read).
    async fn reread(&self, final_only: bool) -> Option<JobProgressEvent> {
        let job = match self.app.store.job_by_id(self.id).await {
            Ok(Some(job)) => job,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, job = %self.id, "could not re-read a followed job");
                return None;
            }
        };
        (!final_only || job.status.is_final()).then(|| JobProgressEvent::from(&DomainProgress::from(&job)))
    }

    fn end(&mut self, lost: Lost) -> async_graphql::Error {
        self.done = true;
        self.ending.error(lost)
    }
}
