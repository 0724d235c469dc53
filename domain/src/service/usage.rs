//! Usage accounting as researchers and admins read it: global admins see every call; a
//! project's OWNERs and ADMINs see their project's; anyone else sees their own.

use chrono::{DateTime, Duration, Utc};

use crate::error::{DomainError, DomainResult};
use crate::events::NoEvents;
use crate::ids::ProjectId;
use crate::membership::Permission;
use crate::policy::Actor;
use crate::ports::{ProjectRepository, UsageRepository};
use crate::service::projects::{ProjectRef, Projects};
use crate::usage::{Totals, UsageReport, aggregate};

/// The range when none is given: the last 30 days.
pub const DEFAULT_DAYS: i64 = 30;
/// The longest range one report covers.
pub const MAX_DAYS: i64 = 366;

pub struct Usage<'a, S> {
    pub store: &'a S,
}

impl<S: UsageRepository + ProjectRepository> Usage<'_, S> {
    /// Usage in `[from, to)`; returns the range used with the report.
    pub async fn report(
        &self,
        actor: &Actor,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        project: Option<ProjectId>,
    ) -> DomainResult<(DateTime<Utc>, DateTime<Utc>, UsageReport)> {
        let to = to.unwrap_or_else(Utc::now);
        let from = from.unwrap_or(to - Duration::days(DEFAULT_DAYS));
        if from >= to {
            return Err(DomainError::invalid("from", "must be before `to`"));
        }
        if to - from > Duration::days(MAX_DAYS) {
            return Err(DomainError::invalid("from", format!("a report covers at most {MAX_DAYS} days")));
        }
        let (project, user) = match project {
            Some(p) => {
                let (_, access) = Projects { store: self.store, events: &NoEvents }
                    .find(Some(actor), ProjectRef::Id(p))
                    .await?
                    .ok_or(DomainError::NotFound { resource: "project" })?;
                access
                    .require(Permission::ManageUsers)
                    .map_err(|_| DomainError::forbidden("only the project's owners and admins read its usage"))?;
                (Some(p), None)
            }
            None if actor.is_admin => (None, None),
            None => (None, Some(actor.user_id)),
        };
        let calls = self.store.calls_between(from, to, project, user).await?;
        Ok((from, to, aggregate(&calls, from, to)))
    }

    /// Every call ever made for a project (for its statistics; the caller checked access).
    pub async fn project_totals(&self, project: ProjectId) -> DomainResult<Totals> {
        let start = DateTime::<Utc>::from_timestamp(0, 0).expect("the epoch");
        let end = Utc::now() + Duration::days(1);
        let calls = self.store.calls_between(start, end, Some(project), None).await?;
        Ok(calls.iter().fold(Totals::default(), |mut t, c| {
            t.add(c);
            t
        }))
    }
}
