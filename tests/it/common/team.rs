//! A project team for annotation-round tests (issue 12): an owner, annotators (RESEARCHER),
//! viewers, one document, and the steps every round takes (the annotation mode, assignments,
//! marking spans, reading a layer).

use serde_json::{Value, json};

use super::{Db, TestApp, create_document, entity_type_ids};

const ADD: &str = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const MODE: &str = "mutation($id: ID!, $m: AnnotationMode!) { updateProject(id: $id, input: {annotationMode: $m}) { annotationMode } }";
const ASSIGN: &str = "mutation($i: AssignDocumentsInput!) { assignDocuments(input: $i) { id state document { id } annotator { id } startedAt finishedAt } }";
const CREATE: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id text } }";
const LAYER: &str = "query($d: ID!, $l: LayerInput) { document(id: $d) { totalEntities entities(first: 100, layer: $l) { totalCount edges { node { id text } } } } }";

/// (token, user id) of a member.
pub type Member = (String, String);

pub struct Team {
    pub app: TestApp,
    /// The owner's token.
    pub owner: String,
    pub annotators: Vec<Member>,
    pub viewers: Vec<Member>,
    pub project: String,
    /// The first document (its text is the one given to [`Team::spawn`]).
    pub doc: String,
    /// The PERSON type's id.
    pub person: String,
}

impl Team {
    /// A SHARED project named `name` of the owner "anis", with the annotators and viewers
    /// named (registered and added), and one document holding `text`.
    pub async fn spawn(db: Db, name: &str, text: &str, annotators: &[&str], viewers: &[&str]) -> Team {
        Self::spawn_on(TestApp::spawn(db).await, name, text, annotators, viewers).await
    }

    /// [`Team::spawn`] on a server already started.
    pub async fn spawn_on(app: TestApp, name: &str, text: &str, annotators: &[&str], viewers: &[&str]) -> Team {
        let (owner, _) = app.register("anis").await;
        let project = app.create_project(&owner, name, json!({})).await;
        let mut members = Vec::new();
        for (names, role) in [(annotators, "RESEARCHER"), (viewers, "VIEWER")] {
            let mut list = Vec::new();
            for n in names {
                let m = app.register(n).await;
                app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": m.1, "role": role}})).await;
                list.push(m);
            }
            members.push(list);
        }
        let doc = create_document(&app, &owner, &project, "Marsiya", text).await;
        let person = entity_type_ids(&app).await["PERSON"].clone();
        let viewers = members.pop().unwrap();
        let annotators = members.pop().unwrap();
        Team { app, owner, annotators, viewers, project, doc, person }
    }

    /// Switches the project's annotation mode (as its owner).
    pub async fn mode(&self, mode: &str) {
        self.app.ok(Some(&self.owner), MODE, json!({"id": self.project, "m": mode})).await;
    }

    /// Assigns `documents` to the `annotators` (user ids), spread over `per_document` of them
    /// when given; the assignments made (`{ id state document { id } annotator { id } ... }`).
    pub async fn assign(&self, documents: &[&str], annotators: &[&str], per_document: Option<u32>) -> Vec<Value> {
        let mut input = json!({"projectId": self.project, "documentIds": documents, "annotatorIds": annotators});
        if let Some(n) = per_document {
            input["annotatorsPerDocument"] = json!(n);
        }
        let made = self.app.ok(Some(&self.owner), ASSIGN, json!({"i": input})).await;
        made["assignDocuments"].as_array().unwrap().clone()
    }

    /// `createEntity` of `entity_type` at `start..end` of `doc` as `token` (in their default
    /// layer); the whole answer.
    pub async fn mark_as(&self, token: &str, doc: &str, entity_type: &str, start: u32, end: u32) -> Value {
        self.app
            .gql(
                Some(token),
                CREATE,
                json!({"i": {"documentId": doc, "entityTypeId": entity_type, "start": start, "end": end}}),
            )
            .await
    }

    /// (document's totalEntities, the layer's texts in reading order, the layer's totalCount)
    /// of the first document, as `token` reads it.
    pub async fn read(&self, token: &str, layer: Value) -> (u64, Vec<String>, u64) {
        let d = self.app.ok(Some(token), LAYER, json!({"d": self.doc, "l": layer})).await;
        let doc = &d["document"];
        let texts = doc["entities"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["text"].as_str().unwrap().to_owned())
            .collect();
        (doc["totalEntities"].as_u64().unwrap(), texts, doc["entities"]["totalCount"].as_u64().unwrap())
    }
}
