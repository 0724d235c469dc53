//! Project and document statistics and model quality over GraphQL, checked against counts the
//! test computes itself from what it did (with plain all-pairs loops, not the server's
//! algorithm).

use crate::common;

use std::collections::{BTreeMap, HashMap};

use common::{Db, TestApp, create_document, entity_type_ids, error_code};
use nishan_domain::ports::{DocumentRepository, EntityRepository, OnDuplicate};
use serde_json::{Value, json};

const D1: &str = "حسینؑ ابن علیؑ کربلا میں، عباسؑ فرات پر علمدار\nزینبؑ شام میں اکبرؑ اور اصغرؑ";
const D2: &str = "دمشق میں زینبؑ";
const D3: &str = "مدینہ سے سفر";

const QUALITY: &str = "modelId suggestions pending verifiedAsIs corrected rejected reviewed precision precisionOverlap gold foundExact foundOverlap missed recallExact recallOverlap f1Exact f1Overlap byType { entityType { name } suggestions pending verifiedAsIs corrected rejected precision precisionOverlap gold foundExact foundOverlap recallExact recallOverlap f1Exact f1Overlap }";

fn span(text: &str, needle: &str) -> (usize, usize) {
    let byte = text.find(needle).unwrap_or_else(|| panic!("{needle} in {text}"));
    let start = text[..byte].chars().count();
    (start, start + needle.chars().count())
}

/// What the test did to one entity, and so what it must be now.
#[derive(Clone, Debug)]
struct Truth {
    doc: &'static str,
    span: (usize, usize),
    /// The type now (for a rejected suggestion: the type the model gave it).
    ty: &'static str,
    source: &'static str,
    verified_by: Option<&'static str>,
    model: Option<&'static str>,
    /// The model's type, for suggestions.
    suggested: Option<&'static str>,
    /// pending, as_is, corrected, rejected; "" for others' entities.
    state: &'static str,
}

impl Truth {
    fn exists(&self) -> bool {
        self.state != "rejected"
    }
    fn gold(&self) -> bool {
        self.exists() && (self.verified_by.is_some() || self.source == "MANUAL" || self.source == "CORRECTION")
    }
}

struct World {
    app: TestApp,
    admin: String,
    researcher: String,
    project: String,
    docs: HashMap<&'static str, String>,
    models: HashMap<&'static str, String>,
    truth: Vec<Truth>,
}

/// Stores a model's suggestion straight through the store, as a processing job would.
async fn suggest(
    w: &World,
    types: &HashMap<String, String>,
    doc: &'static str,
    needle: &str,
    ty: &str,
    model: &str,
) -> String {
    let store = nishan_infrastructure::Store::new(w.app.database().await);
    let id = nishan_domain::ids::DocumentId(w.docs[doc].parse().unwrap());
    let document = store.document_by_id(id).await.unwrap().unwrap();
    let text = nishan_domain::text::DocumentText::new(&document.content);
    let (a, b) = span(&document.content, needle);
    let mut e = nishan_domain::service::entities::new_entity(
        &document,
        &text,
        nishan_domain::ids::EntityTypeId(types[ty].parse().unwrap()),
        (a as u32, b as u32),
        nishan_domain::entity::EntitySource::Llm,
        document.created_by.unwrap(),
    )
    .unwrap();
    e.llm_model_id = Some(w.models[model].parse().unwrap());
    let audit = nishan_domain::audit::AuditEntry::new(&Default::default(), None, "test.suggest", "entity");
    let entity_id = e.id.to_string();
    store.insert_entities(id, vec![e], OnDuplicate::Conflict, audit).await.unwrap();
    entity_id
}

async fn world(db: Db) -> World {
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("anis").await;
    let (researcher, researcher_id) = app.register("baqir").await;
    let project = app.create_project(&admin, "Statistics", json!({})).await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    app.ok(Some(&admin), add, json!({"i": {"projectId": project, "userId": researcher_id, "role": "RESEARCHER"}}))
        .await;
    let mut docs = HashMap::new();
    for (name, text) in [("D1", D1), ("D2", D2), ("D3", D3)] {
        docs.insert(name, create_document(&app, &admin, &project, name, text).await);
    }
    app.execute("UPDATE documents SET processing_status = 'completed' WHERE title = 'D2'").await;
    app.execute("UPDATE documents SET processing_status = 'failed' WHERE title = 'D3'").await;
    let models = HashMap::from([("M1", uuid::Uuid::new_v4().to_string()), ("M2", uuid::Uuid::new_v4().to_string())]);
    World { app, admin, researcher, project, docs, models, truth: vec![] }
}

fn text_of(doc: &str) -> &'static str {
    match doc {
        "D1" => D1,
        "D2" => D2,
        _ => D3,
    }
}

async fn scenario(db: Db) -> World {
    let mut w = world(db).await;
    let types = entity_type_ids(&w.app).await;
    let tokens = HashMap::from([("anis", w.admin.clone()), ("baqir", w.researcher.clone())]);
    let verify = "mutation($id: ID!) { verifyEntity(id: $id) { id } }";
    let retype = "mutation($id: ID!, $t: ID!) { updateEntity(id: $id, input: {entityTypeId: $t}) { source } }";
    let delete = "mutation($id: ID!) { deleteEntity(id: $id) }";
    // (document, needle, model's type, model, what researchers do, final type, who)
    let suggestions: [(&str, &str, &str, &str, &str, &str, &str); 10] = [
        ("D1", "حسینؑ", "PERSON", "M1", "verify", "PERSON", "anis"),
        ("D1", "علیؑ", "PERSON", "M1", "verify", "PERSON", "baqir"),
        ("D1", "کربلا", "LOCATION", "M1", "verify", "LOCATION", "baqir"),
        ("D1", "فرات", "PERSON", "M1", "correct+verify", "LOCATION", "anis"),
        ("D1", "علمدار", "LOCATION", "M1", "reject", "LOCATION", "baqir"),
        ("D1", "زینبؑ", "PERSON", "M1", "", "PERSON", ""),
        ("D1", "شام", "PERSON", "M1", "correct+reject", "LOCATION", "anis"),
        ("D1", "عباسؑ", "PERSON", "M2", "verify", "PERSON", "anis"),
        ("D1", "عباسؑ", "LOCATION", "M2", "reject", "LOCATION", "anis"),
        ("D2", "دمشق", "LOCATION", "M2", "", "LOCATION", ""),
    ];
    for (doc, needle, ty, model, action, final_ty, who) in suggestions {
        let id = suggest(&w, &types, doc, needle, ty, model).await;
        let token = tokens.get(who).cloned().unwrap_or_default();
        let mut truth = Truth {
            doc,
            span: span(text_of(doc), needle),
            ty,
            source: "LLM",
            verified_by: None,
            model: Some(model),
            suggested: Some(ty),
            state: "pending",
        };
        if action.starts_with("correct") {
            w.app.ok(Some(&token), retype, json!({"id": id, "t": types[final_ty]})).await;
            (truth.ty, truth.source, truth.state) = (final_ty, "CORRECTION", "corrected");
        }
        if action.ends_with("verify") {
            w.app.ok(Some(&token), verify, json!({"id": id})).await;
            truth.verified_by = Some(who);
            if truth.state == "pending" {
                truth.state = "as_is";
            }
        }
        if action.ends_with("reject") {
            w.app.ok(Some(&token), delete, json!({"id": id})).await;
            // Rejected: counted under the model's type, even after a correction.
            (truth.ty, truth.state) = (ty, "rejected");
        }
        w.truth.push(truth);
    }
    // Researchers' own entities: one overlapping two suggestions, one the models missed (and
    // verified), one in a document no model saw.
    let create = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    for (doc, needle, ty, who, verify_it) in [
        ("D1", "حسینؑ ابن علیؑ", "PERSON", "anis", false),
        ("D1", "اصغرؑ", "PERSON", "baqir", true),
        ("D3", "مدینہ", "LOCATION", "anis", false),
    ] {
        let (a, b) = span(text_of(doc), needle);
        let input = json!({"documentId": w.docs[doc], "entityTypeId": types[ty], "start": a, "end": b});
        let data = w.app.ok(Some(&tokens[who]), create, json!({"i": input})).await;
        if verify_it {
            w.app.ok(Some(&tokens[who]), verify, json!({"id": data["createEntity"]["id"]})).await;
        }
        let verified_by = verify_it.then_some(who);
        w.truth.push(Truth {
            doc,
            span: (a, b),
            ty,
            source: "MANUAL",
            verified_by,
            model: None,
            suggested: None,
            state: "",
        });
    }
    // An imported, verified entity.
    let import =
        "mutation($d: ID!, $data: String!) { importEntities(documentId: $d, format: JSONL, data: $data) { created } }";
    let line = json!({"text": D2, "label": [[9, 14, "PERSON"]], "verified": [true]}).to_string();
    w.app.ok(Some(&w.admin), import, json!({"d": w.docs["D2"], "data": line})).await;
    w.truth.push(Truth {
        doc: "D2",
        span: (9, 14),
        ty: "PERSON",
        source: "IMPORT",
        verified_by: Some("anis"),
        model: None,
        suggested: None,
        state: "",
    });
    w
}

/// The counts of one model (and type, if given), computed naively from the truth.
fn expected_quality(truth: &[Truth], model: &str, ty: Option<&str>) -> Value {
    let of_type = |t: &str| ty.is_none_or(|want| want == t);
    let suggestions: Vec<&Truth> =
        truth.iter().filter(|t| t.model == Some(model) && of_type(t.suggested.unwrap())).collect();
    let count = |state: &str| suggestions.iter().filter(|t| t.state == state).count();
    let docs: Vec<&str> = truth.iter().filter(|t| t.model == Some(model)).map(|t| t.doc).collect();
    let gold: Vec<&Truth> = truth.iter().filter(|t| t.gold() && docs.contains(&t.doc) && of_type(t.ty)).collect();
    let reviewed: Vec<&Truth> = suggestions.iter().copied().filter(|t| t.state != "pending").collect();
    let overlap = |a: (usize, usize), b: (usize, usize)| a.0 < b.1 && b.0 < a.1;
    // A match needs the same document, and the suggestion's type equal to the gold's type.
    let matches = |p: &Truth, g: &Truth, exact: bool| {
        p.doc == g.doc && p.suggested == Some(g.ty) && if exact { p.span == g.span } else { overlap(p.span, g.span) }
    };
    let found_exact = gold.iter().filter(|g| reviewed.iter().any(|p| matches(p, g, true))).count();
    let found_overlap = gold.iter().filter(|g| reviewed.iter().any(|p| matches(p, g, false))).count();
    let overlapping = reviewed.iter().filter(|p| gold.iter().any(|g| matches(p, g, false))).count();
    let ratio = |n: usize, d: usize| if d == 0 { Value::Null } else { json!(n as f64 / d as f64) };
    let f1 = |p: &Value, r: &Value| match (p.as_f64(), r.as_f64()) {
        (Some(p), Some(r)) if p + r > 0.0 => json!(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => json!(0.0),
        _ => Value::Null,
    };
    let precision = ratio(count("as_is"), reviewed.len());
    let precision_overlap = ratio(overlapping, reviewed.len());
    let recall_exact = ratio(found_exact, gold.len());
    let recall_overlap = ratio(found_overlap, gold.len());
    json!({
        "suggestions": suggestions.len(),
        "pending": count("pending"),
        "verifiedAsIs": count("as_is"),
        "corrected": count("corrected"),
        "rejected": count("rejected"),
        "precision": precision,
        "precisionOverlap": precision_overlap,
        "gold": gold.len(),
        "foundExact": found_exact,
        "foundOverlap": found_overlap,
        "recallExact": recall_exact,
        "recallOverlap": recall_overlap,
        "f1Exact": f1(&precision, &recall_exact),
        "f1Overlap": f1(&precision_overlap, &recall_overlap),
    })
}

/// The fields of `expected` in `actual`, floats compared to 1e-12.
fn assert_matches(actual: &Value, expected: &Value, what: &str) {
    for (key, want) in expected.as_object().unwrap() {
        let got = &actual[key];
        match (got.as_f64(), want.as_f64()) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-12, "{what}.{key}: got {g}, expected {w}"),
            _ => assert_eq!(got, want, "{what}.{key}"),
        }
    }
}

async fn statistics_match_independent_counts(db: Db) {
    let w = scenario(db).await;
    let q = format!(
        "query($p: ID!) {{ projectStatistics(projectId: $p) {{ documentCount documentsByStatus {{ status count }} totalEntities verifiedEntities unverifiedEntities verificationRate entitiesByType {{ entityType {{ name }} total verified unverified }} entitiesBySource {{ source count }} verificationsByUser {{ user {{ username }} count }} modelQuality {{ {QUALITY} }} }} }}"
    );
    let stats = w.app.ok(Some(&w.researcher), &q, json!({"p": w.project})).await["projectStatistics"].clone();
    let existing: Vec<&Truth> = w.truth.iter().filter(|t| t.exists()).collect();
    assert_eq!(stats["documentCount"], 3);
    assert_eq!(
        stats["documentsByStatus"],
        json!([
            {"status": "PENDING", "count": 1}, {"status": "PROCESSING", "count": 0}, {"status": "COMPLETED", "count": 1},
            {"status": "FAILED", "count": 1}, {"status": "CANCELLED", "count": 0}
        ])
    );
    let verified = existing.iter().filter(|t| t.verified_by.is_some()).count();
    assert_eq!(stats["totalEntities"], existing.len());
    assert_eq!(stats["verifiedEntities"], verified);
    assert_eq!(stats["unverifiedEntities"], existing.len() - verified);
    assert_matches(&stats, &json!({"verificationRate": verified as f64 / existing.len() as f64}), "stats");
    let mut by_type: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for t in &existing {
        let e = by_type.entry(t.ty).or_default();
        e.0 += 1;
        e.1 += usize::from(t.verified_by.is_some());
    }
    let got: BTreeMap<&str, (u64, u64)> = stats["entitiesByType"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (t["entityType"]["name"].as_str().unwrap(), (t["total"].as_u64().unwrap(), t["verified"].as_u64().unwrap()))
        })
        .collect();
    assert_eq!(got, by_type.iter().map(|(k, v)| (*k, (v.0 as u64, v.1 as u64))).collect());
    for s in stats["entitiesBySource"].as_array().unwrap() {
        let source = s["source"].as_str().unwrap();
        assert_eq!(s["count"], existing.iter().filter(|t| t.source == source).count(), "{source}");
    }
    let mut by_user: BTreeMap<&str, usize> = BTreeMap::new();
    for who in existing.iter().filter_map(|t| t.verified_by) {
        *by_user.entry(who).or_default() += 1;
    }
    let got: BTreeMap<&str, usize> = stats["verificationsByUser"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["user"]["username"].as_str().unwrap(), u["count"].as_u64().unwrap() as usize))
        .collect();
    assert_eq!(got, by_user);
    // Model quality: every model, overall and per type.
    let qualities = stats["modelQuality"].as_array().unwrap();
    assert_eq!(qualities.len(), 2);
    for (name, id) in &w.models {
        let q = qualities.iter().find(|q| q["modelId"] == id.as_str()).unwrap();
        assert_matches(q, &expected_quality(&w.truth, name, None), name);
        for t in q["byType"].as_array().unwrap() {
            let ty = t["entityType"]["name"].as_str().unwrap();
            assert_matches(t, &expected_quality(&w.truth, name, Some(ty)), &format!("{name}.{ty}"));
        }
    }
    // The figures of the scenario, spelled out once: M1 suggested 5 PERSONs (2 verified as
    // is, 1 corrected, 1 corrected and then rejected, 1 pending).
    let m1 = qualities.iter().find(|q| q["modelId"] == w.models["M1"].as_str()).unwrap();
    let person = m1["byType"].as_array().unwrap().iter().find(|t| t["entityType"]["name"] == "PERSON").unwrap();
    assert_eq!(
        [
            &person["suggestions"],
            &person["verifiedAsIs"],
            &person["corrected"],
            &person["rejected"],
            &person["pending"]
        ],
        [5, 2, 1, 1, 1]
    );
    // Gold PERSONs in D1: حسینؑ, علیؑ (verified), حسینؑ ابن علیؑ (manual), اصغرؑ (manual,
    // verified), عباسؑ (M2's, verified); M1 found two exactly, and by overlap the long one too.
    assert_eq!([&person["gold"], &person["foundExact"], &person["foundOverlap"]], [5, 2, 3]);
    assert_eq!(person["precision"], 0.5);
    assert_eq!(person["recallExact"], 0.4);
}

async fn document_statistics_and_model_quality_queries(db: Db) {
    let w = scenario(db).await;
    let q = format!(
        "query($d: ID!) {{ document(id: $d) {{ statistics {{ totalEntities verifiedEntities entitiesBySource {{ source count }} modelQuality {{ {QUALITY} }} }} }} }}"
    );
    let d2 = w.app.ok(Some(&w.admin), &q, json!({"d": w.docs["D2"]})).await["document"]["statistics"].clone();
    // D2: M2's pending دمشق and the imported, verified زینبؑ.
    assert_eq!((d2["totalEntities"].as_u64(), d2["verifiedEntities"].as_u64()), (Some(2), Some(1)));
    let sources: Vec<u64> =
        d2["entitiesBySource"].as_array().unwrap().iter().map(|s| s["count"].as_u64().unwrap()).collect();
    assert_eq!(sources, [1, 0, 1, 0], "LLM MANUAL IMPORT CORRECTION");
    let quality = &d2["modelQuality"][0];
    assert_eq!(
        (quality["suggestions"].as_u64(), quality["pending"].as_u64(), &quality["precision"]),
        (Some(1), Some(1), &Value::Null)
    );
    // One model, by id: in a project, or everywhere for global admins.
    let by_model = format!("query($m: ID!, $p: ID) {{ modelQuality(modelId: $m, projectId: $p) {{ {QUALITY} }} }}");
    let in_project =
        w.app.ok(Some(&w.researcher), &by_model, json!({"m": w.models["M1"], "p": w.project})).await["modelQuality"]
            .clone();
    assert_matches(&in_project, &expected_quality(&w.truth, "M1", None), "M1");
    let everywhere = w.app.ok(Some(&w.admin), &by_model, json!({"m": w.models["M1"]})).await["modelQuality"].clone();
    assert_eq!(everywhere, in_project);
    let r = w.app.gql(Some(&w.researcher), &by_model, json!({"m": w.models["M1"]})).await;
    assert_eq!(
        (error_code(&r), &r["errors"][0]["extensions"]["field"]),
        ("BAD_USER_INPUT".into(), &json!("projectId"))
    );
    let unknown = w.app.ok(Some(&w.admin), &by_model, json!({"m": uuid::Uuid::new_v4().to_string()})).await;
    assert_eq!(
        (unknown["modelQuality"]["suggestions"].as_u64(), &unknown["modelQuality"]["byType"]),
        (Some(0), &json!([]))
    );
    // Statistics follow the project's visibility.
    let (stranger, _) = w.app.register("stranger").await;
    let stats = "query($p: ID!) { projectStatistics(projectId: $p) { totalEntities } }";
    assert_eq!(error_code(&w.app.gql(Some(&stranger), stats, json!({"p": w.project})).await), "NOT_FOUND");
    assert_eq!(error_code(&w.app.gql(None, stats, json!({"p": w.project})).await), "NOT_FOUND");
    assert_eq!(
        error_code(&w.app.gql(Some(&stranger), &by_model, json!({"m": w.models["M1"], "p": w.project})).await),
        "NOT_FOUND"
    );
}

on_both_databases!(statistics_match_independent_counts, document_statistics_and_model_quality_queries);
