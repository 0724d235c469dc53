//! Agreement against the reference implementations: layers of corpus texts (made by a seeded
//! generator: a base annotation and two others that drop, retype, stretch and add spans, one
//! document left to two layers and one to a single layer) measured by
//! `nishan_domain::rounds::agreement` and by `tests/python/agreement_reference.py` (the
//! `krippendorff` package, scikit-learn's `cohen_kappa_score`, statsmodels' `fleiss_kappa`).

use std::collections::{BTreeMap, BTreeSet};

use nishan_domain::ids::{DocumentId, EntityTypeId, UserId};
use nishan_domain::rounds::Layer;
use nishan_domain::rounds::agreement::{DocumentLayers, LeftOutReason, Span, agreement, word_units};
use serde_json::{Value, json};

use crate::common;

/// A small deterministic generator (xorshift64*), so the data is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `p` percent.
    fn chance(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn corpus_documents(count: usize, chars: usize) -> Vec<String> {
    let dir = common::marsiya_dir().join("corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| String::from_utf8(std::fs::read(p).unwrap()).ok())
        .map(|t| t.replace("\r\n", "\n").chars().take(chars).collect())
        .take(count)
        .collect()
}

/// A base annotation over the words, and a variant of it.
fn base(rng: &mut Rng, words: &[(u32, u32)], types: &[EntityTypeId]) -> BTreeSet<Span> {
    let mut spans = BTreeSet::new();
    let mut i = 0;
    while i < words.len() {
        if rng.chance(15) {
            let last = if rng.chance(25) && i + 1 < words.len() { i + 1 } else { i };
            spans.insert(Span { start: words[i].0, end: words[last].1, entity_type: types[rng.pick(types.len())] });
            i = last + 1;
        } else {
            i += 1;
        }
    }
    spans
}

fn variant(rng: &mut Rng, of: &BTreeSet<Span>, words: &[(u32, u32)], types: &[EntityTypeId]) -> BTreeSet<Span> {
    let mut out = BTreeSet::new();
    for s in of {
        match rng.next() % 10 {
            0 => {}
            1 => {
                out.insert(Span { entity_type: types[rng.pick(types.len())], ..*s });
            }
            2 => {
                let next = words.iter().find(|w| w.0 >= s.end).map_or(s.end, |w| w.1);
                out.insert(Span { end: next, ..*s });
            }
            _ => {
                out.insert(*s);
            }
        }
    }
    for w in words {
        if rng.chance(3) {
            out.insert(Span { start: w.0, end: w.1, entity_type: types[rng.pick(types.len())] });
        }
    }
    out
}

fn close(ours: Option<f64>, theirs: &Value, what: &str) {
    match (ours, theirs.as_f64()) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{what}: ours {a}, reference {b}"),
        (a, _) => panic!("{what}: ours {a:?}, reference {theirs}"),
    }
}

#[test]
fn agreement_equals_the_reference_packages() {
    let texts = corpus_documents(10, 3000);
    assert_eq!(texts.len(), 10);
    let types: Vec<EntityTypeId> = (1..=4).map(|n| EntityTypeId(uuid::Uuid::from_u128(n))).collect();
    let raters = [
        Layer::Annotator(UserId(uuid::Uuid::from_u128(11))),
        Layer::Annotator(UserId(uuid::Uuid::from_u128(12))),
        Layer::Model(uuid::Uuid::from_u128(13)),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut docs = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let words = word_units(text);
        let a = base(&mut rng, &words, &types);
        let b = variant(&mut rng, &a, &words, &types);
        let c = variant(&mut rng, &a, &words, &types);
        let mut layers = BTreeMap::new();
        layers.insert(raters[0], a.into_iter().collect::<Vec<_>>());
        if n != 1 {
            layers.insert(raters[1], b.into_iter().collect());
        }
        if n > 1 {
            layers.insert(raters[2], c.into_iter().collect());
        }
        docs.push(DocumentLayers {
            document: DocumentId(uuid::Uuid::from_u128(100 + n as u128)),
            length: text.chars().count() as u32,
            words,
            layers,
        });
    }
    let report = agreement(&docs, &raters);

    let name = |l: &Layer| l.key();
    let input = json!({
        "raters": raters.iter().map(name).collect::<Vec<_>>(),
        "documents": docs.iter().map(|d| json!({
            "length": d.length,
            "words": d.words.iter().map(|w| [w.0, w.1]).collect::<Vec<_>>(),
            "layers": d.layers.iter().map(|(l, spans)| (name(l), spans.iter()
                .map(|s| json!([s.start, s.end, s.entity_type.to_string()])).collect::<Value>()))
                .collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    });
    let out = common::python::run("agreement_reference.py", &[], &input.to_string());
    let reference: Value = serde_json::from_str(&out.stdout).unwrap();

    close(report.krippendorff_alpha, &reference["alpha"], "Krippendorff's alpha");
    close(report.character_alpha, &reference["characterAlpha"], "character-level alpha");
    close(report.fleiss_kappa, &reference["fleissKappa"], "Fleiss' kappa");
    assert_eq!(report.fleiss_units as u64, reference["fleissUnits"].as_u64().unwrap());
    assert!(report.krippendorff_alpha.is_some() && report.fleiss_kappa.is_some());
    for (ours, theirs) in report.pairs.iter().zip(reference["pairs"].as_array().unwrap()) {
        let what = format!("{} / {}", ours.a.key(), ours.b.key());
        assert_eq!(ours.units as u64, theirs["units"].as_u64().unwrap(), "{what}: units");
        close(ours.cohen_kappa, &theirs["cohenKappa"], &format!("{what}: Cohen's kappa"));
        close(ours.f1_exact, &theirs["f1Exact"], &format!("{what}: F1 exact"));
        close(ours.f1_overlap, &theirs["f1Overlap"], &format!("{what}: F1 overlapping"));
    }
    assert_eq!(report.pairs.len(), 3);
    let by_type = reference["byType"].as_array().unwrap();
    assert_eq!(report.by_type.len(), by_type.len());
    for (ours, theirs) in report.by_type.iter().zip(by_type) {
        assert_eq!(ours.entity_type.to_string(), theirs["type"].as_str().unwrap());
        let what = format!("type {}", ours.entity_type);
        close(ours.krippendorff_alpha, &theirs["alpha"], &format!("{what}: alpha"));
        close(ours.f1_exact, &theirs["f1Exact"], &format!("{what}: F1 exact"));
        close(ours.f1_overlap, &theirs["f1Overlap"], &format!("{what}: F1 overlapping"));
    }
    let compared: Vec<_> = report.by_document.iter().filter(|d| d.layers >= 2).collect();
    let by_document = reference["byDocument"].as_array().unwrap();
    assert_eq!(compared.len(), by_document.len());
    for (ours, theirs) in compared.iter().zip(by_document) {
        close(ours.krippendorff_alpha, theirs, &format!("document {}", ours.document));
    }
    // The single-layer document is left out, and said so.
    let single = docs[1].words.len();
    assert!(report.left_out.iter().any(|l| l.reason == LeftOutReason::FewerThanTwoLayers && l.units == single));
    assert_eq!(report.units_compared, docs.iter().map(|d| d.words.len()).sum::<usize>() - single);
}

const ADD: &str = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
const MODE: &str = "mutation($id: ID!, $m: AnnotationMode!) { updateProject(id: $id, input: {annotationMode: $m}) { annotationMode } }";
const ASSIGN: &str =
    "mutation($i: AssignDocumentsInput!) { assignDocuments(input: $i) { id document { id } annotator { id } } }";
const CREATE: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";

/// Marks `spans` (the first of each position) in `token`'s layer of `doc`; what was marked, as
/// the reference reads it: `[[start, end, type id], ...]`.
async fn mark_layer(app: &common::TestApp, token: &str, doc: &str, spans: BTreeSet<Span>) -> Value {
    let mut seen = BTreeSet::new();
    let mut marked = Vec::new();
    for s in spans.into_iter().filter(|s| seen.insert((s.start, s.end))) {
        let input =
            json!({"documentId": doc, "entityTypeId": s.entity_type.to_string(), "start": s.start, "end": s.end});
        app.ok(Some(token), CREATE, json!({"i": input})).await;
        marked.push(json!([s.start, s.end, s.entity_type.to_string()]));
    }
    Value::Array(marked)
}
const FINISH: &str = "mutation($id: ID!) { finishAssignment(id: $id) { state } }";
const AGREEMENT: &str = "query($i: AgreementInput!) { agreement(input: $i) {
    krippendorffAlpha fleissKappa characterAlpha unitsCompared fleissUnits
    pairs { annotatorA { id } annotatorB { id } layerA layerB units cohenKappa f1Exact f1Overlap }
    byType { entityType { id name } krippendorffAlpha f1Exact f1Overlap }
    byDocument { document { id } layers units krippendorffAlpha } } }";

/// `agreement` over GraphQL: three annotators' layers of two corpus documents, made over the
/// API, equal the reference packages; only FINISHED layers count unless asked, and only
/// managers may ask.
async fn agreement_over_graphql_equals_the_reference(db: common::Db) {
    let app = common::TestApp::spawn(db).await;
    let (owner, _) = app.register("anis").await;
    let mut annotators = Vec::new();
    for name in ["dabir", "mir", "ghalib"] {
        annotators.push(app.register(name).await);
    }
    let project = app.create_project(&owner, "Agreement", json!({})).await;
    for (_, user) in &annotators {
        app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": user, "role": "RESEARCHER"}})).await;
    }
    app.ok(Some(&owner), MODE, json!({"id": project, "m": "INDEPENDENT"})).await;
    let texts = corpus_documents(2, 500);
    let mut docs = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let id = common::create_document(&app, &owner, &project, &format!("Marsiya {n}"), text).await;
        let stored = app.ok(Some(&owner), "query($d: ID!) { document(id: $d) { content } }", json!({"d": id})).await;
        docs.push((id, stored["document"]["content"].as_str().unwrap().to_owned()));
    }
    // In the order the report lists documents (by id).
    docs.sort();
    let assigned = app
        .ok(
            Some(&owner),
            ASSIGN,
            json!({"i": {"projectId": project, "documentIds": docs.iter().map(|d| &d.0).collect::<Vec<_>>(),
                "annotatorIds": annotators.iter().map(|a| &a.1).collect::<Vec<_>>()}}),
        )
        .await["assignDocuments"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(assigned.len(), 6);
    let type_ids = common::entity_type_ids(&app).await;
    let types: Vec<EntityTypeId> = ["PERSON", "LOCATION", "ORGANIZATION"]
        .iter()
        .map(|t| EntityTypeId(uuid::Uuid::parse_str(&type_ids[*t]).unwrap()))
        .collect();

    // Each annotator marks a variant of one base annotation; what they marked is the input of
    // the reference.
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let mut layers_of: Vec<serde_json::Map<String, Value>> = Vec::new();
    for (doc, content) in &docs {
        let words = word_units(content);
        let a = base(&mut rng, &words, &types);
        let mut layers = serde_json::Map::new();
        for (k, (token, user)) in annotators.iter().enumerate() {
            let spans = if k == 0 { a.clone() } else { variant(&mut rng, &a, &words, &types) };
            layers.insert(format!("annotator:{user}"), mark_layer(&app, token, doc, spans).await);
        }
        layers_of.push(layers);
    }
    // All finish the first document; the third annotator does not finish the second.
    for a in &assigned {
        let third_on_second = a["document"]["id"] == docs[1].0 && a["annotator"]["id"] == annotators[2].1;
        if !third_on_second {
            let token = &annotators.iter().find(|u| a["annotator"]["id"] == u.1).unwrap().0;
            assert_eq!(
                app.ok(Some(token), FINISH, json!({"id": a["id"]})).await["finishAssignment"]["state"],
                "FINISHED"
            );
        }
    }

    let mut raters: Vec<String> = annotators.iter().map(|a| format!("annotator:{}", a.1)).collect();
    raters.sort();
    let reference = |unfinished_too: bool| {
        let documents: Vec<Value> = docs
            .iter()
            .zip(&layers_of)
            .enumerate()
            .map(|(n, ((_, content), layers))| {
                let mut layers = layers.clone();
                if n == 1 && !unfinished_too {
                    layers.remove(&raters_key(&annotators[2].1));
                }
                json!({
                    "length": content.chars().count(),
                    "words": word_units(content).iter().map(|w| [w.0, w.1]).collect::<Vec<_>>(),
                    "layers": layers,
                })
            })
            .collect();
        let input = json!({"raters": raters, "documents": documents});
        let out = common::python::run("agreement_reference.py", &[], &input.to_string());
        serde_json::from_str::<Value>(&out.stdout).unwrap()
    };
    for unfinished_too in [false, true] {
        let theirs = reference(unfinished_too);
        let ours = &app
            .ok(Some(&owner), AGREEMENT, json!({"i": {"projectId": project, "includeUnfinished": unfinished_too}}))
            .await["agreement"];
        close(ours["krippendorffAlpha"].as_f64(), &theirs["alpha"], "Krippendorff's alpha");
        close(ours["characterAlpha"].as_f64(), &theirs["characterAlpha"], "character-level alpha");
        close(ours["fleissKappa"].as_f64(), &theirs["fleissKappa"], "Fleiss' kappa");
        assert!(ours["krippendorffAlpha"].is_f64() && ours["fleissKappa"].is_f64(), "{ours}");
        assert_eq!(ours["fleissUnits"], theirs["fleissUnits"]);
        let first_words = word_units(&docs[0].1).len() as u64;
        let all_words = first_words + word_units(&docs[1].1).len() as u64;
        assert_eq!(ours["unitsCompared"].as_u64().unwrap(), all_words);
        // Fleiss' κ needs every layer: the second document only when unfinished layers count.
        assert_eq!(ours["fleissUnits"].as_u64().unwrap(), if unfinished_too { all_words } else { first_words });
        let pairs = ours["pairs"].as_array().unwrap();
        assert_eq!(pairs.len(), 3);
        for (p, t) in pairs.iter().zip(theirs["pairs"].as_array().unwrap()) {
            let what = format!("{} / {}", p["layerA"], p["layerB"]);
            assert_eq!(p["layerA"].as_str().unwrap(), format!("annotator:{}", p["annotatorA"]["id"].as_str().unwrap()));
            assert_eq!(p["units"], t["units"], "{what}");
            close(p["cohenKappa"].as_f64(), &t["cohenKappa"], &format!("{what}: Cohen's kappa"));
            close(p["f1Exact"].as_f64(), &t["f1Exact"], &format!("{what}: F1 exact"));
            close(p["f1Overlap"].as_f64(), &t["f1Overlap"], &format!("{what}: F1 overlapping"));
        }
        let by_type = ours["byType"].as_array().unwrap();
        assert_eq!(by_type.len(), theirs["byType"].as_array().unwrap().len());
        for (o, t) in by_type.iter().zip(theirs["byType"].as_array().unwrap()) {
            assert_eq!(o["entityType"]["id"], t["type"]);
            close(o["krippendorffAlpha"].as_f64(), &t["alpha"], "type alpha");
            close(o["f1Exact"].as_f64(), &t["f1Exact"], "type F1 exact");
        }
        let by_document = ours["byDocument"].as_array().unwrap();
        assert_eq!(by_document.len(), 2);
        for (o, t) in by_document.iter().zip(theirs["byDocument"].as_array().unwrap()) {
            close(o["krippendorffAlpha"].as_f64(), t, "document alpha");
        }
    }

    // Two annotators only, and one document only.
    let two = &app
        .ok(
            Some(&owner),
            AGREEMENT,
            json!({"i": {"projectId": project, "annotatorIds": [annotators[0].1, annotators[1].1], "documentIds": [docs[0].0]}}),
        )
        .await["agreement"];
    assert_eq!(two["pairs"].as_array().unwrap().len(), 1);
    assert_eq!(two["unitsCompared"].as_u64().unwrap(), word_units(&docs[0].1).len() as u64);
    // Only managers.
    let r = app.gql(Some(&annotators[0].0), AGREEMENT, json!({"i": {"projectId": project}})).await;
    assert_eq!(common::error_code(&r), "FORBIDDEN");
    let r = app.gql(None, AGREEMENT, json!({"i": {"projectId": project}})).await;
    assert_eq!(common::error_code(&r), "NOT_FOUND");
}

fn raters_key(user: &str) -> String {
    format!("annotator:{user}")
}

const AGREEMENT_WITH_MODELS: &str = "query($i: AgreementInput!) { agreement(input: $i) {
    krippendorffAlpha fleissKappa characterAlpha unitsCompared fleissUnits
    pairs { annotatorA { id } annotatorB { id } modelA { id name } modelB { id name } layerA layerB units cohenKappa f1Exact f1Overlap }
    byType { entityType { id } krippendorffAlpha f1Exact } } }";

/// The model's layer counts as one more rater (its suggestions against each annotator), and
/// every measure still equals the reference packages; `includeModels: false` leaves it out.
async fn the_models_layer_is_one_more_rater(db: common::Db) {
    let app = common::TestApp::spawn(db).await;
    let (owner, _) = app.register("anis").await;
    let mut annotators = Vec::new();
    for name in ["dabir", "mir"] {
        annotators.push(app.register(name).await);
    }
    let project = app.create_project(&owner, "Model rater", json!({})).await;
    for (_, user) in &annotators {
        app.ok(Some(&owner), ADD, json!({"i": {"projectId": project, "userId": user, "role": "RESEARCHER"}})).await;
    }
    app.ok(Some(&owner), MODE, json!({"id": project, "m": "INDEPENDENT"})).await;
    // Names the built-in extractor knows, then a corpus text.
    let text = format!("حسینؑ ابن علیؑ نے فرات کو دیکھا\nکربلا کی زمیں پر عباسؑ کا علم\n{}", corpus_documents(1, 400)[0]);
    let doc = common::create_document(&app, &owner, &project, "Marsiya", &text).await;
    let content = app.ok(Some(&owner), "query($d: ID!) { document(id: $d) { content } }", json!({"d": doc})).await
        ["document"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let assigned = app
        .ok(
            Some(&owner),
            ASSIGN,
            json!({"i": {"projectId": project, "documentIds": [doc], "annotatorIds": annotators.iter().map(|a| &a.1).collect::<Vec<_>>()}}),
        )
        .await["assignDocuments"]
        .as_array()
        .unwrap()
        .clone();
    let start = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id llmModel { id name } } }";
    let started = app.ok(Some(&owner), start, json!({"i": {"documentId": doc}})).await["startProcessingJob"].clone();
    let done = common::wait_for_job(&app, &owner, started["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let model = started["llmModel"]["id"].as_str().unwrap().to_owned();
    let read = "query($d: ID!, $l: LayerInput) { document(id: $d) { entities(first: 1000, layer: $l) { edges { node { start end entityType { id } } } } } }";
    let suggested: Vec<Value> =
        app.ok(Some(&owner), read, json!({"d": doc, "l": {"modelId": model}})).await["document"]["entities"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| json!([e["node"]["start"], e["node"]["end"], e["node"]["entityType"]["id"]]))
            .collect();
    assert!(suggested.len() >= 4, "{suggested:?}");

    let type_ids = common::entity_type_ids(&app).await;
    let types: Vec<EntityTypeId> = ["PERSON", "LOCATION", "ORGANIZATION"]
        .iter()
        .map(|t| EntityTypeId(uuid::Uuid::parse_str(&type_ids[*t]).unwrap()))
        .collect();
    let words = word_units(&content);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let a = base(&mut rng, &words, &types);
    let mut layers = serde_json::Map::new();
    for (k, (token, user)) in annotators.iter().enumerate() {
        let spans = if k == 0 { a.clone() } else { variant(&mut rng, &a, &words, &types) };
        layers.insert(raters_key(user), mark_layer(&app, token, &doc, spans).await);
    }
    for a in &assigned {
        let token = &annotators.iter().find(|u| a["annotator"]["id"] == u.1).unwrap().0;
        app.ok(Some(token), FINISH, json!({"id": a["id"]})).await;
    }
    let model_key = format!("model:{model}");
    layers.insert(model_key.clone(), Value::Array(suggested));

    let reference = |raters: &[String]| {
        let mut raters = raters.to_vec();
        raters.sort();
        let mut kept = layers.clone();
        kept.retain(|k, _| raters.contains(k));
        let documents = json!([{
            "length": content.chars().count(),
            "words": words.iter().map(|w| [w.0, w.1]).collect::<Vec<_>>(),
            "layers": kept,
        }]);
        let out = common::python::run(
            "agreement_reference.py",
            &[],
            &json!({"raters": raters, "documents": documents}).to_string(),
        );
        serde_json::from_str::<Value>(&out.stdout).unwrap()
    };
    let a_key = raters_key(&annotators[0].1);
    let b_key = raters_key(&annotators[1].1);
    for (input, raters) in [
        (json!({"projectId": project}), vec![a_key.clone(), b_key.clone(), model_key.clone()]),
        (json!({"projectId": project, "includeModels": false}), vec![a_key.clone(), b_key.clone()]),
        // One annotator and the model: the document is still compared.
        (json!({"projectId": project, "annotatorIds": [annotators[0].1]}), vec![a_key.clone(), model_key.clone()]),
    ] {
        let theirs = reference(&raters);
        let ours = &app.ok(Some(&owner), AGREEMENT_WITH_MODELS, json!({"i": input})).await["agreement"];
        let what = format!("{input}");
        close(ours["krippendorffAlpha"].as_f64(), &theirs["alpha"], &what);
        close(ours["characterAlpha"].as_f64(), &theirs["characterAlpha"], &what);
        close(ours["fleissKappa"].as_f64(), &theirs["fleissKappa"], &what);
        assert!(ours["krippendorffAlpha"].is_f64(), "{ours}");
        assert_eq!(ours["fleissUnits"], theirs["fleissUnits"], "{what}");
        let pairs = ours["pairs"].as_array().unwrap();
        assert_eq!(pairs.len(), raters.len() * (raters.len() - 1) / 2, "{what}");
        for (p, t) in pairs.iter().zip(theirs["pairs"].as_array().unwrap()) {
            let what = format!("{what}: {} / {}", p["layerA"], p["layerB"]);
            // The model's side names the model (with its name) and no annotator.
            if p["layerB"] == model_key.as_str() {
                assert_eq!(p["modelB"]["id"], model.as_str(), "{what}");
                assert_eq!(p["modelB"]["name"], started["llmModel"]["name"], "{what}");
                assert_eq!(p["annotatorB"], Value::Null, "{what}");
            } else {
                assert_eq!(p["modelB"], Value::Null, "{what}");
            }
            assert_eq!(p["units"], t["units"], "{what}");
            close(p["cohenKappa"].as_f64(), &t["cohenKappa"], &format!("{what}: Cohen's kappa"));
            close(p["f1Exact"].as_f64(), &t["f1Exact"], &format!("{what}: F1 exact"));
            close(p["f1Overlap"].as_f64(), &t["f1Overlap"], &format!("{what}: F1 overlapping"));
        }
        let with_model = pairs.iter().filter(|p| p["layerB"] == model_key.as_str()).count();
        assert_eq!(with_model, usize::from(raters.contains(&model_key)) * (raters.len() - 1), "{what}");
        let by_type = ours["byType"].as_array().unwrap();
        assert_eq!(by_type.len(), theirs["byType"].as_array().unwrap().len(), "{what}");
        for (o, t) in by_type.iter().zip(theirs["byType"].as_array().unwrap()) {
            close(o["krippendorffAlpha"].as_f64(), &t["alpha"], "type alpha");
            close(o["f1Exact"].as_f64(), &t["f1Exact"], "type F1 exact");
        }
    }
}

on_both_databases!(agreement_over_graphql_equals_the_reference, the_models_layer_is_one_more_rater);
