//! The SeaORM models of the database tables, private to the infrastructure
//! crate: they mirror the schema made by `nishan-migration` column for column,
//! and never leave this crate (repositories map them to domain types).

pub(crate) mod annotation;
pub(crate) mod artifact;
pub(crate) mod assignment;
pub(crate) mod audit_log;
pub(crate) mod chat_message;
pub(crate) mod chat_session;
pub(crate) mod curation;
pub(crate) mod curation_decision;
pub(crate) mod document;
pub(crate) mod document_artifact;
pub(crate) mod document_stats;
pub(crate) mod document_version;
pub(crate) mod entity_rejection;
pub(crate) mod entity_relationship;
pub(crate) mod entity_type;
pub(crate) mod experiment;
pub(crate) mod experiment_prediction;
pub(crate) mod experiment_run;
pub(crate) mod knowledge_item;
pub(crate) mod knowledge_item_version;
pub(crate) mod knowledge_link;
pub(crate) mod knowledge_proposal;
pub(crate) mod knowledge_revision;
pub(crate) mod learned_model;
pub(crate) mod llm_model;
pub(crate) mod mention;
pub(crate) mod model_call;
pub(crate) mod model_call_slot;
pub(crate) mod processing_config;
pub(crate) mod processing_job;
pub(crate) mod project;
pub(crate) mod project_membership;
pub(crate) mod source;
pub(crate) mod system_setting;
pub(crate) mod user;
pub(crate) mod user_profile;
pub(crate) mod user_session;
pub(crate) mod webhook;
pub(crate) mod webhook_attempt;
pub(crate) mod webhook_delivery;
