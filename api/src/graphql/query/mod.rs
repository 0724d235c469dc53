//! The query root, merged from one object per area.

mod accounts;
mod assignments;
mod audit;
mod chat;
mod curation;
mod documents;
mod entity_types;
mod exchange;
mod jobs;
mod knowledge;
mod learning;
mod projects;
mod search;
mod settings;
mod sources;
mod statistics;
mod webhooks;

#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    accounts::AccountQuery,
    projects::ProjectQuery,
    documents::DocumentQuery,
    entity_types::EntityTypeQuery,
    jobs::JobQuery,
    learning::LearningQuery,
    exchange::ExchangeQuery,
    statistics::StatisticsQuery,
    audit::AuditQuery,
    search::SearchQuery,
    knowledge::KnowledgeQuery,
    chat::ChatQuery,
    webhooks::WebhookQuery,
    sources::SourceQuery,
    settings::SettingsQuery,
    assignments::AssignmentQuery,
    curation::CurationQuery,
);
