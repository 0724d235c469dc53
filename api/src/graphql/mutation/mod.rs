//! The mutation root, merged from one object per area. Every mutation is one transaction in
//! the store, with its audit row.

mod accounts;
mod assignments;
mod chat;
mod curation;
mod documents;
mod embeddings;
mod entities;
mod entity_types;
mod exchange;
mod jobs;
mod knowledge;
mod learning;
mod projects;
mod settings;
mod sources;
mod webhooks;

#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    accounts::AccountMutation,
    projects::ProjectMutation,
    documents::DocumentMutation,
    entities::EntityMutation,
    entity_types::EntityTypeMutation,
    jobs::JobMutation,
    learning::LearningMutation,
    exchange::ExchangeMutation,
    knowledge::KnowledgeMutation,
    chat::ChatMutation,
    webhooks::WebhookMutation,
    sources::SourceMutation,
    settings::SettingsMutation,
    assignments::AssignmentMutation,
    curation::CurationMutation,
    embeddings::EmbeddingMutation,
);
