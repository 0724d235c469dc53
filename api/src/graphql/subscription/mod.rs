//! The subscription root, merged from one object per area. Subscriptions are served over
//! WebSocket (`/graphql/ws`, see `crate::ws`).

mod heartbeat;

#[derive(async_graphql::MergedSubscription, Default)]
pub struct Subscription(heartbeat::HeartbeatSubscription);
