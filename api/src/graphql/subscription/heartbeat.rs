//! `heartbeat`: the server's clock at a steady interval. A dashboard uses it to see that its
//! subscription connection is alive end to end (through proxies that buffer or drop idle
//! sockets), and how far its clock is from the server's.

use std::time::Duration;

use async_graphql::{Context, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;

use crate::error::bad_input;

const MIN_INTERVAL_MS: i32 = 100;
const MAX_INTERVAL_MS: i32 = 60_000;

#[derive(Default)]
pub struct HeartbeatSubscription;

#[Subscription]
impl HeartbeatSubscription {
    /// The server's time now, then every `intervalMs` milliseconds (100 to 60000).
    async fn heartbeat(
        &self,
        _ctx: &Context<'_>,
        #[graphql(default = 1000)] interval_ms: i32,
    ) -> async_graphql::Result<impl Stream<Item = DateTime<Utc>>> {
        if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&interval_ms) {
            return Err(bad_input("intervalMs", "must be between 100 and 60000").into());
        }
        let interval = Duration::from_millis(interval_ms as u64);
        Ok(futures_util::stream::unfold(true, move |first| async move {
            if !first {
                tokio::time::sleep(interval).await;
            }
            Some((Utc::now(), false))
        }))
    }
}
