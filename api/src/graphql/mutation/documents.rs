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

    /// Adds an uploaded `.txt` file (GraphQL multipart request): UTF-8 with or without BOM,
    /// or UTF-16 with BOM. Invalid UTF-8 is BAD_USER_INPUT naming the byte offset.
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
        Ok(Document::new(app.documents().upload(&req.meta, &actor, new, &bytes).await?))
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
