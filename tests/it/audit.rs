//! The audit trail: every mutation of the schema writes its row with what changed (a test
//! walks the schema's mutations and fails for any without an audit case here), exports are
//! audited, and who may read the log, filtered and paginated.

use crate::common;

use std::collections::BTreeSet;

use common::{Db, PASSWORD, TestApp, create_document, entity_type_ids, error_code, upload};
use serde_json::{Value, json};

const LOG: &str = "query($f: AuditLogFilter, $first: Int, $after: String) { auditLog(filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id timestamp action resourceType resourceId resourceName changes userId user { username } projectId ipAddress userAgent } } } }";

/// One expected audit row: action, resource type, keys its `changes` must have.
type Row<'a> = (&'a str, &'a str, &'a [&'a str]);

struct Walk {
    app: TestApp,
    /// A global admin's token, for reading the log.
    admin: String,
    covered: BTreeSet<String>,
}

impl Walk {
    async fn log(&self, filter: Value, first: i32) -> Value {
        self.app.ok(Some(&self.admin), LOG, json!({"f": filter, "first": first})).await["auditLog"].clone()
    }

    /// Runs an operation that must succeed as `user`, then checks that it wrote exactly the
    /// `rows` (oldest first), by `user`, from the test's address.
    async fn run(&mut self, name: &str, user: (&str, &str), query: &str, vars: Value, rows: &[Row<'_>]) -> Value {
        let before = self.log(json!({}), 1).await["totalCount"].as_u64().unwrap();
        let data = self.app.ok(Some(user.1).filter(|t| !t.is_empty()), query, vars).await;
        self.check(name, user.0, before, rows).await;
        data
    }

    async fn check(&mut self, name: &str, username: &str, before: u64, rows: &[Row<'_>]) {
        let log = self.log(json!({}), rows.len() as i32).await;
        assert_eq!(log["totalCount"].as_u64().unwrap(), before + rows.len() as u64, "{name}: rows written");
        let newest: Vec<&Value> = log["edges"].as_array().unwrap().iter().map(|e| &e["node"]).rev().collect();
        for (node, (action, resource_type, keys)) in newest.iter().zip(rows) {
            assert_eq!(node["action"], *action, "{name}");
            assert_eq!(node["resourceType"], *resource_type, "{name}");
            assert_eq!(node["user"]["username"], username, "{name}: {node}");
            assert_eq!(node["ipAddress"], "127.0.0.1", "{name}");
            for key in *keys {
                assert!(node["changes"].get(key).is_some(), "{name}: {action} has no `{key}` in {}", node["changes"]);
            }
        }
        self.covered.insert(name.to_owned());
    }
}

fn id(data: &Value, path: &[&str]) -> String {
    path.iter().fold(data, |v, k| &v[*k]).as_str().unwrap().to_owned()
}

/// Every mutation in the schema, run once, with the audit row it must write. A mutation added
/// to the schema without a case here fails the test: add its case.
async fn every_mutation_writes_its_audit_row(db: Db) {
    // No job workers: a running job would write rows of its own while the walk counts.
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (admin, _) = app.register("anis").await;
    let mut w = Walk { app, admin: admin.clone(), covered: BTreeSet::new() };
    let anis = ("anis", admin.as_str());
    // Accounts.
    let reg = "mutation($i: RegisterInput!) { register(input: $i) { token user { id } } }";
    let input = json!({"i": {"username": "baqir", "email": "baqir@example.org", "password": PASSWORD}});
    let before = w.log(json!({}), 1).await["totalCount"].as_u64().unwrap();
    let data = w.app.ok(None, reg, input).await;
    w.check(
        "register",
        "baqir",
        before,
        &[("user.register", "user", &["username", "email"]), ("auth.login", "session", &[])],
    )
    .await;
    let baqir_id = id(&data, &["register", "user", "id"]);
    let login = "mutation($i: LoginInput!) { login(input: $i) { token } }";
    let data = w
        .run(
            "login",
            ("baqir", ""),
            login,
            json!({"i": {"usernameOrEmail": "baqir", "password": PASSWORD}}),
            &[("auth.login", "session", &[])],
        )
        .await;
    let token = id(&data, &["login", "token"]);
    let baqir = ("baqir", token.as_str());
    let before = w.log(json!({}), 1).await["totalCount"].as_u64().unwrap();
    let failed = w.app.gql(None, login, json!({"i": {"usernameOrEmail": "baqir", "password": "wrong-password"}})).await;
    assert_eq!(error_code(&failed), "UNAUTHENTICATED");
    w.check("login (failed)", "baqir", before, &[("auth.login_failed", "session", &["login"])]).await;
    let me = "mutation { updateMe(input: {institution: \"Lucknow\"}) { id } }";
    w.run("updateMe", baqir, me, json!({}), &[("user.update", "user", &["fields"])]).await;
    let change = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";
    let vars = json!({"i": {"currentPassword": PASSWORD, "newPassword": "a-new-marsiya-password"}});
    w.run("changePassword", baqir, change, vars, &[("user.change_password", "user", &[])]).await;
    // Projects and members.
    let create = "mutation { createProject(input: {name: \"Audited\"}) { id } }";
    let project = id(
        &w.run("createProject", anis, create, json!({}), &[("project.create", "project", &["name", "isPublic"])]).await,
        &["createProject", "id"],
    );
    let update = "mutation($id: ID!) { updateProject(id: $id, input: {description: \"Karbala\"}) { id } }";
    w.run("updateProject", anis, update, json!({"id": project}), &[("project.update", "project", &["description"])])
        .await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    let member = json!({"i": {"projectId": project, "userId": baqir_id, "role": "VIEWER"}});
    w.run("addProjectMember", anis, add, member, &[("membership.add", "project_membership", &["userId", "role"])])
        .await;
    let set = "mutation($i: UpdateProjectMemberInput!) { updateProjectMember(input: $i) { id } }";
    let member = json!({"i": {"projectId": project, "userId": baqir_id, "role": "RESEARCHER"}});
    w.run(
        "updateProjectMember",
        anis,
        set,
        member,
        &[("membership.update", "project_membership", &["userId", "role"])],
    )
    .await;
    // Documents.
    let text = "حسینؑ ابن علیؑ کربلا میں\nعباسؑ فرات پر";
    let doc_q = "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }";
    let vars = json!({"i": {"projectId": project, "title": "Stanza", "content": text}});
    let doc = id(
        &w.run("createDocument", baqir, doc_q, vars, &[("document.create", "document", &["title", "characters"])])
            .await,
        &["createDocument", "id"],
    );
    let before = w.log(json!({}), 1).await["totalCount"].as_u64().unwrap();
    let uploaded = upload(&w.app, &token, &project, "two.txt", "زینبؑ شام میں".as_bytes().to_vec()).await;
    assert!(uploaded.get("errors").is_none(), "{uploaded}");
    w.check("uploadDocument", "baqir", before, &[("document.create", "document", &["fileName"])]).await;
    let uploaded = id(&uploaded, &["data", "uploadDocument", "id"]);
    let before = w.log(json!({}), 1).await["totalCount"].as_u64().unwrap();
    let archive = crate::uploads::zip_of(&[("a.txt", "عونؑ".as_bytes()), ("b.txt", "محمدؑ".as_bytes())]);
    let q = "mutation($p: ID!, $f: Upload!) { uploadArchive(projectId: $p, file: $f) { files { documentId } } }";
    let r = crate::common::upload_query(&w.app, Some(&token), q, &project, "two.zip", archive).await;
    assert!(r.get("errors").is_none(), "{r}");
    let rows: &[Row<'_>] = &[
        ("document.create", "document", &["fileName", "sha256"]),
        ("document.create", "document", &["fileName", "sha256"]),
    ];
    w.check("uploadArchive", "baqir", before, rows).await;
    let q = "mutation($id: ID!) { updateDocument(id: $id, input: {title: \"Stanza 1\"}) { id } }";
    w.run("updateDocument", baqir, q, json!({"id": doc}), &[("document.update", "document", &["title"])]).await;
    let q =
        "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c, expectedVersion: 1) { id } }";
    let vars = json!({"id": doc, "c": format!("{text} پر")});
    w.run(
        "updateDocumentContent",
        baqir,
        q,
        vars,
        &[("document.update_content", "document", &["fromVersion", "toVersion", "diff"])],
    )
    .await;
    // Entity types (global admins).
    let q = "mutation { createEntityType(input: {name: \"POET\", color: \"#00aa00\"}) { id } }";
    let poet = id(
        &w.run("createEntityType", anis, q, json!({}), &[("entity_type.create", "entity_type", &["name", "color"])])
            .await,
        &["createEntityType", "id"],
    );
    let q = "mutation($id: ID!) { updateEntityType(id: $id, input: {color: \"#00bb00\"}) { id } }";
    w.run("updateEntityType", anis, q, json!({"id": poet}), &[("entity_type.update", "entity_type", &["color"])]).await;
    // Entities and relationships.
    let types = entity_type_ids(&w.app).await;
    let q = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    let vars = json!({"i": {"documentId": doc, "entityTypeId": types["PERSON"], "start": 0, "end": 5}});
    let husain = id(
        &w.run(
            "createEntity",
            baqir,
            q,
            vars,
            &[("entity.create", "entity", &["documentId", "entityType", "start", "end", "created"])],
        )
        .await,
        &["createEntity", "id"],
    );
    let q = "mutation($id: ID!, $t: ID!) { updateEntity(id: $id, input: {entityTypeId: $t}) { id } }";
    w.run(
        "updateEntity",
        baqir,
        q,
        json!({"id": husain, "t": types["DESIGNATION"]}),
        &[("entity.update", "entity", &["entityType"])],
    )
    .await;
    let q = "mutation($d: ID!, $t: ID!) { annotateAllOccurrences(documentId: $d, text: \"کربلا\", entityTypeId: $t) }";
    w.run(
        "annotateAllOccurrences",
        baqir,
        q,
        json!({"d": doc, "t": types["LOCATION"]}),
        &[("entity.annotate_all", "document", &["text", "occurrences", "created"])],
    )
    .await;
    let q = "mutation($id: ID!) { verifyEntity(id: $id) { id } }";
    w.run("verifyEntity", baqir, q, json!({"id": husain}), &[("entity.verify", "entity", &["ids", "count"])]).await;
    let q = "mutation($id: ID!) { unverifyEntity(id: $id) { id } }";
    w.run("unverifyEntity", baqir, q, json!({"id": husain}), &[("entity.unverify", "entity", &["ids"])]).await;
    let q = "mutation($ids: [ID!]!) { verifyEntities(ids: $ids) { id } }";
    w.run("verifyEntities", baqir, q, json!({"ids": [husain]}), &[("entity.verify", "entity", &["count"])]).await;
    let q = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    let vars = json!({"i": {"documentId": doc, "entityTypeId": types["PERSON"], "start": 25, "end": 30}});
    let abbas = id(&w.app.ok(Some(&token), q, vars).await, &["createEntity", "id"]);
    let q = "mutation($i: CreateEntityRelationshipInput!) { createEntityRelationship(input: $i) { id } }";
    let vars = json!({"i": {"sourceEntityId": husain, "targetEntityId": abbas, "relationshipType": "RELATED_TO"}});
    let rel = id(
        &w.run(
            "createEntityRelationship",
            baqir,
            q,
            vars,
            &[("relationship.create", "entity_relationship", &["source", "target", "type"])],
        )
        .await,
        &["createEntityRelationship", "id"],
    );
    let q = "mutation($id: ID!) { deleteEntityRelationship(id: $id) }";
    w.run(
        "deleteEntityRelationship",
        baqir,
        q,
        json!({"id": rel}),
        &[("relationship.delete", "entity_relationship", &[])],
    )
    .await;
    let q = "mutation($id: ID!) { deleteEntity(id: $id) }";
    w.run("deleteEntity", baqir, q, json!({"id": abbas}), &[("entity.delete", "entity", &["source", "documentId"])])
        .await;
    // Knowledge base.
    let q = "mutation($i: CreateKnowledgeItemInput!) { createKnowledgeItem(input: $i) { id } }";
    let vars =
        json!({"i": {"projectId": project, "entityTypeId": types["DESIGNATION"], "name": "حسینؑ", "aliases": ["شبیر"]}});
    let item = id(
        &w.run(
            "createKnowledgeItem",
            baqir,
            q,
            vars,
            &[("knowledge_item.create", "knowledge_item", &["name", "aliases", "entityTypeId"])],
        )
        .await,
        &["createKnowledgeItem", "id"],
    );
    let q = "mutation($id: ID!) { updateKnowledgeItem(id: $id, input: {aliases: [\"شبیر\", \"سرور\"]}, expectedVersion: 1) { id } }";
    w.run(
        "updateKnowledgeItem",
        baqir,
        q,
        json!({"id": item}),
        &[("knowledge_item.update", "knowledge_item", &["fields", "expectedVersion", "version"])],
    )
    .await;
    let q = "mutation($id: ID!) { approveKnowledgeItem(id: $id) { id } }";
    w.run(
        "approveKnowledgeItem",
        anis,
        q,
        json!({"id": item}),
        &[("knowledge_item.approve", "knowledge_item", &["fromVersion", "version"])],
    )
    .await;
    let q = "mutation($e: ID!, $k: ID!) { linkEntity(entityId: $e, itemId: $k) { id } }";
    w.run("linkEntity", baqir, q, json!({"e": husain, "k": item}), &[("entity.link", "entity", &["itemId", "linked"])])
        .await;
    let q = "mutation($e: ID!) { unlinkEntity(entityId: $e) { id } }";
    w.run("unlinkEntity", baqir, q, json!({"e": husain}), &[("entity.unlink", "entity", &["itemId"])]).await;
    let q = "mutation($e: ID!) { createKnowledgeItemFromEntity(entityId: $e) { id } }";
    let from_entity = id(
        &w.run(
            "createKnowledgeItemFromEntity",
            baqir,
            q,
            json!({"e": husain}),
            &[("knowledge_item.create_from_entity", "knowledge_item", &["entityId", "documentId"])],
        )
        .await,
        &["createKnowledgeItemFromEntity", "id"],
    );
    let q = "mutation($p: ID!) { linkMatchingMentions(projectId: $p) { linked } }";
    w.run(
        "linkMatchingMentions",
        baqir,
        q,
        json!({"p": project}),
        &[("entity.link_matching", "project", &["examined", "matched", "linked"])],
    )
    .await;
    let q = "mutation($i: RelateKnowledgeItemsInput!) { relateKnowledgeItems(input: $i) { id } }";
    let vars = json!({"i": {"fromId": from_entity, "toId": item, "relationType": "RELATED_TO"}});
    let link = id(
        &w.run(
            "relateKnowledgeItems",
            baqir,
            q,
            vars,
            &[("knowledge_link.create", "knowledge_link", &["from", "to", "type", "strength"])],
        )
        .await,
        &["relateKnowledgeItems", "id"],
    );
    let q = "mutation($id: ID!) { deleteKnowledgeLink(id: $id) }";
    w.run(
        "deleteKnowledgeLink",
        baqir,
        q,
        json!({"id": link}),
        &[("knowledge_link.delete", "knowledge_link", &["from"])],
    )
    .await;
    let q = "mutation($t: ID!, $s: [ID!]!) { mergeKnowledgeItems(targetId: $t, sourceIds: $s) { id } }";
    w.run(
        "mergeKnowledgeItems",
        baqir,
        q,
        json!({"t": item, "s": [from_entity]}),
        &[("knowledge_item.merge", "knowledge_item", &["sources", "mentionsMoved", "linksMoved"])],
    )
    .await;
    let q = "query($p: ID!) { exportKnowledgeBase(projectId: $p, format: JSONL) }";
    w.run(
        "exportKnowledgeBase",
        baqir,
        q,
        json!({"p": project}),
        &[("knowledge_base.export", "project", &["format", "items", "bytes"])],
    )
    .await;
    // Proposals as a LINKING job stores them (written here directly: the walk runs no worker).
    let pending: Vec<String> = {
        use sea_orm::{ConnectionTrait, Statement};
        let db = w.app.database().await;
        let backend = db.get_database_backend();
        let mut ids = Vec::new();
        for alias in ["سرورِ کربلا", "امام"] {
            let p = uuid::Uuid::now_v7();
            let n = |i: usize| if backend == sea_orm::DbBackend::Postgres { format!("${i}") } else { "?".to_owned() };
            let sql = format!(
                "INSERT INTO knowledge_proposals (id, project_id, kind, status, confidence, reasoning, item_id, proposed_name, dedup_key, created_at) VALUES ({}, {}, 'NEW_ALIAS', 'PENDING', 0.8, 'close to a name', {}, {}, {}, {})",
                n(1),
                n(2),
                n(3),
                n(4),
                n(5),
                n(6)
            );
            let values: Vec<sea_orm::Value> = vec![
                p.into(),
                project.parse::<uuid::Uuid>().unwrap().into(),
                item.parse::<uuid::Uuid>().unwrap().into(),
                alias.into(),
                format!("NEW_ALIAS:{item}:{alias}").into(),
                chrono::Utc::now().into(),
            ];
            db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
            ids.push(p.to_string());
        }
        db.close().await.unwrap();
        ids
    };
    let q = "mutation($id: ID!) { reviewKnowledgeProposal(id: $id, decision: APPROVE) { id } }";
    w.run(
        "reviewKnowledgeProposal",
        baqir,
        q,
        json!({"id": pending[0]}),
        &[("knowledge_proposal.review", "knowledge_proposal", &["ids", "decision", "effects"])],
    )
    .await;
    let q = "mutation($ids: [ID!]!) { reviewKnowledgeProposals(ids: $ids, decision: REJECT) { id } }";
    w.run(
        "reviewKnowledgeProposals",
        baqir,
        q,
        json!({"ids": pending[1..]}),
        &[("knowledge_proposal.review", "knowledge_proposal", &["ids", "decision", "count", "effects"])],
    )
    .await;
    let q = "mutation($id: ID!) { deleteKnowledgeItem(id: $id) }";
    w.run(
        "deleteKnowledgeItem",
        baqir,
        q,
        json!({"id": item}),
        &[("knowledge_item.delete", "knowledge_item", &["unlinked", "linksRemoved"])],
    )
    .await;
    // Import and export.
    let q =
        "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: JSONL, data: $data) { created } }";
    let data = json!({"text": "زینبؑ شام میں", "label": [[6, 9, "LOCATION"]]}).to_string();
    w.run(
        "importEntities",
        baqir,
        q,
        json!({"d": uploaded, "data": data}),
        &[("entity.import", "document", &["format", "created", "skipped", "relationshipsCreated"])],
    )
    .await;
    let q = "mutation($p: ID!, $data: String!) { importDocuments(projectId: $p, format: INLINE_TAGS, data: $data) { created } }";
    let data = "<PERSON>اکبرؑ</PERSON> اور اصغرؑ";
    w.run(
        "importDocuments",
        baqir,
        q,
        json!({"p": project, "data": data}),
        &[("document.import", "project", &["format", "documents", "entities"])],
    )
    .await;
    let q = "query($d: ID!) { exportDocument(documentId: $d, format: CSV) }";
    w.run(
        "exportDocument",
        baqir,
        q,
        json!({"d": doc}),
        &[("document.export", "document", &["format", "verifiedOnly", "entities", "bytes"])],
    )
    .await;
    let q = "query($p: ID!) { exportProject(projectId: $p, format: JSONL, verifiedOnly: true) }";
    w.run(
        "exportProject",
        baqir,
        q,
        json!({"p": project}),
        &[("project.export", "project", &["format", "verifiedOnly", "documents"])],
    )
    .await;
    // Models, configurations and jobs.
    let q = "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }";
    let input =
        json!({"i": {"name": "local", "provider": "LOCAL", "modelName": "llama3", "apiBaseUrl": "http://127.0.0.1:9"}});
    let data = w
        .run(
            "createLlmModel",
            anis,
            q,
            input,
            &[("llm_model.create", "llm_model", &["provider", "modelName", "hasApiKey"])],
        )
        .await;
    let model_id = id(&data, &["createLlmModel", "id"]);
    let q = "mutation($id: ID!) { updateLlmModel(id: $id, input: {priority: 5}) { id } }";
    w.run("updateLlmModel", anis, q, json!({"id": model_id}), &[("llm_model.update", "llm_model", &["fields"])]).await;
    let q = "mutation($id: ID!) { testLlmModel(id: $id) { validationStatus } }";
    let data = w.run("testLlmModel", anis, q, json!({"id": model_id}), &[("llm_model.test", "llm_model", &[])]).await;
    assert_eq!(data["testLlmModel"]["validationStatus"], "ERROR", "nothing listens on port 9");
    let q = "mutation { createProcessingConfig(input: {name: \"walk\", chunkSize: 500, chunkOverlap: 50}) { id } }";
    w.run(
        "createProcessingConfig",
        anis,
        q,
        json!({}),
        &[("processing_config.create", "llm_processing_config", &["chunkSize", "confidenceThreshold"])],
    )
    .await;
    let q = "mutation($d: ID!) { startProcessingJob(input: {documentId: $d}) { id } }";
    let data = w
        .run(
            "startProcessingJob",
            anis,
            q,
            json!({"d": doc}),
            &[("job.start", "processing_job", &["documentId", "model", "config", "priority"])],
        )
        .await;
    let job = id(&data, &["startProcessingJob", "id"]);
    for (name, action) in [
        ("pauseProcessingJob", "job.pause"),
        ("resumeProcessingJob", "job.resume"),
        ("cancelProcessingJob", "job.cancel"),
        ("retryProcessingJob", "job.retry"),
    ] {
        let q = format!("mutation($id: ID!) {{ {name}(id: $id) {{ status }} }}");
        w.run(name, anis, &q, json!({"id": job}), &[(action, "processing_job", &["from"])]).await;
    }
    // Learning and experiments.
    let q = "mutation($p: ID!) { trainProjectModel(projectId: $p) { id kind } }";
    let data = w
        .run(
            "trainProjectModel",
            anis,
            q,
            json!({"p": project}),
            &[("job.start", "processing_job", &["kind", "model", "config"])],
        )
        .await;
    assert_eq!(data["trainProjectModel"]["kind"], "TRAINING");
    // The experiment runs the built-in model (the local one is deleted below).
    let models = w.app.ok(Some(anis.1), "{ llmModels { id provider } }", json!({})).await;
    let builtin =
        models["llmModels"].as_array().unwrap().iter().find(|m| m["provider"] == "BUILTIN").unwrap()["id"].clone();
    let q = "mutation($i: StartExperimentInput!) { startExperiment(input: $i) { id } }";
    w.run(
        "startExperiment",
        anis,
        q,
        json!({"i": {"projectId": project, "llmModelIds": [builtin], "documentIds": [doc]}}),
        &[("experiment.start", "experiment", &["models", "documentIds", "jobs"])],
    )
    .await;
    // Asking the corpus, and forgetting the conversation.
    let q = "mutation($i: AskProjectInput!) { askProject(input: $i) { id session { id } } }";
    let data = w
        .run(
            "askProject",
            anis,
            q,
            json!({"i": {"projectId": project, "question": "کربلا میں کون تھا؟", "llmModelId": builtin}}),
            &[("chat.ask", "chat_session", &["message", "model", "citations", "droppedCitations"])],
        )
        .await;
    let session = id(&data, &["askProject", "session", "id"]);
    let q = "mutation($i: SetEmbeddingModelInput!) { setEmbeddingModel(input: $i) { chunks } }";
    let vars = json!({"i": {"projectId": project, "llmModelId": builtin}});
    w.run("setEmbeddingModel", anis, q, vars, &[("embedding.set_model", "project", &["llmModelId", "model"])]).await;
    let q = "mutation($id: ID!) { deleteChatSession(id: $id) }";
    w.run("deleteChatSession", anis, q, json!({"id": session}), &[("chat.delete_session", "chat_session", &[])]).await;
    let q = "mutation($id: ID!) { deleteLlmModel(id: $id) }";
    w.run("deleteLlmModel", anis, q, json!({"id": model_id}), &[("llm_model.delete", "llm_model", &[])]).await;
    let q = "mutation { updateSystemSettings(input: {auditRetentionDays: 400}) }";
    w.run("updateSystemSettings", anis, q, json!({}), &[("system_settings.update", "system_settings", &["settings"])])
        .await;
    // Webhooks (nothing listens on port 9; the walk runs no senders' results).
    let q = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } secret } }";
    let vars = json!({"i": {"projectId": project, "url": "http://127.0.0.1:9/hook", "events": ["document.created"]}});
    let data = w.run("createWebhook", anis, q, vars, &[("webhook.create", "webhook", &["url", "events"])]).await;
    let hook = id(&data, &["createWebhook", "webhook", "id"]);
    let q = "mutation($id: ID!) { testWebhook(id: $id) { id } }";
    w.run("testWebhook", anis, q, json!({"id": hook}), &[("webhook.test", "webhook", &[])]).await;
    let q = "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }";
    w.run(
        "rotateWebhookSecret",
        anis,
        q,
        json!({"id": hook}),
        &[("webhook.rotate_secret", "webhook", &["previousSecretValidUntil"])],
    )
    .await;
    let q = "mutation($i: UpdateWebhookInput!) { updateWebhook(input: $i) { id } }";
    w.run(
        "updateWebhook",
        anis,
        q,
        json!({"i": {"id": hook, "events": ["document.created", "job.failed"], "description": "indexer"}}),
        &[("webhook.update", "webhook", &["events", "description"])],
    )
    .await;
    let q = "mutation($id: ID!) { deleteWebhook(id: $id) }";
    w.run("deleteWebhook", anis, q, json!({"id": hook}), &[("webhook.delete", "webhook", &[])]).await;
    // Sources (nothing listens on port 9; no job runs it here).
    let q = "mutation($i: CreateSourceInput!) { createSource(input: $i) { id } }";
    let vars = json!({"i": {"projectId": project, "name": "Rekhta", "urls": ["http://127.0.0.1:9/a"]}});
    let data = w
        .run(
            "createSource",
            anis,
            q,
            vars,
            &[("source.create", "source", &["name", "urls", "allowedHosts", "maxPages"])],
        )
        .await;
    let source = id(&data, &["createSource", "id"]);
    let q = "mutation($id: ID!) { deleteSource(id: $id) }";
    w.run("deleteSource", anis, q, json!({"id": source}), &[("source.delete", "source", &[])]).await;
    // Annotation rounds: the project becomes INDEPENDENT, its owner is assigned a document.
    let q = "mutation($id: ID!) { updateProject(id: $id, input: {annotationMode: INDEPENDENT}) { id } }";
    w.run(
        "updateProject (annotationMode)",
        anis,
        q,
        json!({"id": project}),
        &[("project.update", "project", &["annotationMode"])],
    )
    .await;
    let anis_id = w.app.ok(Some(&admin), "{ me { id } }", json!({})).await["me"]["id"].as_str().unwrap().to_owned();
    let q = "mutation($i: AssignDocumentsInput!) { assignDocuments(input: $i) { id } }";
    let vars = json!({"i": {"projectId": project, "documentIds": [doc], "annotatorIds": [anis_id], "annotatorsPerDocument": 1}});
    let data = w
        .run(
            "assignDocuments",
            anis,
            q,
            vars,
            &[("assignment.assign", "project", &["documents", "annotators", "created"])],
        )
        .await;
    let assignment = id(&data["assignDocuments"][0], &["id"]);
    let q = "mutation($id: ID!) { finishAssignment(id: $id) { id } }";
    w.run(
        "finishAssignment",
        anis,
        q,
        json!({"id": assignment}),
        &[("assignment.finish", "assignment", &["documentId", "annotatorId", "state"])],
    )
    .await;
    let q = "mutation($id: ID!) { setAssignmentState(id: $id, state: IN_PROGRESS) { id } }";
    w.run(
        "setAssignmentState",
        anis,
        q,
        json!({"id": assignment}),
        &[("assignment.set_state", "assignment", &["from", "state"])],
    )
    .await;
    // Curation: a document of anis's own, two spans in anis's layer, each one vote short of
    // the two asked for: two conflicts, one accepted, one left empty.
    let q = "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }";
    let vars = json!({"i": {"projectId": project, "title": "Curated", "content": "حسینؑ ابن علیؑ"}});
    let curated = id(&w.app.ok(Some(&admin), q, vars).await, &["createDocument", "id"]);
    let q = "mutation($i: AssignDocumentsInput!) { assignDocuments(input: $i) { id } }";
    w.app
        .ok(Some(&admin), q, json!({"i": {"projectId": project, "documentIds": [curated], "annotatorIds": [anis_id]}}))
        .await;
    let q = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    let mut candidates = Vec::new();
    for (s, e) in [(0, 5), (10, 14)] {
        let vars = json!({"i": {"documentId": curated, "entityTypeId": types["PERSON"], "start": s, "end": e, "layer": {"annotatorId": anis_id}}});
        candidates.push(id(&w.app.ok(Some(&admin), q, vars).await, &["createEntity", "id"]));
    }
    let q = "mutation($d: ID!) { curateDocument(documentId: $d, strategy: {minVotes: 2, includeUnfinished: true}) { conflicts } }";
    w.run(
        "curateDocument",
        anis,
        q,
        json!({"d": curated}),
        &[(
            "curation.curate",
            "document",
            &["documentId", "minVotes", "includeUnfinished", "openConflicts", "entities"],
        )],
    )
    .await;
    let q = "mutation($d: ID!, $e: ID!) { acceptCandidate(documentId: $d, entityId: $e) { id } }";
    w.run(
        "acceptCandidate",
        anis,
        q,
        json!({"d": curated, "e": candidates[0]}),
        &[("curation.accept_candidate", "document", &["candidateId", "entities", "openConflicts"])],
    )
    .await;
    let q = "mutation($d: ID!) { leaveConflictEmpty(documentId: $d, start: 10, end: 14) { state } }";
    w.run(
        "leaveConflictEmpty",
        anis,
        q,
        json!({"d": curated}),
        &[
            ("curation.leave_empty", "document", &["start", "end", "resolvedConflicts"]),
            ("curation.finish", "document", &["documentId", "merged", "resolvedConflicts", "minVotes"]),
        ],
    )
    .await;
    // Deletions.
    let q = "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) }";
    w.run(
        "removeProjectMember",
        anis,
        q,
        json!({"p": project, "u": baqir_id}),
        &[("membership.remove", "project_membership", &["userId"])],
    )
    .await;
    let q = "mutation($id: ID!) { deleteDocument(id: $id) }";
    w.run("deleteDocument", anis, q, json!({"id": uploaded}), &[("document.delete", "document", &[])]).await;
    let q = "mutation($id: ID!) { deleteProject(id: $id) }";
    w.run("deleteProject", anis, q, json!({"id": project}), &[("project.delete", "project", &[])]).await;
    w.run("logout", baqir, "mutation { logout }", json!({}), &[("auth.logout", "session", &[])]).await;
    // The rows of the deleted project outlive it.
    let rows = w.log(json!({"projectId": project}), 100).await;
    assert!(rows["totalCount"].as_u64().unwrap() > 20);
    assert!(rows["edges"].as_array().unwrap().iter().all(|e| e["node"]["projectId"] == project.as_str()));
    // Every mutation of the schema has its case above.
    let schema = w.app.ok(None, "{ __schema { mutationType { fields { name } } } }", json!({})).await;
    let mutations: BTreeSet<String> = schema["__schema"]["mutationType"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<&String> = mutations.difference(&w.covered).collect();
    assert!(missing.is_empty(), "mutations without an audit case in tests/audit.rs: {missing:?}");
    for query in ["exportDocument", "exportProject", "exportKnowledgeBase"] {
        assert!(w.covered.contains(query), "{query}");
    }
}

async fn audit_log_readers_filters_and_pages(db: Db) {
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("anis").await;
    let (owner, _) = app.register("baqir").await;
    let (manager, manager_id) = app.register("carl").await;
    let (researcher, researcher_id) = app.register("dana").await;
    let (stranger, _) = app.register("stranger").await;
    let project = app.create_project(&owner, "Owned", json!({})).await;
    let elsewhere = app.create_project(&admin, "Elsewhere", json!({})).await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    for (user, role) in [(&manager_id, "ADMIN"), (&researcher_id, "RESEARCHER")] {
        app.ok(Some(&owner), add, json!({"i": {"projectId": project, "userId": user, "role": role}})).await;
    }
    for (i, token) in [&owner, &manager, &researcher, &owner].iter().enumerate() {
        create_document(&app, token, &project, &format!("Doc {i}"), &format!("متن نمبر {i}")).await;
    }
    create_document(&app, &admin, &elsewhere, "Other", "دوسرا متن").await;
    let log = |token: &str, filter: Value, first: i32, after: Option<String>| {
        let (app, token) = (&app, token.to_owned());
        async move { app.gql(Some(&token), LOG, json!({"f": filter, "first": first, "after": after})).await }
    };
    // Everything, as the global admin, page by page: 4 at a time, newest first, no repeats.
    let mut all: Vec<Value> = vec![];
    let mut after = None;
    let mut written_meanwhile = 0;
    loop {
        let page = log(&admin, json!({}), 4, after.clone()).await["data"]["auditLog"].clone();
        all.extend(page["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()));
        assert_eq!(page["pageInfo"]["hasPreviousPage"], after.is_some());
        if page["pageInfo"]["hasNextPage"] == false {
            assert_eq!(page["totalCount"].as_u64().unwrap() as usize, all.len() + written_meanwhile);
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        // A row written between two pages does not shift the next page.
        if all.len() == 4 {
            app.ok(Some(&admin), "mutation { updateMe(input: {bio: \"between pages\"}) { id } }", json!({})).await;
            written_meanwhile += 1;
        }
    }
    let ids: BTreeSet<&str> = all.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "no row twice");
    let times: Vec<&str> = all.iter().map(|n| n["timestamp"].as_str().unwrap()).collect();
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    assert!(times.windows(2).all(|w| parse(w[0]) >= parse(w[1])), "newest first");
    assert!(all.iter().all(|n| n["action"] != "user.update"), "the row written meanwhile is newer than the first page");
    // Filters, checked against the full list.
    check_filter(&app, &admin, &all, json!({"userId": manager_id}), |n| n["userId"] == manager_id.as_str()).await;
    let actions = json!({"actions": ["document.create", "membership.add"]});
    check_filter(&app, &admin, &all, actions, |n| n["action"] == "document.create" || n["action"] == "membership.add")
        .await;
    check_filter(&app, &admin, &all, json!({"resourceTypes": ["project"]}), |n| n["resourceType"] == "project").await;
    check_filter(&app, &admin, &all, json!({"projectId": project}), |n| n["projectId"] == project.as_str()).await;
    let (from, to) = (times[times.len() - 6], times[3]);
    check_filter(&app, &admin, &all, json!({"from": from, "to": to}), |n| {
        let t = parse(n["timestamp"].as_str().unwrap());
        t >= parse(from) && t < parse(to)
    })
    .await;
    // A project's owners and admins read its rows, without addresses; others may not.
    let of_project = json!({"projectId": project});
    for token in [&owner, &manager] {
        let page = log(token, of_project.clone(), 100, None).await;
        let page = &page["data"]["auditLog"];
        let expected = all.iter().filter(|n| n["projectId"] == project.as_str()).count();
        assert_eq!(page["totalCount"].as_u64().unwrap() as usize, expected);
        assert!(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["node"]["ipAddress"].is_null() && e["node"]["userAgent"].is_null())
        );
    }
    assert_eq!(error_code(&log(&researcher, of_project.clone(), 10, None).await), "FORBIDDEN");
    assert_eq!(error_code(&log(&stranger, of_project.clone(), 10, None).await), "NOT_FOUND");
    assert_eq!(error_code(&log(&owner, json!({"projectId": elsewhere}), 10, None).await), "NOT_FOUND");
    let r = log(&owner, json!({}), 10, None).await;
    assert_eq!(
        (error_code(&r), &r["errors"][0]["extensions"]["field"]),
        ("BAD_USER_INPUT".into(), &json!("filter.projectId"))
    );
    assert_eq!(error_code(&app.gql(None, LOG, json!({})).await), "UNAUTHENTICATED");
    assert_eq!(error_code(&log(&admin, json!({}), 101, None).await), "BAD_USER_INPUT");
    assert_eq!(log(&admin, json!({}), 10, Some("garbage".into())).await["errors"][0]["extensions"]["field"], "after");
}

/// The admin's listing with `filter` is exactly the rows of `all` that `keep` selects.
async fn check_filter(app: &TestApp, admin: &str, all: &[Value], filter: Value, keep: impl Fn(&Value) -> bool) {
    let expected: Vec<&str> = all.iter().filter(|n| keep(n)).map(|n| n["id"].as_str().unwrap()).collect();
    let page = app.ok(Some(admin), LOG, json!({"f": filter, "first": 100})).await;
    let got: Vec<&str> =
        page["auditLog"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap()).collect();
    assert_eq!(got, expected, "{filter}");
    assert!(!expected.is_empty(), "{filter} selects something");
    assert_eq!(page["auditLog"]["totalCount"].as_u64().unwrap() as usize, expected.len());
}

on_both_databases!(every_mutation_writes_its_audit_row, audit_log_readers_filters_and_pages);
