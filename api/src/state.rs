//! What every request shares: the store, the hasher, the token issuer, the settings, the event
//! bus (every service that changes something publishes on it), the secret cipher, how models
//! are called and the clock of the time-window rules.

use std::sync::Arc;

use chrono::Duration;
use nishan_domain::service::accounts::Accounts;
use nishan_domain::service::audit::AuditLog;
use nishan_domain::service::documents::Documents;
use nishan_domain::service::entities::Entities;
use nishan_domain::service::entity_types::EntityTypes;
use nishan_domain::service::exchange::Exchange;
use nishan_domain::service::jobs::Jobs;
use nishan_domain::service::knowledge::Knowledge;
use nishan_domain::service::models::Models;
use nishan_domain::service::projects::Projects;
use nishan_domain::service::statistics::Statistics;
use nishan_infrastructure::Store;
use nishan_infrastructure::crypto::SecretBox;
use nishan_infrastructure::events::EventBus;
use nishan_infrastructure::jobs::ServerHandlers;
use nishan_infrastructure::password::Argon2Hasher;
use nishan_infrastructure::tokens::RandomTokens;

use crate::config::Settings;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub hasher: Argon2Hasher,
    pub tokens: RandomTokens,
    pub settings: Arc<Settings>,
    pub events: EventBus,
    pub cipher: SecretBox,
    /// How model calls are made (the HTTP providers).
    pub llm: crate::llm::MeteredClient,
    /// The job kinds this server runs.
    pub handlers: Arc<ServerHandlers>,
    /// What the time-window rules read as now (the system clock, but in tests).
    pub clock: crate::clock::Clock,
    /// Answers being written, and their followers (`subscription chatMessage`).
    pub chat_streams: Arc<crate::chat_streams::ChatStreams>,
    /// `documentActivity` renders shared by WebSocket subscribers.
    pub activity: crate::graphql::subscription::hub::Hub,
    /// The runtime settings in force (refreshed from the database).
    pub runtime: Arc<crate::runtime_settings::RuntimeCache>,
    /// What the server found and did as it started (logged by `nishan serve`).
    pub startup: Arc<crate::commands::Startup>,
}

impl AppState {
    pub fn accounts(&self) -> Accounts<'_, Store, Argon2Hasher, RandomTokens, EventBus> {
        Accounts {
            store: &self.store,
            hasher: &self.hasher,
            tokens: &self.tokens,
            events: &self.events,
            session_ttl: Duration::days(self.settings.session_ttl_days),
            login_limits: self.settings.login_limits(),
            now: self.clock.now(),
        }
    }

    pub fn projects(&self) -> Projects<'_, Store, EventBus> {
        Projects { store: &self.store, events: &self.events }
    }

    pub fn documents(&self) -> Documents<'_, Store, EventBus> {
        Documents { store: &self.store, events: &self.events, max_bytes: self.settings.max_document_bytes }
    }

    pub fn entities(&self) -> Entities<'_, Store, EventBus> {
        Entities { store: &self.store, events: &self.events }
    }

    pub fn assignments(&self) -> nishan_domain::service::assignments::Assignments<'_, Store, EventBus> {
        nishan_domain::service::assignments::Assignments { store: &self.store, events: &self.events }
    }

    pub fn curations(&self) -> nishan_domain::service::curation::Curations<'_, Store, EventBus> {
        nishan_domain::service::curation::Curations { store: &self.store, events: &self.events }
    }

    pub fn models(&self) -> Models<'_, Store, SecretBox> {
        Models { store: &self.store, cipher: &self.cipher }
    }

    pub fn usage(&self) -> nishan_domain::service::usage::Usage<'_, Store> {
        nishan_domain::service::usage::Usage { store: &self.store }
    }

    pub fn jobs(&self) -> Jobs<'_, Store, EventBus> {
        Jobs { store: &self.store, events: &self.events, kinds: self.handlers.as_ref() }
    }

    pub fn learning(&self) -> nishan_domain::service::learning::Learning<'_, Store, EventBus> {
        nishan_domain::service::learning::Learning {
            store: &self.store,
            events: &self.events,
            kinds: self.handlers.as_ref(),
        }
    }

    pub fn entity_types(&self) -> EntityTypes<'_, Store> {
        EntityTypes { store: &self.store }
    }

    pub fn audit_log(&self) -> AuditLog<'_, Store> {
        AuditLog { store: &self.store }
    }

    pub fn statistics(&self) -> Statistics<'_, Store> {
        Statistics { store: &self.store }
    }

    /// A search, hybrid when the project has embeddings (`embedder` embeds the query).
    pub fn search<'a, Q: nishan_domain::service::embeddings::Semantic>(
        &'a self,
        embedder: &'a Q,
    ) -> nishan_domain::service::search::Search<'a, Store, Q> {
        nishan_domain::service::search::Search { store: &self.store, semantic: Some(embedder) }
    }

    /// A query embedder for one request.
    pub fn query_embedder(
        &self,
        actor: Option<&nishan_domain::policy::Actor>,
    ) -> nishan_domain::service::embeddings::QueryEmbedder<'_, Store, crate::llm::MeteredClient, SecretBox> {
        nishan_domain::service::embeddings::QueryEmbedder::new(
            &self.store,
            &self.llm,
            &self.cipher,
            actor.map(|a| a.user_id),
        )
    }

    pub fn embeddings(&self) -> nishan_domain::service::embeddings::Embeddings<'_, Store> {
        nishan_domain::service::embeddings::Embeddings { store: &self.store }
    }

    pub fn knowledge(&self) -> Knowledge<'_, Store, EventBus> {
        Knowledge { store: &self.store, events: &self.events }
    }

    pub fn chat(
        &self,
    ) -> nishan_domain::service::chat::Chat<
        '_,
        Store,
        crate::llm::MeteredClient,
        SecretBox,
        nishan_infrastructure::jobs::SystemClock,
    > {
        nishan_domain::service::chat::Chat {
            store: &self.store,
            llm: &self.llm,
            cipher: &self.cipher,
            clock: &nishan_infrastructure::jobs::SystemClock,
            retry: nishan_domain::llm::retry::RetryPolicy::default(),
        }
    }

    pub fn webhooks(&self) -> nishan_domain::service::webhooks::Webhooks<'_, Store, SecretBox> {
        nishan_domain::service::webhooks::Webhooks { store: &self.store, cipher: &self.cipher }
    }

    pub fn sources(&self) -> nishan_domain::service::sources::Sources<'_, Store, EventBus> {
        nishan_domain::service::sources::Sources { store: &self.store, events: &self.events }
    }

    pub fn system_settings(&self) -> nishan_domain::service::settings::SystemSettings<'_, Store> {
        nishan_domain::service::settings::SystemSettings { store: &self.store, defaults: self.runtime.defaults() }
    }

    pub fn exchange(&self) -> Exchange<'_, Store, EventBus> {
        Exchange { store: &self.store, events: &self.events, max_bytes: self.settings.max_document_bytes }
    }
}
