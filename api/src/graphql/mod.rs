//! The GraphQL schema: one query, mutation (and later subscription) root merged from one
//! file per area, the limits every request runs under, and the per-request context.

pub mod loaders;
pub mod mutation;
pub mod pagination;
pub mod query;
pub mod types;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Data, EmptySubscription, Schema};
use nishan_domain::audit::RequestMeta;

use crate::auth::Viewer;
use crate::state::AppState;

pub type NishanSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// Builds the schema with the configured depth and complexity limits.
pub fn build_schema(state: AppState) -> NishanSchema {
    let settings = state.settings.clone();
    Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        EmptySubscription,
    )
    .limit_depth(settings.max_depth)
    .limit_complexity(settings.max_complexity)
    .data(state)
    .finish()
}

/// The SDL of the schema, as written to `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        EmptySubscription,
    )
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
pub fn request_data(state: &AppState, viewer: Viewer, meta: RequestMeta) -> Data {
    let actor = viewer.actor();
    let mut data = Data::default();
    data.insert(RequestContext { viewer, meta });
    data.insert(DataLoader::new(
        loaders::UserLoader(state.store.clone()),
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        loaders::MemberCountLoader(state.store.clone()),
        tokio::spawn,
    ));
    data.insert(DataLoader::new(
        loaders::MyRoleLoader {
            store: state.store.clone(),
            actor,
        },
        tokio::spawn,
    ));
    data
}

pub(crate) fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub(crate) fn request<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}
