//! `documentActivity`: every entity created, changed, verified, rejected, deleted or imported
//! in a document, and every new version, as the services publish them. Nothing is read first
//! (there is no state to start from); when events may have been missed the subscriber gets a
//! `RESYNC` event, its cue to read the document again. Every event is checked against the
//! caller's access (`access`): a caller who signed out or left the project gets an `error`
//! and nothing more.
//!
//! Over WebSocket, subscribers that would receive the same bytes share one render of each
//! event (`hub`); elsewhere (a schema called directly) each subscription follows the bus itself.

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use futures_util::stream::{self, BoxStream, StreamExt};
use nishan_domain::events::{ActivityEvent, ActivityKind, DomainEvent};
use nishan_domain::ids::{DocumentId, ProjectId, UserId};
use nishan_domain::policy::ProjectAccess;
use nishan_domain::rounds::{AnnotationMode, may_read};
use nishan_infrastructure::events::{Delivery, Subscription as Events, Topic};

use super::access::ConnectionAccess;
use super::follow::{Ending, access, api, refused};
use super::hub::{Joining, RenderFeed, ShareWith};
use crate::graphql::types::{DocumentActivity, parse_id};
use crate::graphql::{request, state};
use crate::ws::protocol::Handover;

#[derive(Default)]
pub struct ActivitySubscription;

#[Subscription]
impl ActivitySubscription {
    /// Every entity created, changed, verified, rejected, deleted or imported in the document,
    /// and every new version; `RESYNC` when events may have been missed. Only users who can
    /// read the document may subscribe (NOT_FOUND otherwise, UNAUTHENTICATED when not signed
    /// in); a subscriber who loses access gets an `error` (UNAUTHENTICATED or FORBIDDEN) and
    /// the stream ends.
    async fn document_activity(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<DocumentActivity>>> {
        let doc = DocumentId(parse_id(&document_id, "documentId").map_err(api)?);
        if let Some(feed) = ctx.data_opt::<RenderFeed>() {
            // A group's render: its events come from the group, which chose them for its key.
            let events = feed.take().ok_or_else(|| async_graphql::Error::new("a render feed is followed once"))?;
            return Ok(stream::unfold(events, |mut events| async move {
                let activity = events.recv().await?;
                Some((Ok(DocumentActivity(activity)), events))
            })
            .boxed());
        }
        let app = state(ctx);
        let actor = request(ctx).viewer.optional().map_err(api)?;
        let (document, project, layers) = app
            .documents()
            .head_project_access(actor.as_ref(), doc)
            .await
            .map_err(|e| refused(actor.as_ref(), "document", e))?;
        let access = access(ctx);
        let mut topics = vec![Topic::Document(doc), Topic::Project(document.project_id)];
        topics.extend(access.user().map(Topic::User));
        let layers = (project.annotation_mode, layers, actor.as_ref().map(|a| a.user_id));
        if let (Some(share), Some(handover)) = (ctx.data_opt::<ShareWith>(), ctx.data_opt::<Arc<Handover>>()) {
            let bus = app.events.clone();
            let results = share.hub.join(
                share,
                Joining {
                    doc,
                    project: document.project_id,
                    layers,
                    access,
                    field: (ctx.item.pos, ctx.item.node.response_key().node.to_string()),
                    events: Box::new(move || bus.subscribe_to(&topics)),
                },
            );
            handover.give(results);
            return Ok(stream::pending().boxed());
        }
        let watch = Watch {
            doc,
            layers,
            project: document.project_id,
            events: app.events.subscribe_to(&topics),
            access,
            ending: Ending::of(ctx, "document"),
            done: false,
        };
        Ok(stream::unfold(watch, |mut w| async move {
            let item = w.next().await?;
            Some((item, w))
        })
        .boxed())
    }
}

struct Watch {
    doc: DocumentId,
    /// What decides which layers' events the subscriber receives: the project's annotation
    /// mode, the subscriber's access and who they are (an annotator never receives another
    /// annotator's layer).
    layers: (AnnotationMode, ProjectAccess, Option<UserId>),
    project: ProjectId,
    events: Events,
    access: Arc<ConnectionAccess>,
    ending: Ending,
    done: bool,
}

impl Watch {
    async fn next(&mut self) -> Option<async_graphql::Result<DocumentActivity>> {
        loop {
            if self.done {
                return None;
            }
            let activity = match self.events.next().await? {
                Delivery::Event(event) => match event.as_ref() {
                    DomainEvent::DocumentActivity(a) if a.document_id == self.doc => {
                        let (mode, access, caller) = &self.layers;
                        if !may_read(*mode, access, *caller, a.layer()) {
                            continue;
                        }
                        Some(a.clone())
                    }
                    other => {
                        if !self.access.forget(other, self.project) {
                            continue;
                        }
                        None
                    }
                },
                Delivery::Resync { missed, .. } => {
                    self.access.forget_all();
                    missed.then(|| ActivityEvent::new(self.doc, ActivityKind::Resync, &[], None))
                }
            };
            match self.access.check(self.project).await {
                Some(Ok(())) => {}
                Some(Err(lost)) => {
                    self.done = true;
                    return Some(Err(self.ending.error(lost)));
                }
                None => continue,
            }
            if let Some(activity) = activity {
                return Some(Ok(DocumentActivity(activity)));
            }
        }
    }
}
