//! The GraphQL schema: one query, mutation and subscription root merged from one file per
//! area, the limits and checks every request runs under, and the per-request context.

pub mod batching;
pub mod document_size;
pub mod execution;
pub mod gate;
pub mod input_limits;
pub mod loaders;
pub mod mutation;
pub mod operation;
pub mod pagination;
pub mod persisted_queries;
pub mod query;
pub mod response_order;
pub mod subscription;
pub mod types;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::{Context, Data, Schema};
use nishan_domain::audit::RequestMeta;

use crate::auth::Viewer;
use crate::graphql::batching::BatchQueue;
use crate::state::AppState;

pub type NishanSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Builds the schema with the configured limits; in production without introspection and
/// field suggestions.
pub fn build_schema(state: AppState) -> NishanSchema {
    let settings = state.settings.clone();
    let mut builder = Schema::build(query::Query::default(), mutation::Mutation::default(), Default::default())
        .limit_complexity(settings.max_complexity)
        .limit_directives(settings.surface.max_directives)
        // One extension holds every check an operation passes (`operation`). The gate limits
        // depth itself, so that tools' introspection queries, deeper than data queries, pass.
        .extension(operation::OperationChecks {
            gate: gate::Gate {
                max_depth: settings.max_depth,
                max_aliases: settings.surface.max_aliases,
                max_fields: settings.surface.max_fields,
                input_sizes: input_limits::Sizes { document_bytes: settings.max_document_bytes },
            },
            persisted: persisted_queries::PersistedQueries::default(),
            max_response_bytes: settings.surface.max_response_bytes,
        })
        .data(state);
    if settings.surface.production {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The SDL of the schema, as written to `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(query::Query::default(), mutation::Mutation::default(), subscription::Subscription::default())
        .finish()
        .sdl()
}

/// Everything one request carries into its resolvers.
pub struct RequestContext {
    pub viewer: Viewer,
    pub meta: RequestMeta,
}

/// The per-request data: the caller, the request's origin and fresh DataLoaders (fresh per
/// request because some answers depend on who asks).
///
/// `batches`: where the loaders run their batches. HTTP requests pass their own queue and
/// drive it (`BatchQueue::run`); a WebSocket connection, whose operations are driven by the
/// protocol library, passes `None` and its batches go to the runtime.
pub fn request_data(state: &AppState, viewer: Viewer, meta: RequestMeta, batches: Option<&BatchQueue>) -> Data {
    let actor = viewer.actor();
    let delay = std::time::Duration::from_millis(state.settings.loader_delay_ms);
    let mut data = Data::default();
    data.insert(RequestContext { viewer, meta });
    // Cached, because each loader lives for one request: a key fetched once (the one entity
    // type of a thousand entities) is not fetched again by a later batch.
    macro_rules! register {
        ($($loader:expr),* $(,)?) => {$(
            let loader = match batches {
                Some(queue) => DataLoader::with_cache($loader, queue.spawner(), HashMapCache::default()),
                None => DataLoader::with_cache($loader, tokio::spawn, HashMapCache::default()),
            };
            data.insert(loader.delay(delay).max_batch_size(LOADER_MAX_BATCH));
        )*};
    }
    let store = &state.store;
    register!(
        loaders::UserLoader(store.clone()),
        loaders::MemberCountLoader(store.clone()),
        loaders::MyRoleLoader { store: store.clone(), actor },
        loaders::ProjectLoader(store.clone()),
        loaders::ProjectTotalsLoader(store.clone()),
        loaders::DocumentLoader(store.clone()),
        loaders::ArtifactLoader(store.clone()),
        loaders::EntityLoader(store.clone()),
        loaders::EntityTypeLoader(store.clone()),
        loaders::OutgoingLoader(store.clone()),
        loaders::IncomingLoader(store.clone()),
        loaders::EntityPageLoader(store.clone()),
        loaders::EntityCountLoader(store.clone()),
        loaders::KnowledgeItemLoader(store.clone()),
        loaders::MentionCountLoader(store.clone()),
        loaders::EntityKnowledgeLoader(store.clone()),
    );
    let content_batches = match batches {
        Some(queue) => DataLoader::with_cache(
            loaders::DocumentContentLoader(store.clone()),
            queue.spawner(),
            HashMapCache::default(),
        ),
        None => {
            DataLoader::with_cache(loaders::DocumentContentLoader(store.clone()), tokio::spawn, HashMapCache::default())
        }
    };
    data.insert(loaders::AccessOnce::default());
    data.insert(loaders::ContentLoader::new(content_batches.delay(delay).max_batch_size(LOADER_MAX_BATCH)));
    data
}

/// The per-request data of a subscription: the caller and the request's origin, without the
/// DataLoaders (a subscription lives long, and its events need none).
pub fn subscription_data(viewer: Viewer, meta: RequestMeta) -> Data {
    let mut data = Data::default();
    data.insert(RequestContext { viewer, meta });
    data
}

/// Most keys one loader batch sends to the database (an `IN` list of this many ids).
const LOADER_MAX_BATCH: usize = 10_000;

pub(crate) fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub(crate) fn request<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}
