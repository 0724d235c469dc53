//! Artifacts: the stored originals of uploaded files, named by the SHA-256 of their bytes
//! (one artifact per distinct file, however many documents were made from it).
//!
//! Invariants: `sha256` is the lower-case hex SHA-256 of exactly the stored bytes and `size`
//! their length; an artifact exists while at least one document links it.

use sha2::{Digest, Sha256};

use crate::ids::ArtifactId;

/// A stored original, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub id: ArtifactId,
    pub sha256: String,
    pub mime_type: String,
    pub size: u64,
    /// The file name of its first upload.
    pub file_name: String,
}

/// An original to store with a new document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArtifact {
    pub sha256: String,
    pub mime_type: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

impl NewArtifact {
    /// The original `bytes` of a file, hashed.
    pub fn new(file_name: impl Into<String>, mime_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            sha256: hex::encode(Sha256::digest(&bytes)),
            mime_type: mime_type.into(),
            file_name: file_name.into(),
            bytes,
        }
    }

    /// The artifact as it will be stored under `id`.
    pub fn stored_as(&self, id: ArtifactId) -> Artifact {
        Artifact {
            id,
            sha256: self.sha256.clone(),
            mime_type: self.mime_type.clone(),
            size: self.bytes.len() as u64,
            file_name: self.file_name.clone(),
        }
    }
}

impl Artifact {
    /// The artifact as one document made from it names it: that upload's own file name (its
    /// base name, as stored for the first upload) and type, where the document has them. Two
    /// documents uploaded from the same bytes under different names share one artifact, and
    /// each shows its own name.
    pub fn as_uploaded_for(mut self, file: &crate::document::FileInfo) -> Self {
        if let Some(name) = file.file_name.as_deref().and_then(crate::document::file_base_name) {
            self.file_name = name;
        }
        if let Some(mime) = file.content_type.as_deref().filter(|m| !m.is_empty()) {
            self.mime_type = mime.to_owned();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_artifact_takes_each_documents_own_name() {
        let stored = NewArtifact::new("first.docx", "application/zip", b"abc".to_vec()).stored_as(ArtifactId::new());
        let file = crate::document::FileInfo {
            file_name: Some("poems/\u{202E}second.docx".into()),
            content_type: Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document".into()),
            ..Default::default()
        };
        let seen = stored.clone().as_uploaded_for(&file);
        assert_eq!(seen.file_name, "second.docx", "the base name, without bidi controls");
        assert_eq!(seen.mime_type, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
        assert_eq!((seen.id, &seen.sha256, seen.size), (stored.id, &stored.sha256, stored.size));
        // A document without its own name keeps the artifact's.
        assert_eq!(stored.clone().as_uploaded_for(&Default::default()), stored);
    }

    #[test]
    fn an_artifact_is_named_by_the_sha256_of_its_bytes() {
        let a = NewArtifact::new("a.txt", "text/plain", b"abc".to_vec());
        assert_eq!(a.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(a.stored_as(ArtifactId::new()).size, 3);
    }
}
