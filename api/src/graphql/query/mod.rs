//! The query root, merged from one object per area.

mod accounts;
mod documents;
mod entity_types;
mod jobs;
mod projects;

#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    accounts::AccountQuery,
    projects::ProjectQuery,
    documents::DocumentQuery,
    entity_types::EntityTypeQuery,
    jobs::JobQuery,
);
