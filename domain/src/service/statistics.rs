//! Statistics of a project or document, and the quality of models' suggestions. Reading needs
//! read access to the project; a model's quality across every project is for global admins.

use uuid::Uuid;

use crate::document::ProcessingStatus;
use crate::error::{DomainError, DomainResult};
use crate::events::NoEvents;
use crate::ids::ProjectId;
use crate::policy::Actor;
use crate::ports::{ProjectRepository, Scope, StatisticsRepository};
use crate::rounds::{Layer, LayerRequest, reported_layer};
use crate::service::projects::{ProjectRef, Projects};
use crate::statistics::{EntityStatistics, ModelQuality, QualityCounts, model_quality};

pub struct Statistics<'a, S> {
    pub store: &'a S,
}

impl<S: StatisticsRepository + ProjectRepository> Statistics<'_, S> {
    /// The scope of a project the caller may read; NOT_FOUND otherwise. The other methods take
    /// scopes obtained this way, or of documents the caller has already been allowed to read.
    pub async fn project_scope(&self, actor: Option<&Actor>, project: ProjectId) -> DomainResult<Scope> {
        Projects { store: self.store, events: &NoEvents }
            .find(actor, ProjectRef::Id(project))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        Ok(Scope::Project(project))
    }

    /// The scope of a project the caller may read, and the layer its statistics read: the
    /// curated layer unless `layer` names another the caller may read ([`reported_layer`]).
    pub async fn project_layer(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
        layer: LayerRequest,
    ) -> DomainResult<(Scope, Layer)> {
        let (p, access) = Projects { store: self.store, events: &NoEvents }
            .find(actor, ProjectRef::Id(project))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        let layer = reported_layer(p.annotation_mode, &access, actor.map(|a| a.user_id), layer)?;
        Ok((Scope::Project(project), layer))
    }

    /// The scope's entities of one layer, counted.
    pub async fn entities(&self, scope: Scope, layer: Layer) -> DomainResult<EntityStatistics> {
        Ok(EntityStatistics::from_tallies(&self.store.entity_tallies(scope, layer).await?))
    }

    /// Documents per processing status, every status listed (zero included).
    pub async fn documents_by_status(&self, project: ProjectId) -> DomainResult<Vec<(ProcessingStatus, u64)>> {
        let counts = self.store.documents_by_status(project).await?;
        Ok(ProcessingStatus::ALL
            .iter()
            .map(|s| (*s, counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n)))
            .collect())
    }

    /// The quality of every model with suggestions in the scope's layer.
    pub async fn model_quality(&self, scope: Scope, layer: Layer) -> DomainResult<Vec<ModelQuality>> {
        let (spans, rejections) = self.store.quality_records(Some(scope), None, layer).await?;
        Ok(model_quality(&spans, &rejections))
    }

    /// One model's quality in a project the caller may read, or, for global admins without a
    /// project, in every project, over the curated layer. A model without suggestions there has zero counts.
    pub async fn quality_of_model(
        &self,
        actor: Option<&Actor>,
        model: Uuid,
        project: Option<ProjectId>,
    ) -> DomainResult<ModelQuality> {
        let scope = match project {
            Some(p) => Some(self.project_scope(actor, p).await?),
            None if actor.is_some_and(|a| a.is_admin) => None,
            None => match actor {
                Some(_) => return Err(DomainError::invalid("projectId", "is required unless you are a global admin")),
                None => return Err(DomainError::Unauthenticated),
            },
        };
        let (spans, rejections) = self.store.quality_records(scope, Some(model), Layer::Curated).await?;
        Ok(model_quality(&spans, &rejections).into_iter().find(|q| q.model_id == model).unwrap_or(ModelQuality {
            model_id: model,
            overall: QualityCounts::default(),
            by_type: vec![],
        }))
    }
}
