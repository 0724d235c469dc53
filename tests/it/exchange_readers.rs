//! Exports read by the tools researchers read them with, run for real (`tests/python/`): the
//! CONLL export through `spacy convert -c ner`, the parser of Hugging Face's `conll2003` loader
//! and seqeval; the JSONL export through `datasets.load_dataset("json")` and doccano 1.8.4's
//! own JSONL import pipeline. Each test checks what a user would: the documents, tokens and entities the reader
//! found are exactly those exported, with their texts and labels.

use crate::common;

use common::{Db, TestApp, entity_type_ids};
use serde_json::{Value, json};

const IMPORT_DOCS: &str = "mutation($p: ID!, $f: ExchangeFormat!, $data: String!) { importDocuments(projectId: $p, format: $f, data: $data) { created documents { id } } }";
const EXPORT: &str =
    "query($p: ID!, $f: ExchangeFormat!, $l: LayerInput) { exportProject(projectId: $p, format: $f, layer: $l) }";
const DOCUMENTS: &str = "query($p: ID!) { project(id: $p) { documents(first: 50) { edges { node { id title content entities(first: 100) { edges { node { text start end entityType { name } } } } } } } } }";

/// The sample of nested and crossing entities (README, *Import and export*).
const NESTED: &str = "امام حسینؑ ابن علیؑ, کربلا میں\nعباسؑ، فرات پر";

/// A project holding the corpus's tagged sample, the nested sample, a text whose entity starts
/// inside a word, and a text without entities. Returns the app, the owner's token, the project.
async fn project_of_four(db: Db) -> (TestApp, String, String) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    entity_type_ids(&app).await;
    let project = app.create_project(&token, "Readers", json!({})).await;
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string(common::marsiya_dir().join("tagged_sample.json")).unwrap())
            .unwrap();
    let tagged: Vec<&str> =
        sample["tagged_elements"].as_array().unwrap().iter().map(|e| e["tagged"].as_str().unwrap()).collect();
    let tagged = format!("<document title=\"Tagged sample\" dir=\"rtl\">\n{}\n</document>\n", tagged.join("\n"));
    let r = app.ok(Some(&token), IMPORT_DOCS, json!({"p": project, "f": "INLINE_TAGS", "data": tagged})).await;
    assert_eq!(
        (r["importDocuments"]["documents"].as_array().unwrap().len(), r["importDocuments"]["created"].as_u64()),
        (1, Some(8))
    );
    let lines = [
        json!({"title": "Nested", "text": NESTED, "label": [[0, 19, "PERSON"], [0, 4, "DESIGNATION"], [5, 10, "PERSON"], [15, 26, "LOCATION"], [21, 26, "LOCATION"], [31, 36, "PERSON"], [38, 42, "LOCATION"]]}),
        json!({"title": "Inside a word", "text": "ابوالفضل عباس\nعلمدار", "label": [[3, 13, "PERSON"]]}),
        json!({"title": "Plain", "text": "کوئی نام نہیں\n\nدوسرا بند"}),
    ];
    let data: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let r = app.ok(Some(&token), IMPORT_DOCS, json!({"p": project, "f": "JSONL", "data": data})).await;
    assert_eq!(r["importDocuments"]["documents"].as_array().unwrap().len(), 3);
    (app, token, project)
}

/// Each document's title, content and entities `(start, end, type, text)` in text order.
async fn documents(
    app: &TestApp,
    token: &str,
    project: &str,
) -> Vec<(String, String, Vec<(u64, u64, String, String)>)> {
    let data = app.ok(Some(token), DOCUMENTS, json!({"p": project})).await;
    data["project"]["documents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let d = &d["node"];
            let entities = d["entities"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let e = &e["node"];
                    (
                        e["start"].as_u64().unwrap(),
                        e["end"].as_u64().unwrap(),
                        e["entityType"]["name"].as_str().unwrap().to_owned(),
                        e["text"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (d["title"].as_str().unwrap().to_owned(), d["content"].as_str().unwrap().to_owned(), entities)
        })
        .collect()
}

/// Who reads and exports: the owner (the curated layer of a SHARED project), or an annotator
/// of the project made INDEPENDENT, with their own layer named.
struct Reader {
    app: TestApp,
    token: String,
    project: String,
    layer: Value,
    /// Entities the reader's layer holds beyond the four documents' imports.
    extra: usize,
}

async fn shared_reader(db: Db) -> Reader {
    let (app, token, project) = project_of_four(db).await;
    Reader { app, token, project, layer: Value::Null, extra: 0 }
}

/// The project of four made INDEPENDENT: an annotator copies each document's gold into their
/// own layer (exported as JSONL, imported with `importEntities`) and marks one name more
/// (نام in «Plain»); the readers then read the export of that layer.
async fn layer_reader(db: Db) -> Reader {
    let (app, owner, project) = project_of_four(db).await;
    let mode = "mutation($id: ID!) { updateProject(id: $id, input: {annotationMode: INDEPENDENT}) { annotationMode } }";
    app.ok(Some(&owner), mode, json!({"id": project})).await;
    let (token, user) = app.register("bano").await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    app.ok(Some(&owner), add, json!({"i": {"projectId": project, "userId": user, "role": "RESEARCHER"}})).await;
    let ids = app
        .ok(
            Some(&owner),
            "query($p: ID!) { project(id: $p) { documents(first: 50) { edges { node { id title } } } } }",
            json!({"p": project}),
        )
        .await;
    let docs: Vec<(String, String)> = ids["project"]["documents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["node"]["id"].as_str().unwrap().to_owned(), d["node"]["title"].as_str().unwrap().to_owned()))
        .collect();
    let assign = "mutation($i: AssignDocumentsInput!) { assignDocuments(input: $i) { id } }";
    let all: Vec<&String> = docs.iter().map(|d| &d.0).collect();
    app.ok(Some(&owner), assign, json!({"i": {"projectId": project, "documentIds": all, "annotatorIds": [user]}}))
        .await;
    let export = "query($d: ID!) { exportDocument(documentId: $d, format: JSONL) }";
    let import =
        "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: JSONL, data: $data) { created } }";
    for (doc, _) in &docs {
        let gold = app.ok(Some(&token), export, json!({"d": doc})).await["exportDocument"].as_str().unwrap().to_owned();
        app.ok(Some(&token), import, json!({"d": doc, "data": gold})).await;
    }
    let plain = &docs.iter().find(|d| d.1 == "Plain").unwrap().0;
    let person = entity_type_ids(&app).await["PERSON"].clone();
    let create = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { text } }";
    let made = app
        .ok(Some(&token), create, json!({"i": {"documentId": plain, "entityTypeId": person, "start": 5, "end": 8}}))
        .await;
    assert_eq!(made["createEntity"]["text"], "نام");
    // The gold is unchanged: the curated export has no entity in «Plain».
    let curated = app.ok(Some(&token), export, json!({"d": plain})).await;
    let line: Value = serde_json::from_str(curated["exportDocument"].as_str().unwrap().trim()).unwrap();
    assert_eq!(line["label"], json!([]));
    Reader { app, token, project, layer: json!({"annotatorId": user}), extra: 1 }
}

async fn export_to_file(r: &Reader, format: &str, name: &str) -> std::path::PathBuf {
    let (app, token, project) = (&r.app, &r.token, &r.project);
    let data = app.ok(Some(token), EXPORT, json!({"p": project, "f": format, "l": r.layer})).await;
    let path = app.data_dir.join(name);
    std::fs::write(&path, data["exportProject"].as_str().unwrap()).unwrap();
    path
}

fn without_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// What a CoNLL reader should find in a document: its entities but those CoNLL cannot carry
/// (overlapping ones: in the nested sample, the DESIGNATION and PERSON inside the long PERSON,
/// and the LOCATION crossing its end), as `(type, text without whitespace)`.
fn carried_by_conll(title: &str, entities: &[(u64, u64, String, String)]) -> Vec<(String, String)> {
    let dropped: &[(u64, u64)] = if title == "Nested" { &[(0, 4), (5, 10), (15, 26)] } else { &[] };
    entities
        .iter()
        .filter(|(s, e, _, _)| !dropped.contains(&(*s, *e)))
        .map(|(_, _, ty, text)| (ty.clone(), without_whitespace(text)))
        .collect()
}

async fn conll_is_read_by_spacy_seqeval_and_datasets(db: Db) {
    conll_readers(shared_reader(db).await).await;
}

/// The same readers, on the export of one annotator's layer.
async fn an_annotators_layer_is_read_by_the_conll_readers(db: Db) {
    conll_readers(layer_reader(db).await).await;
}

async fn conll_readers(r: Reader) {
    let (app, token, project) = (&r.app, &r.token, &r.project);
    let docs = documents(app, token, project).await;
    assert_eq!(docs.len(), 4);
    let path = export_to_file(&r, "CONLL", "project.conll").await;
    let read: Value =
        serde_json::from_str(&common::python::run("conll_readers.py", &[path.to_str().unwrap()], "").stdout)
            .expect("the readers print JSON");

    // spaCy: one Doc per document, its tokens the document's text (nothing else read as a
    // token), and exactly the exported entities with their labels and texts.
    let spacy = read["spacy"]["docs"].as_array().unwrap();
    assert_eq!(spacy.len(), docs.len(), "{}", read["spacy"]["cli"]);
    let mut total = std::collections::BTreeMap::<String, usize>::new();
    for (title, content, entities) in &docs {
        let tokens_of =
            |d: &Value| -> String { d["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect() };
        let doc = spacy
            .iter()
            .find(|d| tokens_of(d) == without_whitespace(content))
            .unwrap_or_else(|| panic!("no spaCy doc holds exactly the tokens of {title}: {spacy:?}"));
        let found: Vec<(String, String)> = doc["ents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["label"].as_str().unwrap().to_owned(), without_whitespace(e["text"].as_str().unwrap())))
            .collect();
        let expected = carried_by_conll(title, entities);
        assert_eq!(found, expected, "{title}");
        for (ty, _) in expected {
            *total.entry(ty).or_default() += 1;
        }
    }
    assert_eq!(
        total.values().sum::<usize>(),
        8 + 4 + 1 + r.extra,
        "the sample's 8 tags, 4 of the nested sample, 1, and the layer's own"
    );
    // Where an entity edge splits a word, spaCy reads the pieces as tokens: «ابو» stays outside.
    let inside = spacy.iter().find(|d| d["tokens"][0] == "ابو").unwrap();
    assert_eq!(inside["ents"], json!([{"text": "الفضل عباس", "label": "PERSON", "start": 1, "end": 3}]));

    // datasets, with the conll2003 loader's parser: one row per non-blank text line, and the
    // tokens of all rows are the documents' text.
    let rows = read["datasets"].as_array().unwrap();
    let text_lines: usize =
        docs.iter().map(|(_, content, _)| content.lines().filter(|l| !l.trim().is_empty()).count()).sum();
    assert_eq!(rows.len(), text_lines);
    let row_tokens: String = rows
        .iter()
        .flat_map(|r| r["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()))
        .collect();
    let spacy_tokens: String = spacy
        .iter()
        .flat_map(|d| d["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(row_tokens, spacy_tokens);
    for row in rows {
        assert_eq!(row["tokens"].as_array().unwrap().len(), row["ner_tags"].as_array().unwrap().len(), "{row}");
    }

    // seqeval, on those rows' tags: the same entities per type, in strict IOB2 (every entity
    // opens with B-).
    let support: std::collections::BTreeMap<String, usize> =
        serde_json::from_value(read["seqeval"]["support"].clone()).unwrap();
    assert_eq!(support, total);
    let seqeval_count: usize =
        read["seqeval"]["entities"].as_array().unwrap().iter().map(|s| s.as_array().unwrap().len()).sum();
    assert_eq!(seqeval_count, total.values().sum::<usize>());
}

async fn jsonl_loads_in_datasets_and_in_doccanos_import(db: Db) {
    jsonl_readers(shared_reader(db).await).await;
}

/// The same readers, on the export of one annotator's layer.
async fn an_annotators_layer_loads_in_datasets_and_doccano(db: Db) {
    jsonl_readers(layer_reader(db).await).await;
}

async fn jsonl_readers(r: Reader) {
    let (app, token, project) = (&r.app, &r.token, &r.project);
    let docs = documents(app, token, project).await;
    let total_expected: usize = 8 + 7 + 1 + r.extra;
    assert_eq!(docs.iter().map(|d| d.2.len()).sum::<usize>(), total_expected, "the reader's layer");
    let path = export_to_file(&r, "JSONL", "project.jsonl").await;
    let exported: Vec<Value> =
        std::fs::read_to_string(&path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let read: Value =
        serde_json::from_str(&common::python::run("jsonl_readers.py", &[path.to_str().unwrap()], "").stdout)
            .expect("the readers print JSON");

    // datasets: every line a row, with every field as exported.
    let rows = read["datasets"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), docs.len());
    assert_eq!(rows, &exported, "{}", read["datasets"]["features"]);
    let features = &read["datasets"]["features"];
    for (name, feature) in
        [("text", "Value('string')"), ("title", "Value('string')"), ("verified", "List(Value('bool'))")]
    {
        assert_eq!(features[name], feature, "{features}");
    }

    // doccano 1.8.4's own import pipeline: every line an example with its text, the other
    // fields as its metadata, and every label a valid span whose offsets give the entity's text.
    let doccano = &read["doccano"];
    assert_eq!(doccano["errors"], json!([]));
    let total: usize = docs.iter().map(|(_, _, entities)| entities.len()).sum();
    assert_eq!(
        (doccano["labels_given"].as_u64(), doccano["labels_kept"].as_u64()),
        (Some(total as u64), Some(total as u64))
    );
    let examples = doccano["examples"].as_array().unwrap();
    assert_eq!(examples.len(), exported.len());
    for (line, example) in exported.iter().zip(examples) {
        let (_, content, entities) = docs.iter().find(|(title, _, _)| title.as_str() == line["title"]).unwrap();
        assert_eq!(example["text"].as_str(), Some(content.as_str()));
        assert_eq!(example["meta"]["title"], line["title"]);
        assert_eq!(example["meta"]["id"], line["id"]);
        let mut expected: Vec<Value> = entities.iter().map(|(s, e, ty, text)| json!([s, e, ty, text])).collect();
        expected.sort_by_key(|v| (v[0].as_u64(), std::cmp::Reverse(v[1].as_u64()), v[2].as_str().map(str::to_owned)));
        assert_eq!(example["spans"].as_array().unwrap(), &expected, "{}", line["title"]);
    }
    // Nested entities need doccano's "Allow overlapping entity" setting: without it doccano
    // keeps fewer (the README says so).
    assert!(doccano["labels_kept_without_overlapping"].as_u64().unwrap() < total as u64);
}

on_both_databases!(
    conll_is_read_by_spacy_seqeval_and_datasets,
    jsonl_loads_in_datasets_and_in_doccanos_import,
    an_annotators_layer_is_read_by_the_conll_readers,
    an_annotators_layer_loads_in_datasets_and_doccano,
);
