//! Outbound HTTP to addresses users choose (sources fetched by INGESTION jobs, webhooks): the
//! address guard every such request goes through, so no user can make the server reach its own
//! network (server-side request forgery).

pub mod fetch;
pub mod guard;
