use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Upload};
use nishan_domain::DomainError;
use nishan_domain::document::{DocumentFields, FileInfo};
use nishan_domain::ids::{DocumentId, ProjectId};
use nishan_domain::service::documents::NewDocument;

use super::accounts::patch;
use crate::error::ApiResult;
use crate::graphql::types::{Document, GqlDirection, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct CreateDocumentInput {
    pub project_id: ID,
    pub title: String,
    /// The text; line endings are normalised to `\n`.
    pub content: String,
    /// Language tag, `ur` by default.
    pub language: Option<String>,
    pub tags: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct UpdateDocumentInput {
    pub title: Option<String>,
    pub language: Option<String>,
    pub direction: Option<GqlDirection>,
    pub tags: Option<Vec<String>>,
    pub metadata: Option<async_graphql::Json<serde_json::Value>>,
    pub notes: MaybeUndefined<String>,
}

#[derive(Default)]
pub struct DocumentMutation;

/// What an upload made: a document per file, in archive order.
pub struct UploadReport(nishan_domain::service::documents::UploadReport);

#[Object]
impl UploadReport {
    async fn documents(&self) -> Vec<Document> {
        self.0.documents.iter().cloned().map(Document::new).collect()
    }
    async fn files(&self) -> Vec<UploadedFile> {
        self.0
            .files
            .iter()
            .map(|f| UploadedFile {
                file_name: f.file_name.clone(),
                format: f.format.as_str().to_owned(),
                document_id: ID(f.document.to_string()),
                sha256: f.artifact_sha256.clone(),
            })
            .collect()
    }
}

/// One file of an upload: its path in the archive, its format (`txt`, `md`, `html`, `docx`,
/// `pdf`), the document made from it and the SHA-256 of its original.
#[derive(async_graphql::SimpleObject)]
pub struct UploadedFile {
    pub file_name: String,
    pub format: String,
    pub document_id: ID,
    pub sha256: String,
}

#[Object]
impl DocumentMutation {
    /// Adds a pasted text to a project (upload-documents permission). The same content twice
    /// in one project is a CONFLICT naming the existing document.
    async fn create_document(&self, ctx: &Context<'_>, input: CreateDocumentInput) -> ApiResult<Document> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let new = NewDocument {
            project_id: Some(ProjectId(parse_id(&input.project_id, "projectId")?)),
            title: Some(input.title),
            content: input.content,
            language: input.language,
            tags: input.tags,
            file: FileInfo::default(),
        };
        Ok(Document::new(state(ctx).documents().create(&req.meta, &actor, new).await?))
    }

    /// Adds an uploaded file (GraphQL multipart request): `.txt` or `.md` (UTF-8 with or
    /// without BOM, or UTF-16 with BOM; invalid UTF-8 is BAD_USER_INPUT naming the byte
    /// offset), `.docx` (a line per paragraph), `.pdf` (its text layer), `.html` (its main
    /// text), or a `.zip` of them (a document per file, all or none; the answer is the first,
    /// `uploadArchive` answers with all). The original is kept (`Document.artifact`).
    async fn upload_document(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        file: Upload,
        title: Option<String>,
        language: Option<String>,
        tags: Option<Vec<String>>,
    ) -> ApiResult<Document> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let app = state(ctx);
        let project_id = ProjectId(parse_id(&project_id, "projectId")?);
        let upload = file.value(ctx).map_err(|e| DomainError::invalid("file", e.to_string()))?;
        let bytes = upload.content;
        let new = NewDocument {
            project_id: Some(project_id),
            title,
            content: String::new(),
            language,
            tags,
            file: FileInfo {
                file_name: Some(upload.filename),
                content_type: upload.content_type,
                ..Default::default()
            },
        };
        let report = app.documents().upload(&req.meta, &actor, new, &bytes).await?;
        let first = report.documents.into_iter().next();
        Ok(Document::new(first.ok_or_else(|| DomainError::Internal("an upload made no document".into()))?))
    }

    /// Adds every file of an uploaded `.zip` (or one file of any format `uploadDocument`
    /// takes) as a document each, all or none, and reports what each file became. An archive
    /// is refused whole (BAD_USER_INPUT naming the member) for a file that cannot be read, an
    /// unsafe path, more than 200 entries, or members that expand past the document size
    /// limit (100-fold compression at most).
    async fn upload_archive(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        file: Upload,
        language: Option<String>,
        tags: Option<Vec<String>>,
    ) -> ApiResult<UploadReport> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let app = state(ctx);
        let project_id = ProjectId(parse_id(&project_id, "projectId")?);
        let upload = file.value(ctx).map_err(|e| DomainError::invalid("file", e.to_string()))?;
        let bytes = upload.content;
        let new = NewDocument {
            project_id: Some(project_id),
            title: None,
            content: String::new(),
            language,
            tags,
            file: FileInfo {
                file_name: Some(upload.filename),
                content_type: upload.content_type,
                ..Default::default()
            },
        };
        let report = app.documents().upload(&req.meta, &actor, new, &bytes).await?;
        Ok(UploadReport(report))
    }

    async fn update_document(&self, ctx: &Context<'_>, id: ID, input: UpdateDocumentInput) -> ApiResult<Document> {
        let id = DocumentId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let fields = DocumentFields {
            title: input.title,
            language: input.language,
            direction: input.direction.map(Into::into),
            tags: input.tags,
            metadata: input.metadata.map(|j| j.0),
            notes: patch(input.notes),
        };
        Ok(Document::info(state(ctx).documents().update(&req.meta, &actor, id, fields).await?))
    }

    /// Replaces the content, storing a new version. `expectedVersion` is the
    /// `currentVersion` the client last saw: if someone changed the document since, the
    /// answer is CONFLICT and nothing is overwritten (like HTTP If-Match: a client that omits
    /// it edits whatever version is current). Entities in unchanged text move with it;
    /// entities whose own text changed are dropped (the version's diff summary counts both).
    async fn update_document_content(
        &self,
        ctx: &Context<'_>,
        id: ID,
        content: String,
        change_summary: Option<String>,
        expected_version: Option<i32>,
    ) -> ApiResult<Document> {
        let id = DocumentId(parse_id(&id, "id")?);
        let expected_version = expected_version
            .map(|v| u32::try_from(v).ok().filter(|v| *v >= 1))
            .map(|v| {
                v.ok_or_else(|| crate::error::bad_input("expectedVersion", "must be a version number (1 or more)"))
            })
            .transpose()?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let doc = state(ctx)
            .documents()
            .update_content(&req.meta, &actor, id, expected_version, &content, change_summary)
            .await?;
        Ok(Document::new(doc))
    }

    async fn delete_document(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let id = DocumentId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).documents().delete(&req.meta, &actor, id).await?;
        Ok(true)
    }
}
