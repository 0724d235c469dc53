//! Statistics: grouped counts of entities and documents, and the lean rows model quality is
//! computed from.

use nishan_domain::DomainResult;
use nishan_domain::document::ProcessingStatus;
use nishan_domain::entity::{EntitySource, previous_type};
use nishan_domain::ids::{DocumentId, EntityTypeId, ProjectId, UserId};
use nishan_domain::ports::{Scope, StatisticsRepository};
use nishan_domain::rounds::Layer;
use nishan_domain::statistics::{EntityTally, RejectionRecord, SpanRecord};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{Store, internal};
use crate::entity::{annotation, document, entity_rejection};

fn entity_scope(scope: Scope) -> Condition {
    match scope {
        Scope::Project(p) => Condition::all().add(annotation::Column::ProjectId.eq(p.0)),
        Scope::Document(d) => Condition::all().add(annotation::Column::DocumentId.eq(d.0)),
    }
}

/// The documents where a model made suggestions (kept or rejected).
fn documents_of_model(model: Uuid, column: impl ColumnTrait) -> Condition {
    let kept = Query::select()
        .column(annotation::Column::DocumentId)
        .from(annotation::Entity)
        .and_where(annotation::Column::LlmModelId.eq(model))
        .to_owned();
    let rejected = Query::select()
        .column(entity_rejection::Column::DocumentId)
        .from(entity_rejection::Entity)
        .and_where(entity_rejection::Column::LlmModelId.eq(model))
        .to_owned();
    Condition::any().add(column.in_subquery(kept)).add(column.in_subquery(rejected))
}

impl StatisticsRepository for Store {
    async fn entity_tallies(&self, scope: Scope, layer: Layer) -> DomainResult<Vec<EntityTally>> {
        let rows: Vec<(Uuid, String, bool, Option<Uuid>, i64)> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::EntityTypeId)
            .column(annotation::Column::Source)
            .column(annotation::Column::IsVerified)
            .column(annotation::Column::VerifiedBy)
            .column_as(annotation::Column::Id.count(), "n")
            .filter(entity_scope(scope))
            .filter(annotation::Column::Layer.eq(layer.key()))
            .group_by(annotation::Column::EntityTypeId)
            .group_by(annotation::Column::Source)
            .group_by(annotation::Column::IsVerified)
            .group_by(annotation::Column::VerifiedBy)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        rows.into_iter()
            .map(|(ty, source, verified, by, n)| {
                Ok(EntityTally {
                    entity_type_id: EntityTypeId(ty),
                    source: EntitySource::parse(&source)?,
                    verified,
                    verified_by: by.map(UserId),
                    count: n as u64,
                })
            })
            .collect()
    }

    async fn documents_by_status(&self, project: ProjectId) -> DomainResult<Vec<(ProcessingStatus, u64)>> {
        let rows: Vec<(String, i64)> = document::Entity::find()
            .select_only()
            .column(document::Column::ProcessingStatus)
            .column_as(document::Column::Id.count(), "n")
            .filter(document::Column::ProjectId.eq(project.0))
            .group_by(document::Column::ProcessingStatus)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        rows.into_iter().map(|(s, n)| Ok((ProcessingStatus::parse(&s)?, n as u64))).collect()
    }

    async fn quality_records(
        &self,
        scope: Option<Scope>,
        model: Option<Uuid>,
        layer: Layer,
    ) -> DomainResult<(Vec<SpanRecord>, Vec<RejectionRecord>)> {
        let judged = Condition::any()
            .add(annotation::Column::LlmModelId.is_not_null())
            .add(annotation::Column::IsVerified.eq(true))
            .add(annotation::Column::Source.is_in([EntitySource::Manual.as_str(), EntitySource::Correction.as_str()]));
        let mut cond = Condition::all().add(judged).add(annotation::Column::Layer.eq(layer.key()));
        if let Some(scope) = scope {
            cond = cond.add(entity_scope(scope));
        }
        if let Some(m) = model {
            cond = cond.add(documents_of_model(m, annotation::Column::DocumentId));
        }
        type Row = (Uuid, i32, i32, Uuid, String, bool, Option<Uuid>, serde_json::Value);
        let rows: Vec<Row> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::DocumentId)
            .column(annotation::Column::StartOffset)
            .column(annotation::Column::EndOffset)
            .column(annotation::Column::EntityTypeId)
            .column(annotation::Column::Source)
            .column(annotation::Column::IsVerified)
            .column(annotation::Column::LlmModelId)
            .column(annotation::Column::Attributes)
            .filter(cond)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        let spans = rows
            .into_iter()
            .map(|(doc, start, end, ty, source, verified, model, attributes)| {
                Ok(SpanRecord {
                    document_id: DocumentId(doc),
                    start: start as u32,
                    end: end as u32,
                    entity_type_id: EntityTypeId(ty),
                    source: EntitySource::parse(&source)?,
                    verified,
                    llm_model_id: model,
                    previous_type: previous_type(&attributes),
                })
            })
            .collect::<DomainResult<Vec<_>>>()?;
        let mut cond = Condition::all()
            .add(entity_rejection::Column::LlmModelId.is_not_null())
            .add(entity_rejection::Column::Layer.eq(layer.key()));
        match scope {
            Some(Scope::Project(p)) => cond = cond.add(entity_rejection::Column::ProjectId.eq(p.0)),
            Some(Scope::Document(d)) => cond = cond.add(entity_rejection::Column::DocumentId.eq(d.0)),
            None => {}
        }
        if let Some(m) = model {
            cond = cond.add(documents_of_model(m, entity_rejection::Column::DocumentId));
        }
        let rows: Vec<(Uuid, i32, i32, Uuid, Option<Uuid>)> = entity_rejection::Entity::find()
            .select_only()
            .column(entity_rejection::Column::DocumentId)
            .column(entity_rejection::Column::StartOffset)
            .column(entity_rejection::Column::EndOffset)
            .column(entity_rejection::Column::EntityTypeId)
            .column(entity_rejection::Column::LlmModelId)
            .filter(cond)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        let rejections = rows
            .into_iter()
            .map(|(doc, start, end, ty, model)| RejectionRecord {
                document_id: DocumentId(doc),
                start: start as u32,
                end: end as u32,
                entity_type_id: EntityTypeId(ty),
                llm_model_id: model,
            })
            .collect();
        Ok((spans, rejections))
    }
}
