//! Inter-annotator agreement (issue 12), as clients see it.

use std::sync::Arc;

use async_graphql::{Context, Object};
use nishan_domain::ports::ModelRepository;
use nishan_domain::rounds::Layer;
use nishan_domain::rounds::agreement::{DocumentAgreement, PairAgreement, TypeAgreement};
use nishan_domain::service::assignments::AgreementOutcome;

use super::{Document, EntityType, LlmModel, User};
use crate::error::ApiResult;
use crate::graphql::loaders::{DocumentLoader, Loaded, UserLoader};

/// Agreement between the annotator layers of a project's documents. Units are the documents'
/// words (UAX #29, the words of `wordCount`); a word's label for a layer is the type of that
/// layer's entity covering it, `O` when none. A measure is null where it is undefined (no
/// units, or no variation).
pub struct AgreementReport(pub Arc<AgreementOutcome>);

#[Object]
impl AgreementReport {
    /// Krippendorff's α (nominal) over the words at least two layers labelled.
    async fn krippendorff_alpha(&self) -> Option<f64> {
        self.0.report.krippendorff_alpha
    }
    /// Fleiss' κ over the words every compared layer labelled.
    async fn fleiss_kappa(&self) -> Option<f64> {
        self.0.report.fleiss_kappa
    }
    /// Krippendorff's α (nominal) with every character a unit.
    async fn character_alpha(&self) -> Option<f64> {
        self.0.report.character_alpha
    }
    /// Words at least two layers labelled (the units of α).
    async fn units_compared(&self) -> u64 {
        self.0.report.units_compared as u64
    }
    /// Words every compared layer labelled (the units of Fleiss' κ).
    async fn fleiss_units(&self) -> u64 {
        self.0.report.fleiss_units as u64
    }
    /// Cohen's κ and span F1 of each pair of layers, over the documents both annotated.
    async fn pairs(&self) -> Vec<AgreementPair> {
        self.0.report.pairs.iter().cloned().map(AgreementPair).collect()
    }
    /// Agreement on each entity type used.
    async fn by_type(&self) -> Vec<TypeAgreementReport> {
        self.0.report.by_type.iter().cloned().map(|t| TypeAgreementReport(t, self.0.clone())).collect()
    }
    /// Agreement within each compared document.
    async fn by_document(&self) -> Vec<DocumentAgreementReport> {
        self.0.report.by_document.iter().filter(|d| d.layers >= 2).cloned().map(DocumentAgreementReport).collect()
    }
}

async fn layer_user(ctx: &Context<'_>, layer: Layer) -> ApiResult<Option<User>> {
    match layer {
        Layer::Annotator(u) => Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(u).await?.map(User::new)),
        _ => Ok(None),
    }
}

async fn layer_model(ctx: &Context<'_>, layer: Layer) -> ApiResult<Option<LlmModel>> {
    match layer {
        Layer::Model(m) => Ok(crate::graphql::state(ctx).store.model_by_id(m).await?.map(LlmModel)),
        _ => Ok(None),
    }
}

/// Agreement of two layers.
pub struct AgreementPair(pub PairAgreement);

#[Object]
impl AgreementPair {
    /// The first layer's annotator (null for the model's layer).
    async fn annotator_a(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        layer_user(ctx, self.0.a).await
    }
    async fn annotator_b(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        layer_user(ctx, self.0.b).await
    }
    /// The first layer's model, when it is a model's suggestions (null for an annotator's).
    async fn model_a(&self, ctx: &Context<'_>) -> ApiResult<Option<LlmModel>> {
        layer_model(ctx, self.0.a).await
    }
    async fn model_b(&self, ctx: &Context<'_>) -> ApiResult<Option<LlmModel>> {
        layer_model(ctx, self.0.b).await
    }
    /// The layers' keys (`annotator:<id>`, `model:<id>`).
    async fn layer_a(&self) -> String {
        self.0.a.key()
    }
    async fn layer_b(&self) -> String {
        self.0.b.key()
    }
    /// Words both layers labelled.
    async fn units(&self) -> u64 {
        self.0.units as u64
    }
    async fn cohen_kappa(&self) -> Option<f64> {
        self.0.cohen_kappa
    }
    /// Span F1, an entity found when the other layer has one with the same start, end and type.
    async fn f1_exact(&self) -> Option<f64> {
        self.0.f1_exact
    }
    /// Span F1, an entity found when the other layer has one of the same type overlapping it.
    async fn f1_overlap(&self) -> Option<f64> {
        self.0.f1_overlap
    }
}

/// Agreement on one entity type.
pub struct TypeAgreementReport(pub TypeAgreement, Arc<AgreementOutcome>);

#[Object(name = "TypeAgreement")]
impl TypeAgreementReport {
    async fn entity_type(&self) -> Option<EntityType> {
        self.1.types.get(&self.0.entity_type).cloned().map(EntityType)
    }
    /// α over words labelled "this type" or "not this type".
    async fn krippendorff_alpha(&self) -> Option<f64> {
        self.0.krippendorff_alpha
    }
    async fn f1_exact(&self) -> Option<f64> {
        self.0.f1_exact
    }
    async fn f1_overlap(&self) -> Option<f64> {
        self.0.f1_overlap
    }
}

/// Agreement within one document.
pub struct DocumentAgreementReport(pub DocumentAgreement);

#[Object(name = "DocumentAgreement")]
impl DocumentAgreementReport {
    async fn document(&self, ctx: &Context<'_>) -> ApiResult<Option<Document>> {
        Ok(ctx.data_unchecked::<Loaded<DocumentLoader>>().load_one(self.0.document).await?.map(Document))
    }
    /// How many of the compared layers annotated it.
    async fn layers(&self) -> u64 {
        self.0.layers as u64
    }
    /// Its words.
    async fn units(&self) -> u64 {
        self.0.units as u64
    }
    async fn krippendorff_alpha(&self) -> Option<f64> {
        self.0.krippendorff_alpha
    }
}
