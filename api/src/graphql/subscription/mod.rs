//! The subscription root, merged from one object per area. Subscriptions are served over
//! WebSocket (`/graphql/ws`, see `crate::ws`).

mod heartbeat;
mod jobs;

#[derive(async_graphql::MergedSubscription, Default)]
pub struct Subscription(heartbeat::HeartbeatSubscription, jobs::JobSubscription);
