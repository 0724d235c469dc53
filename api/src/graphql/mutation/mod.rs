//! The mutation root, merged from one object per area. Every mutation is one transaction in
//! the store, with its audit row.

mod accounts;
mod projects;

#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(accounts::AccountMutation, projects::ProjectMutation);
