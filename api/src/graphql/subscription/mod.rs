//! The subscription root, merged from one object per area. Subscriptions are served over
//! WebSocket (`/graphql/ws`, see `crate::ws`); those that follow a project's data check the
//! caller's access for every event (`access`).

pub mod access;
mod activity;
mod chat;
mod follow;
mod heartbeat;
pub mod hub;
mod jobs;

#[derive(async_graphql::MergedSubscription, Default)]
pub struct Subscription(
    heartbeat::HeartbeatSubscription,
    jobs::JobSubscription,
    activity::ActivitySubscription,
    chat::ChatSubscription,
);
