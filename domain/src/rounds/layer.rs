//! Layers: in a project's INDEPENDENT mode each annotator works in their own layer of a
//! document, a model's suggestions form the model's layer, and one curated layer holds the
//! gold; in SHARED mode there is one layer, the curated one, which everyone edits (as before).
//!
//! Which layer a request reads or writes is decided here once, from the caller's rights in the
//! project, the project's mode and the layer asked for: an annotator reads their own layer (or
//! the curated one) and never another annotator's; managers (OWNER, ADMIN, global admins) read
//! and write every layer; everyone else reads the curated layer only.

use crate::error::{DomainError, DomainResult};
use crate::ids::UserId;
use crate::membership::Permission;
use crate::policy::ProjectAccess;

/// How a project's members annotate a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AnnotationMode {
    /// One layer that every editor changes (the curated layer).
    #[default]
    Shared,
    /// Each annotator has their own layer of each document; the curated layer is the gold.
    Independent,
}

impl AnnotationMode {
    pub const ALL: [Self; 2] = [Self::Shared, Self::Independent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shared => "SHARED",
            Self::Independent => "INDEPENDENT",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| DomainError::invalid("annotationMode", format!("unknown annotation mode {s:?}")))
    }
}

/// One layer of a document's entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// The gold (and, in SHARED mode, the only layer).
    Curated,
    /// One annotator's own layer.
    Annotator(UserId),
    /// A model's suggestions (the model's id).
    Model(uuid::Uuid),
}

impl Layer {
    /// The layer's key as stored: `curated`, `annotator:<uuid>` or `model:<uuid>`.
    pub fn key(self) -> String {
        match self {
            Self::Curated => "curated".to_owned(),
            Self::Annotator(u) => format!("annotator:{}", u.0),
            Self::Model(m) => format!("model:{m}"),
        }
    }

    /// The layer of a stored key.
    pub fn parse_key(key: &str) -> DomainResult<Self> {
        let bad = || DomainError::internal(format!("unknown layer {key:?} in storage"));
        if key == "curated" {
            return Ok(Self::Curated);
        }
        let (kind, id) = key.split_once(':').ok_or_else(bad)?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| bad())?;
        match kind {
            "annotator" => Ok(Self::Annotator(UserId(id))),
            "model" => Ok(Self::Model(id)),
            _ => Err(bad()),
        }
    }

    /// The annotator whose layer this is, if it is one.
    pub fn annotator(self) -> Option<UserId> {
        match self {
            Self::Annotator(u) => Some(u),
            _ => None,
        }
    }
}

/// The layer a job's suggestions go to: in a SHARED project the curated layer (as before), in
/// an INDEPENDENT project the layer of the model that made them, never the gold.
pub fn suggestions_layer(mode: AnnotationMode, model: uuid::Uuid) -> Layer {
    match mode {
        AnnotationMode::Shared => Layer::Curated,
        AnnotationMode::Independent => Layer::Model(model),
    }
}

/// The layer a client asks for (`layer: {annotatorId, curated, modelId}`); all unset is the
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerRequest {
    pub annotator: Option<UserId>,
    pub curated: Option<bool>,
    /// A model's layer (the model's id): its suggestions in an INDEPENDENT project.
    pub model: Option<uuid::Uuid>,
}

impl LayerRequest {
    /// The request naming exactly `layer`.
    pub fn of(layer: Layer) -> Self {
        match layer {
            Layer::Curated => Self { curated: Some(true), ..Self::default() },
            Layer::Annotator(u) => Self { annotator: Some(u), ..Self::default() },
            Layer::Model(m) => Self { model: Some(m), ..Self::default() },
        }
    }

    /// The layer named, if one is: an error when two or a contradiction are sent.
    fn named(self) -> DomainResult<Option<Layer>> {
        if let Some(m) = self.model {
            return if self.annotator.is_some() || self.curated == Some(true) {
                Err(DomainError::invalid("layer", "name one layer: a model's, an annotator's or the curated one"))
            } else {
                Ok(Some(Layer::Model(m)))
            };
        }
        match (self.annotator, self.curated) {
            (Some(_), Some(true)) => {
                Err(DomainError::invalid("layer", "name either an annotator's layer or the curated one, not both"))
            }
            (Some(u), _) => Ok(Some(Layer::Annotator(u))),
            (None, Some(true)) => Ok(Some(Layer::Curated)),
            (None, Some(false)) => {
                Err(DomainError::invalid("layer", "curated: false names no layer; send annotatorId"))
            }
            (None, None) => Ok(None),
        }
    }
}

/// Whether the caller manages the project's layers: OWNER, ADMIN or a global admin.
fn manages(access: &ProjectAccess) -> bool {
    access.permissions.allows(Permission::EditProject)
}

/// Whether the caller annotates in the project (edits entities without managing it).
fn annotates(access: &ProjectAccess) -> bool {
    access.permissions.allows(Permission::EditEntities) && !manages(access)
}

/// The layer a caller reads: the one asked for when they may read it, otherwise the default
/// (their own layer for an annotator of an INDEPENDENT project, the curated layer for everyone
/// else). Asking for a layer one may not read is FORBIDDEN; asking for an annotator's layer of
/// a SHARED project is BAD_USER_INPUT. The caller must already be able to read the project.
pub fn readable_layer(
    mode: AnnotationMode,
    access: &ProjectAccess,
    caller: Option<UserId>,
    request: LayerRequest,
) -> DomainResult<Layer> {
    access.require_read()?;
    let named = request.named()?;
    if mode == AnnotationMode::Shared {
        return match named {
            None | Some(Layer::Curated) => Ok(Layer::Curated),
            Some(_) => Err(DomainError::invalid("layer", "the project is SHARED: it has one layer, the curated one")),
        };
    }
    let own = caller.filter(|_| annotates(access)).map(Layer::Annotator);
    match named {
        None => Ok(own.unwrap_or(Layer::Curated)),
        Some(Layer::Curated) => Ok(Layer::Curated),
        Some(layer) if manages(access) || Some(layer) == own => Ok(layer),
        Some(Layer::Model(_)) => Err(DomainError::forbidden("only the project's managers read a model's layer")),
        Some(_) => Err(DomainError::forbidden("you may read only your own layer and the curated one")),
    }
}

/// The layer an export or a statistic reads: the curated layer (the gold) unless one is named;
/// a named layer as [`readable_layer`] allows it (an annotator names their own, managers any,
/// everyone else only the curated one).
pub fn reported_layer(
    mode: AnnotationMode,
    access: &ProjectAccess,
    caller: Option<UserId>,
    request: LayerRequest,
) -> DomainResult<Layer> {
    if request == LayerRequest::default() {
        access.require_read()?;
        return Ok(Layer::Curated);
    }
    readable_layer(mode, access, caller, request)
}

/// The layer a caller's change goes to: in a SHARED project the curated layer (for anyone who
/// may edit entities); in an INDEPENDENT project an annotator's own layer (the only one they may
/// change), and for a manager the layer asked for (the curated one by default). Whether an
/// annotator's assignment lets them edit is checked where assignments are kept.
pub fn writable_layer(
    mode: AnnotationMode,
    access: &ProjectAccess,
    caller: UserId,
    request: LayerRequest,
) -> DomainResult<Layer> {
    access.require(Permission::EditEntities)?;
    let named = request.named()?;
    match mode {
        AnnotationMode::Shared => match named {
            None | Some(Layer::Curated) => Ok(Layer::Curated),
            Some(_) => Err(DomainError::invalid("layer", "the project is SHARED: it has one layer, the curated one")),
        },
        AnnotationMode::Independent if manages(access) => Ok(named.unwrap_or(Layer::Curated)),
        AnnotationMode::Independent => match named {
            None => Ok(Layer::Annotator(caller)),
            Some(Layer::Annotator(u)) if u == caller => Ok(Layer::Annotator(caller)),
            Some(_) => Err(DomainError::forbidden("an annotator changes only their own layer")),
        },
    }
}

/// Whether the caller may read an existing layer (an entity of it, an event about it): the
/// curated layer for whoever reads the project; an annotator's layer for that annotator and
/// the managers; a model's layer for the managers.
pub fn may_read(mode: AnnotationMode, access: &ProjectAccess, caller: Option<UserId>, layer: Layer) -> bool {
    match layer {
        Layer::Curated => access.can_read,
        Layer::Annotator(u) => readable_layer(mode, access, caller, LayerRequest::of(Layer::Annotator(u))).is_ok(),
        Layer::Model(_) => access.can_read && manages(access),
    }
}

/// Whether the caller may change an existing layer: FORBIDDEN (or the policy's error) when not.
pub fn may_write(mode: AnnotationMode, access: &ProjectAccess, caller: UserId, layer: Layer) -> DomainResult<()> {
    let request = match layer {
        Layer::Curated => LayerRequest::of(Layer::Curated),
        Layer::Annotator(u) => LayerRequest::of(Layer::Annotator(u)),
        Layer::Model(_) => {
            access.require(Permission::EditEntities)?;
            return if manages(access) {
                Ok(())
            } else {
                Err(DomainError::forbidden("only the project's managers change a model's layer"))
            };
        }
    };
    if writable_layer(mode, access, caller, request)? == layer {
        Ok(())
    } else {
        Err(DomainError::forbidden("you may not change this layer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::{Permissions, Role};

    fn access(role: Option<Role>) -> ProjectAccess {
        ProjectAccess { can_read: true, role, permissions: role.map(Role::permissions).unwrap_or(Permissions::NONE) }
    }

    fn ask(annotator: Option<UserId>, curated: Option<bool>) -> LayerRequest {
        LayerRequest { annotator, curated, model: None }
    }

    #[test]
    fn keys_round_trip() {
        let u = UserId::new();
        let m = uuid::Uuid::now_v7();
        for layer in [Layer::Curated, Layer::Annotator(u), Layer::Model(m)] {
            assert_eq!(Layer::parse_key(&layer.key()).unwrap(), layer);
        }
        assert!(Layer::parse_key("annotator:nope").is_err());
        assert!(Layer::parse_key("shared").is_err());
    }

    #[test]
    fn shared_projects_have_one_layer() {
        let me = UserId::new();
        let researcher = access(Some(Role::Researcher));
        assert_eq!(
            readable_layer(AnnotationMode::Shared, &researcher, Some(me), ask(None, None)).unwrap(),
            Layer::Curated
        );
        assert_eq!(writable_layer(AnnotationMode::Shared, &researcher, me, ask(None, None)).unwrap(), Layer::Curated);
        let err = readable_layer(AnnotationMode::Shared, &researcher, Some(me), ask(Some(me), None)).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { .. }));
    }

    #[test]
    fn an_annotator_reads_and_writes_their_own_layer() {
        let me = UserId::new();
        let other = UserId::new();
        let researcher = access(Some(Role::Researcher));
        let mode = AnnotationMode::Independent;
        assert_eq!(readable_layer(mode, &researcher, Some(me), ask(None, None)).unwrap(), Layer::Annotator(me));
        assert_eq!(readable_layer(mode, &researcher, Some(me), ask(Some(me), None)).unwrap(), Layer::Annotator(me));
        assert_eq!(readable_layer(mode, &researcher, Some(me), ask(None, Some(true))).unwrap(), Layer::Curated);
        let err = readable_layer(mode, &researcher, Some(me), ask(Some(other), None)).unwrap_err();
        assert!(matches!(err, DomainError::Forbidden(_)));
        assert_eq!(writable_layer(mode, &researcher, me, ask(None, None)).unwrap(), Layer::Annotator(me));
        assert!(matches!(
            writable_layer(mode, &researcher, me, ask(None, Some(true))).unwrap_err(),
            DomainError::Forbidden(_)
        ));
        assert!(matches!(
            writable_layer(mode, &researcher, me, ask(Some(other), None)).unwrap_err(),
            DomainError::Forbidden(_)
        ));
    }

    #[test]
    fn managers_see_every_layer_and_default_to_the_curated_one() {
        let me = UserId::new();
        let other = UserId::new();
        let mode = AnnotationMode::Independent;
        for role in [Role::Owner, Role::Admin] {
            let a = access(Some(role));
            assert_eq!(readable_layer(mode, &a, Some(me), ask(None, None)).unwrap(), Layer::Curated);
            assert_eq!(readable_layer(mode, &a, Some(me), ask(Some(other), None)).unwrap(), Layer::Annotator(other));
            assert_eq!(writable_layer(mode, &a, me, ask(None, None)).unwrap(), Layer::Curated);
            assert_eq!(writable_layer(mode, &a, me, ask(Some(other), None)).unwrap(), Layer::Annotator(other));
        }
    }

    #[test]
    fn viewers_and_strangers_read_the_curated_layer_only() {
        let me = UserId::new();
        let other = UserId::new();
        let mode = AnnotationMode::Independent;
        for (a, caller) in [(access(Some(Role::Viewer)), Some(me)), (access(None), None)] {
            assert_eq!(readable_layer(mode, &a, caller, ask(None, None)).unwrap(), Layer::Curated);
            assert!(matches!(
                readable_layer(mode, &a, caller, ask(Some(other), None)).unwrap_err(),
                DomainError::Forbidden(_)
            ));
            assert!(writable_layer(mode, &a, me, ask(None, None)).is_err());
        }
        let hidden = ProjectAccess { can_read: false, role: None, permissions: Permissions::NONE };
        assert!(matches!(
            readable_layer(mode, &hidden, None, ask(None, None)).unwrap_err(),
            DomainError::NotFound { .. }
        ));
    }

    #[test]
    fn existing_layers_are_read_and_changed_by_their_owner_and_the_managers() {
        let (me, other) = (UserId::new(), UserId::new());
        let model = Layer::Model(uuid::Uuid::now_v7());
        let mode = AnnotationMode::Independent;
        let researcher = access(Some(Role::Researcher));
        let owner = access(Some(Role::Owner));
        let viewer = access(Some(Role::Viewer));
        assert!(may_read(mode, &researcher, Some(me), Layer::Annotator(me)));
        assert!(may_read(mode, &researcher, Some(me), Layer::Curated));
        assert!(!may_read(mode, &researcher, Some(me), Layer::Annotator(other)));
        assert!(!may_read(mode, &researcher, Some(me), model));
        assert!(!may_read(mode, &viewer, Some(me), Layer::Annotator(me)));
        assert!(may_read(mode, &owner, Some(me), Layer::Annotator(other)));
        assert!(may_read(mode, &owner, Some(me), model));
        assert!(may_write(mode, &researcher, me, Layer::Annotator(me)).is_ok());
        assert!(may_write(mode, &researcher, me, Layer::Annotator(other)).is_err());
        assert!(may_write(mode, &researcher, me, Layer::Curated).is_err());
        assert!(may_write(mode, &researcher, me, model).is_err());
        assert!(may_write(mode, &owner, me, Layer::Annotator(other)).is_ok());
        assert!(may_write(mode, &owner, me, model).is_ok());
        assert!(may_write(AnnotationMode::Shared, &researcher, me, Layer::Curated).is_ok());
        assert!(may_write(mode, &viewer, me, Layer::Curated).is_err());
    }

    #[test]
    fn a_models_layer_is_read_by_the_managers_only() {
        let me = UserId::new();
        let m = uuid::Uuid::now_v7();
        let ask_model = LayerRequest::of(Layer::Model(m));
        let mode = AnnotationMode::Independent;
        for role in [Role::Owner, Role::Admin] {
            assert_eq!(readable_layer(mode, &access(Some(role)), Some(me), ask_model).unwrap(), Layer::Model(m));
        }
        for role in [Role::Researcher, Role::Viewer] {
            let err = readable_layer(mode, &access(Some(role)), Some(me), ask_model).unwrap_err();
            assert!(matches!(err, DomainError::Forbidden(_)), "{role:?}");
        }
        let err = readable_layer(AnnotationMode::Shared, &access(Some(Role::Owner)), Some(me), ask_model).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { .. }));
        let both = LayerRequest { model: Some(m), curated: Some(true), annotator: None };
        assert!(readable_layer(mode, &access(Some(Role::Owner)), Some(me), both).is_err());
    }

    #[test]
    fn exports_and_statistics_read_the_gold_unless_a_layer_is_named() {
        let (me, other) = (UserId::new(), UserId::new());
        let mode = AnnotationMode::Independent;
        let researcher = access(Some(Role::Researcher));
        assert_eq!(reported_layer(mode, &researcher, Some(me), ask(None, None)).unwrap(), Layer::Curated);
        assert_eq!(reported_layer(mode, &researcher, Some(me), ask(Some(me), None)).unwrap(), Layer::Annotator(me));
        assert!(matches!(
            reported_layer(mode, &researcher, Some(me), ask(Some(other), None)).unwrap_err(),
            DomainError::Forbidden(_)
        ));
        let owner = access(Some(Role::Owner));
        assert_eq!(reported_layer(mode, &owner, Some(me), ask(Some(other), None)).unwrap(), Layer::Annotator(other));
        let viewer = access(Some(Role::Viewer));
        assert_eq!(reported_layer(mode, &viewer, Some(me), ask(None, Some(true))).unwrap(), Layer::Curated);
        assert!(reported_layer(mode, &viewer, Some(me), ask(Some(me), None)).is_err());
    }

    #[test]
    fn contradictory_requests_are_refused() {
        let me = UserId::new();
        let a = access(Some(Role::Owner));
        for req in [ask(Some(me), Some(true)), ask(None, Some(false))] {
            assert!(matches!(
                readable_layer(AnnotationMode::Independent, &a, Some(me), req).unwrap_err(),
                DomainError::Invalid { .. }
            ));
        }
    }
}
