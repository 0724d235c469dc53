//! The query root, merged from one object per area.

mod accounts;
mod projects;

#[derive(async_graphql::MergedObject, Default)]
pub struct Query(accounts::AccountQuery, projects::ProjectQuery);
