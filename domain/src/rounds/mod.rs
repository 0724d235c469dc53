//! Annotation rounds (issue 12): independent layers of one document, and the agreement between
//! them. `layer` holds the layer value type and the one policy that decides which layer a
//! caller reads or writes; `agreement` computes inter-annotator agreement over layers (pure:
//! the caller hands it each document's words and each layer's spans); `curation` merges layers
//! into the curated one and compares an annotator's layer with it; `curating` keeps a
//! document's curation and the steps a curator takes over it.

pub mod agreement;
pub mod assignment;
pub mod curating;
pub mod curation;
pub mod layer;

pub use layer::{
    AnnotationMode, Layer, LayerRequest, may_read, may_write, readable_layer, reported_layer, suggestions_layer,
    writable_layer,
};
