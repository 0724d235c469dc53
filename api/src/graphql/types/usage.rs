//! Usage accounting as clients see it: tokens and cost per user, per model and per day.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::ports::ModelRepository;
use nishan_domain::usage::{Totals, UsageReport as DomainReport};

use super::{LlmModel, User};
use crate::error::ApiResult;
use crate::graphql::loaders::{Loaded, UserLoader};
use crate::graphql::state;

/// Sums of a group of model calls.
#[derive(SimpleObject, Clone, Copy)]
pub struct UsageTotals {
    pub calls: u64,
    pub failed_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub tokens: u64,
    pub cost: f64,
}

impl From<Totals> for UsageTotals {
    fn from(t: Totals) -> Self {
        Self {
            calls: t.calls,
            failed_calls: t.failed_calls,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            tokens: t.tokens(),
            cost: t.cost,
        }
    }
}

pub struct UserUsage {
    user: Option<nishan_domain::ids::UserId>,
    totals: Totals,
}

#[Object]
impl UserUsage {
    async fn user_id(&self) -> Option<ID> {
        self.user.map(|u| ID(u.to_string()))
    }
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.user else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    async fn usage(&self) -> UsageTotals {
        self.totals.into()
    }
}

pub struct ModelUsage {
    model: Option<uuid::Uuid>,
    totals: Totals,
}

#[Object]
impl ModelUsage {
    async fn model_id(&self) -> Option<ID> {
        self.model.map(|m| ID(m.to_string()))
    }
    /// Null when the model has been deleted since.
    async fn model(&self, ctx: &Context<'_>) -> ApiResult<Option<LlmModel>> {
        let Some(id) = self.model else { return Ok(None) };
        Ok(state(ctx).store.model_by_id(id).await?.map(LlmModel))
    }
    async fn usage(&self) -> UsageTotals {
        self.totals.into()
    }
}

#[derive(SimpleObject)]
pub struct DayUsage {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub usage: UsageTotals,
}

/// Model usage over `[from, to)`.
pub struct UsageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub report: DomainReport,
}

#[Object]
impl UsageReport {
    async fn from(&self) -> DateTime<Utc> {
        self.from
    }
    async fn to(&self) -> DateTime<Utc> {
        self.to
    }
    async fn total(&self) -> UsageTotals {
        self.report.total.into()
    }
    async fn by_user(&self) -> Vec<UserUsage> {
        self.report.by_user.iter().map(|(u, t)| UserUsage { user: *u, totals: *t }).collect()
    }
    async fn by_model(&self) -> Vec<ModelUsage> {
        self.report.by_model.iter().map(|(m, t)| ModelUsage { model: *m, totals: *t }).collect()
    }
    /// Every day of the range, days without calls included.
    async fn by_day(&self) -> Vec<DayUsage> {
        self.report.by_day.iter().map(|(d, t)| DayUsage { day: d.to_string(), usage: (*t).into() }).collect()
    }
}
