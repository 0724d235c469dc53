//! Import and export over GraphQL: each format's exact output on a small Urdu document with
//! nested entities and commas, the round trips, the import errors, permissions and audit rows.
//! The README shows the exact outputs (`JSONL`, `CONLL`, ...) as samples; `readme` checks
//! they are the same.

use crate::common;

use std::collections::HashMap;

use common::{Db, TestApp, create_document, entity_type_ids, error_code};
use serde_json::{Value, json};

const EXPORT_DOC: &str =
    "query($d: ID!, $f: ExchangeFormat!, $v: Boolean) { exportDocument(documentId: $d, format: $f, verifiedOnly: $v) }";
const EXPORT_PROJECT: &str = "query($p: ID!, $f: ExchangeFormat!) { exportProject(projectId: $p, format: $f) }";
const IMPORT: &str = "mutation($d: ID!, $f: ExchangeFormat!, $data: String!, $dry: Boolean) { importEntities(documentId: $d, format: $f, data: $data, dryRun: $dry) { dryRun created skipped rejected relationshipsCreated errors { line message } } }";
const IMPORT_DOCS: &str = "mutation($p: ID!, $f: ExchangeFormat!, $data: String!, $dry: Boolean) { importDocuments(projectId: $p, format: $f, data: $data, dryRun: $dry) { dryRun created skipped rejected relationshipsCreated errors { line message } documents { id title content direction totalEntities verifiedEntities } } }";
const ENTITY: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
const RELATE: &str = "mutation($i: CreateEntityRelationshipInput!) { createEntityRelationship(input: $i) { id } }";

/// "The Imam Husain ibn Ali, in Karbala / Abbas, at the Euphrates": an ASCII comma on line 1,
/// an Urdu comma on line 2.
const TEXT: &str = "امام حسینؑ ابن علیؑ, کربلا میں\nعباسؑ، فرات پر";
pub(crate) const HASH: &str = "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475";
const TITLE: &str = "Stanza, one";

pub(crate) const JSONL: &str = concat!(
    "{\"id\":\"9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475\",\"title\":\"Stanza, one\",",
    "\"text\":\"امام حسینؑ ابن علیؑ, کربلا میں\\nعباسؑ، فرات پر\",\"direction\":\"rtl\",\"offsets\":\"unicode_code_points\",",
    "\"label\":[[0,19,\"PERSON\"],[0,4,\"DESIGNATION\"],[5,10,\"PERSON\"],[15,26,\"LOCATION\"],[21,26,\"LOCATION\"],[31,36,\"PERSON\"],[38,42,\"LOCATION\"]],",
    "\"verified\":[true,false,false,false,false,false,false],",
    "\"relations\":[{\"from\":0,\"to\":2,\"type\":\"SAME_AS\"},{\"from\":5,\"to\":6,\"type\":\"LOCATED_IN\"}]}\n"
);

pub(crate) const CONLL: &str = "-DOCSTART- -X- O O

امام _ _ B-PERSON
حسینؑ _ _ I-PERSON
ابن _ _ I-PERSON
علیؑ _ _ I-PERSON
, _ _ O
کربلا _ _ B-LOCATION
میں _ _ O

عباسؑ _ _ B-PERSON
، _ _ O
فرات _ _ B-LOCATION
پر _ _ O

";

pub(crate) const CONLL_COMMENTED: &str = "# id = 9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475
# title = Stanza, one
# direction = rtl
# offsets = unicode_code_points
امام\t0\t4\tB-PERSON
حسینؑ\t5\t10\tI-PERSON
ابن\t11\t14\tI-PERSON
علیؑ\t15\t19\tI-PERSON
,\t19\t20\tO
کربلا\t21\t26\tB-LOCATION
میں\t27\t30\tO

عباسؑ\t31\t36\tB-PERSON
،\t36\t37\tO
فرات\t38\t42\tB-LOCATION
پر\t43\t45\tO

";

pub(crate) const INLINE: &str = "<document id=\"9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475\" title=\"Stanza, one\" dir=\"rtl\">
<PERSON><DESIGNATION>امام</DESIGNATION> <PERSON>حسینؑ</PERSON> ابن علیؑ</PERSON>, <LOCATION>کربلا</LOCATION> میں
<PERSON>عباسؑ</PERSON>، <LOCATION>فرات</LOCATION> پر
</document>
";

const CSV: &str = concat!(
    "document_id,document,direction,line,text,type,start,end,offsets,confidence,source,verified,verified_by,context_before,context_after\r\n",
    "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,امام حسینؑ ابن علیؑ,PERSON,0,19,unicode_code_points,0.9,MANUAL,true,anis,,\", کربلا میں\nعباسؑ، فرات پر\"\r\n",
    "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,امام,DESIGNATION,0,4,unicode_code_points,,MANUAL,false,,,\" حسینؑ ابن علیؑ, کربلا میں\nعباسؑ، فرات پر\"\r\n",
    "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,حسینؑ,PERSON,5,10,unicode_code_points,,MANUAL,false,,امام ,\" ابن علیؑ, کربلا میں\nعباسؑ، فرات پر\"\r\n",
    "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,\"علیؑ, کربلا\",LOCATION,15,26,unicode_code_points,,MANUAL,false,,امام حسینؑ ابن ,\" میں\nعباسؑ، فرات پر\"\r\n",
    "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,1,کربلا,LOCATION,21,26,unicode_code_points,,MANUAL,false,,\"امام حسینؑ ابن علیؑ, \",\" میں\nعباسؑ، فرات پر\"\r\n",
    "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,2,عباسؑ,PERSON,31,36,unicode_code_points,,MANUAL,false,,\"امام حسینؑ ابن علیؑ, کربلا میں\n\",، فرات پر\r\n",
    "9ca78af0ff4ea47ce2d0b2ac0a42200f6a28f06e2d3d1458c37164289d10f475,\"Stanza, one\",rtl,2,فرات,LOCATION,38,42,unicode_code_points,,MANUAL,false,,\"امام حسینؑ ابن علیؑ, کربلا میں\nعباسؑ، \", پر\r\n",
);

const FORMATS: [&str; 5] = ["JSONL", "CONLL", "CONLL_COMMENTED", "INLINE_TAGS", "CSV"];

/// Code-point span of the first occurrence of `needle` in TEXT.
fn span(needle: &str) -> (usize, usize) {
    let byte = TEXT.find(needle).unwrap();
    let start = TEXT[..byte].chars().count();
    (start, start + needle.chars().count())
}

struct Setup {
    app: TestApp,
    token: String,
    project: String,
    doc: String,
    types: HashMap<String, String>,
}

/// A project with the sample document, annotated by hand: a PERSON with a DESIGNATION and a
/// PERSON inside it (verified, confidence 0.9), a LOCATION crossing its end, and more.
async fn setup(db: Db) -> Setup {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let types = entity_type_ids(&app).await;
    let project = app.create_project(&token, "Exchange", json!({})).await;
    let doc = create_document(&app, &token, &project, TITLE, TEXT).await;
    let s = Setup { app, token, project, doc, types };
    let mut ids = HashMap::new();
    for (needle, ty) in [
        ("امام حسینؑ ابن علیؑ", "PERSON"),
        ("امام", "DESIGNATION"),
        ("حسینؑ", "PERSON"),
        ("علیؑ, کربلا", "LOCATION"),
        ("کربلا", "LOCATION"),
        ("عباسؑ", "PERSON"),
        ("فرات", "LOCATION"),
    ] {
        let (start, end) = span(needle);
        let mut input = json!({"documentId": s.doc, "entityTypeId": s.types[ty], "start": start, "end": end});
        if ty == "PERSON" && start == 0 {
            input["confidenceScore"] = json!(0.9);
        }
        let id = s.app.ok(Some(&s.token), ENTITY, json!({"i": input})).await["createEntity"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        ids.insert((needle, ty), id);
    }
    let long = &ids[&("امام حسینؑ ابن علیؑ", "PERSON")];
    s.app.ok(Some(&s.token), "mutation($id: ID!) { verifyEntity(id: $id) { id } }", json!({"id": long})).await;
    for (from, to, kind) in [
        (long.clone(), ids[&("حسینؑ", "PERSON")].clone(), "SAME_AS"),
        (ids[&("عباسؑ", "PERSON")].clone(), ids[&("فرات", "LOCATION")].clone(), "LOCATED_IN"),
    ] {
        let input = json!({"sourceEntityId": from, "targetEntityId": to, "relationshipType": kind});
        s.app.ok(Some(&s.token), RELATE, json!({"i": input})).await;
    }
    s
}

impl Setup {
    async fn export(&self, doc: &str, format: &str) -> String {
        let data = self.app.ok(Some(&self.token), EXPORT_DOC, json!({"d": doc, "f": format})).await;
        data["exportDocument"].as_str().unwrap().to_owned()
    }

    async fn import(&self, doc: &str, format: &str, data: &str) -> Value {
        self.app.gql(Some(&self.token), IMPORT, json!({"d": doc, "f": format, "data": data})).await
    }

    /// A fresh document with the sample's title and text, in a project of its own (a project
    /// holds a text once).
    async fn fresh_document(&self, name: &str) -> String {
        let project = self.app.create_project(&self.token, name, json!({})).await;
        create_document(&self.app, &self.token, &project, TITLE, TEXT).await
    }
}

async fn each_format_has_its_exact_output(db: Db) {
    let s = setup(db).await;
    let hash =
        s.app.ok(Some(&s.token), "query($id: ID!) { document(id: $id) { contentHash } }", json!({"id": s.doc})).await;
    assert_eq!(hash["document"]["contentHash"], HASH);
    for (format, expected) in [
        ("JSONL", JSONL),
        ("CONLL", CONLL),
        ("CONLL_COMMENTED", CONLL_COMMENTED),
        ("INLINE_TAGS", INLINE),
        ("CSV", CSV),
    ] {
        assert_eq!(s.export(&s.doc, format).await, expected, "{format}");
    }
    // Verified only: the one verified entity, and no relationship to an unverified one.
    let only = s.app.ok(Some(&s.token), EXPORT_DOC, json!({"d": s.doc, "f": "JSONL", "v": true})).await;
    let line: Value = serde_json::from_str(only["exportDocument"].as_str().unwrap()).unwrap();
    assert_eq!(line["label"], json!([[0, 19, "PERSON"]]));
    assert_eq!((line["verified"].clone(), line["relations"].clone()), (json!([true]), json!([])));
    // A project export: every document, oldest first.
    let second = create_document(&s.app, &s.token, &s.project, "Two", "زینبؑ").await;
    let project = s.app.ok(Some(&s.token), EXPORT_PROJECT, json!({"p": s.project, "f": "JSONL"})).await;
    let lines: Vec<Value> =
        project["exportProject"].as_str().unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["title"].as_str(), lines[1]["title"].as_str()), (Some(TITLE), Some("Two")));
    assert_eq!(lines[1]["label"], json!([]));
    let _ = second;
    // Every export is in the audit trail, with what it held.
    assert_eq!(s.app.count("SELECT id FROM audit_logs WHERE action = 'document.export'").await, 6);
    assert_eq!(s.app.count("SELECT id FROM audit_logs WHERE action = 'project.export'").await, 1);
}

async fn exports_need_the_export_permission(db: Db) {
    let s = setup(db).await;
    let mut roles = HashMap::new();
    for role in ["RESEARCHER", "VIEWER"] {
        let (token, id) = s.app.register(&role.to_lowercase()).await;
        let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
        s.app.ok(Some(&s.token), add, json!({"i": {"projectId": s.project, "userId": id, "role": role}})).await;
        roles.insert(role, token);
    }
    let (stranger, _) = s.app.register("stranger").await;
    let vars = json!({"d": s.doc, "f": "CSV"});
    assert!(s.app.gql(Some(&roles["RESEARCHER"]), EXPORT_DOC, vars.clone()).await.get("errors").is_none());
    assert_eq!(error_code(&s.app.gql(Some(&roles["VIEWER"]), EXPORT_DOC, vars.clone()).await), "FORBIDDEN");
    assert_eq!(error_code(&s.app.gql(Some(&stranger), EXPORT_DOC, vars.clone()).await), "NOT_FOUND");
    assert_eq!(error_code(&s.app.gql(None, EXPORT_DOC, vars).await), "UNAUTHENTICATED");
    let project = json!({"p": s.project, "f": "JSONL"});
    assert_eq!(error_code(&s.app.gql(Some(&roles["VIEWER"]), EXPORT_PROJECT, project).await), "FORBIDDEN");
    let import = json!({"d": s.doc, "f": "JSONL", "data": JSONL});
    assert_eq!(error_code(&s.app.gql(Some(&roles["VIEWER"]), IMPORT, import).await), "FORBIDDEN");
}

/// Export, import into a fresh document, export again: the same bytes, for every format. What
/// a format cannot carry (CoNLL's overlaps, inline tags' crossing spans) is not in the first
/// export either.
async fn round_trips_are_byte_identical(db: Db) {
    let s = setup(db).await;
    for format in FORMATS {
        let first = s.export(&s.doc, format).await;
        let fresh = s.fresh_document(&format!("Round trip {format}")).await;
        let result = s.import(&fresh, format, &first).await;
        assert!(result.get("errors").is_none(), "{format}: {result}");
        let again = s.export(&fresh, format).await;
        if format != "CSV" {
            assert_eq!(again, first, "{format}");
            continue;
        }
        // CSV also records provenance, which an import resets: the source becomes IMPORT (the
        // verifier is the importer, here the same user). Only that column differs; from the
        // imported document on, the round trip is byte-identical.
        let source_column = |data: &str| data.replace(",MANUAL,", ",IMPORT,");
        assert_eq!(again, source_column(&first));
        let third = s.fresh_document("Round trip CSV again").await;
        assert!(s.import(&third, "CSV", &again).await.get("errors").is_none());
        assert_eq!(s.export(&third, "CSV").await, again);
    }
    // What each import created: JSONL and CSV carry all seven entities, inline tags the six
    // that nest, CoNLL the four that do not overlap.
    let created: Vec<i64> = {
        let q = "{ projects(first: 10) { edges { node { name entityCount } } } }";
        let data = s.app.ok(Some(&s.token), q, json!({})).await;
        let mut by_name: Vec<(String, i64)> = data["projects"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["node"]["name"].as_str().unwrap().to_owned(), e["node"]["entityCount"].as_i64().unwrap()))
            .collect();
        by_name.sort();
        by_name.into_iter().filter(|(n, _)| n.starts_with("Round trip ")).map(|(_, c)| c).collect()
    };
    // Sorted by name: CONLL, CONLL_COMMENTED, CSV, CSV again, INLINE_TAGS, JSONL.
    assert_eq!(created, [4, 4, 7, 7, 6, 7]);
    // Importing the same data again creates nothing: every span is there.
    let fresh_jsonl = s.fresh_document("Twice").await;
    let once = s.import(&fresh_jsonl, "JSONL", JSONL).await;
    assert_eq!(once["data"]["importEntities"]["created"], 7);
    assert_eq!(once["data"]["importEntities"]["relationshipsCreated"], 2);
    let twice = s.import(&fresh_jsonl, "JSONL", JSONL).await;
    let r = &twice["data"]["importEntities"];
    assert_eq!(
        (r["created"].as_i64(), r["skipped"].as_i64(), r["relationshipsCreated"].as_i64()),
        (Some(0), Some(7), Some(0))
    );
    // Documents round-trip too: a project exported, imported as documents elsewhere, exported.
    for format in ["JSONL", "INLINE_TAGS"] {
        let exported = s.app.ok(Some(&s.token), EXPORT_PROJECT, json!({"p": s.project, "f": format})).await;
        let exported = exported["exportProject"].as_str().unwrap().to_owned();
        let target = s.app.create_project(&s.token, &format!("Documents {format}"), json!({})).await;
        let r = s.app.ok(Some(&s.token), IMPORT_DOCS, json!({"p": target, "f": format, "data": exported})).await;
        let docs = &r["importDocuments"]["documents"];
        assert_eq!(docs[0]["title"], TITLE);
        assert_eq!(docs[0]["direction"], "RTL");
        let again = s.app.ok(Some(&s.token), EXPORT_PROJECT, json!({"p": target, "f": format})).await;
        assert_eq!(again["exportProject"].as_str().unwrap(), exported, "{format}");
    }
}

async fn import_errors_name_the_problem_and_store_nothing(db: Db) {
    let s = setup(db).await;
    let fresh = s.fresh_document("Errors").await;
    let refused = |resp: &Value| -> String {
        assert_eq!(error_code(resp), "BAD_USER_INPUT", "{resp}");
        assert_eq!(resp["errors"][0]["extensions"]["field"], "data");
        resp["errors"][0]["message"].as_str().unwrap().to_owned()
    };
    let len = TEXT.chars().count();
    let out_of_range =
        format!("data: line 1: label 7: [38, {}]: end must be at most the document length ({len} characters)", len + 3);
    let cases: Vec<(&str, String, &str)> = vec![
        // Wrong text, in every format that carries text.
        (
            "JSONL",
            JSONL.replace("فرات", "دجلہ"),
            "data: line 1: text line 2 differs from the document: the document has «عباسؑ، فرات پر», the data has «عباسؑ، دجلہ پر»",
        ),
        (
            "CONLL",
            CONLL.replace("فرات _", "دجلہ _"),
            "data: line 13: text line 2 differs from the document: the document has «عباسؑ، فرات پر», the data has «عباسؑ ، دجلہ پر»",
        ),
        (
            "CONLL_COMMENTED",
            CONLL_COMMENTED.replace("فرات\t38", "دجلہ\t38"),
            "data: line 15: text line 2 differs from the document: the document has «عباسؑ، فرات پر», the data has «عباسؑ ، دجلہ پر»",
        ),
        (
            "INLINE_TAGS",
            INLINE.replace(">فرات<", ">دجلہ<"),
            "data: line 3: text line 2 differs from the document: the document has «عباسؑ، فرات پر», the data has «عباسؑ، دجلہ پر»",
        ),
        (
            "CSV",
            CSV.replace(",عباسؑ,PERSON,", ",عباس,PERSON,"),
            "data: line 12: row 6: the text «عباس» is not the document's text at [31, 36], which is «عباسؑ»",
        ),
        // Out-of-range and unaligned spans, an unknown type.
        ("JSONL", JSONL.replace("[38,42,", &format!("[38,{},", len + 3)), &out_of_range),
        (
            "JSONL",
            JSONL.replace("[31,36,", "[31,35,"),
            "data: line 1: label 6: [31, 35]: end offset 35 falls inside a character (a letter and its marks)",
        ),
        (
            "INLINE_TAGS",
            INLINE.replace("LOCATION>فرات</LOCATION", "WEAPON>فرات</WEAPON"),
            "data: line 3: <WEAPON>: unknown entity type «WEAPON»",
        ),
        (
            "CONLL",
            CONLL.replace("B-LOCATION\n", "B-WEAPON\n"),
            "data: line 8: B-WEAPON: unknown entity type «WEAPON» (and 1 more problems; a dry run lists them all)",
        ),
        // Malformed lines.
        (
            "JSONL",
            format!("{JSONL}{{\"text\": "),
            "data: line 2: not valid JSON (EOF while parsing a value at line 1 column 9)",
        ),
        (
            "CONLL_COMMENTED",
            CONLL_COMMENTED.replace("ابن\t11\t14\tI-PERSON", "ابن"),
            "data: line 7: expected a token and its tag, separated by a tab",
        ),
        (
            "CONLL",
            format!("{CONLL}{CONLL}"),
            "data: line 16: a second document starts here; import one document at a time",
        ),
        ("INLINE_TAGS", INLINE.replace("</LOCATION> میں", " میں"), "data: line 2: <LOCATION> is never closed"),
        (
            "CSV",
            CSV.replace(",DESIGNATION,0,4,", ",DESIGNATION,0,"),
            "data: line 4: row 2 has 14 fields, the header row 15",
        ),
        (
            "JSONL",
            format!("{JSONL}{JSONL}"),
            "data: line 2: the data holds 2 documents; importEntities reads one (importDocuments reads many)",
        ),
    ];
    for (format, data, expected) in cases {
        let message = refused(&s.import(&fresh, format, &data).await);
        assert_eq!(message, expected, "{format}");
    }
    let total = "query($id: ID!) { document(id: $id) { totalEntities } }";
    assert_eq!(
        s.app.ok(Some(&s.token), total, json!({"id": fresh})).await["document"]["totalEntities"],
        0,
        "all or nothing"
    );
    // A dry run stores nothing and lists every problem.
    let bad = JSONL.replace("\"LOCATION\"]]", "\"WEAPON\"]]").replace("[31,36,", "[31,35,");
    let dry = s.app.ok(Some(&s.token), IMPORT, json!({"d": fresh, "f": "JSONL", "data": bad, "dry": true})).await;
    let r = &dry["importEntities"];
    assert_eq!((r["dryRun"].as_bool(), r["created"].as_i64(), r["rejected"].as_i64()), (Some(true), Some(5), Some(2)));
    let messages: Vec<&str> = r["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "label 6: [31, 35]: end offset 35 falls inside a character (a letter and its marks)",
            "label 7: unknown entity type «WEAPON»",
        ]
    );
    assert_eq!(s.app.ok(Some(&s.token), total, json!({"id": fresh})).await["document"]["totalEntities"], 0);
}

async fn documents_are_imported_in_one_transaction(db: Db) {
    let s = setup(db).await;
    let target = s.app.create_project(&s.token, "Imported", json!({})).await;
    // doccano-style lines: only text (and labels); a missing title is taken from the first line.
    let data = concat!(
        "{\"title\": \"Zainab\", \"text\": \"رو کے فرماتی ہیں کسی گوشے میں جائے زینب\", \"label\": [[35, 39, \"PERSON\"]], \"verified\": [true]}\n",
        "{\"text\": \"دختر فاطمہ زہرا کا عجب ہے عالم\\nدوسری سطر\", \"label\": [[0, 15, \"PERSON\"]]}\n",
    );
    let r = s.app.ok(Some(&s.token), IMPORT_DOCS, json!({"p": target, "f": "JSONL", "data": data})).await;
    let r = &r["importDocuments"];
    assert_eq!(r["created"], 2);
    assert_eq!(r["documents"][0]["title"], "Zainab");
    assert_eq!(
        (r["documents"][0]["totalEntities"].as_i64(), r["documents"][0]["verifiedEntities"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(r["documents"][1]["title"], "دختر فاطمہ زہرا کا عجب ہے عالم");
    // Bare tagged text, as in the shared sample: one document.
    let tagged = "پیچھے <DESIGNATION>بیمار</DESIGNATION> کے ہے قافلہ <ORGANIZATION>اہل حرم</ORGANIZATION>\n";
    let r = s.app.ok(Some(&s.token), IMPORT_DOCS, json!({"p": target, "f": "INLINE_TAGS", "data": tagged})).await;
    let doc = &r["importDocuments"]["documents"][0];
    assert_eq!(
        (doc["content"].as_str(), doc["totalEntities"].as_i64()),
        (Some("پیچھے بیمار کے ہے قافلہ اہل حرم\n"), Some(2))
    );
    // All or nothing: one bad document refuses the others, and a text the project holds is a
    // CONFLICT.
    let before = s.app.count("SELECT id FROM documents").await;
    let bad = "{\"text\": \"نیا متن\"}\n{\"text\": \"نیا متن\"}\n{\"text\": \" \"}\n";
    let resp = s.app.gql(Some(&s.token), IMPORT_DOCS, json!({"p": target, "f": "JSONL", "data": bad})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT");
    assert_eq!(
        resp["errors"][0]["message"],
        "data: line 2: the same text as the document on line 1 (and 1 more problems; a dry run lists them all)"
    );
    let dup = s.app.gql(Some(&s.token), IMPORT_DOCS, json!({"p": target, "f": "INLINE_TAGS", "data": tagged})).await;
    assert_eq!(error_code(&dup), "CONFLICT");
    assert_eq!(s.app.count("SELECT id FROM documents").await, before);
    for format in ["CONLL", "CONLL_COMMENTED"] {
        let conll = s.app.gql(Some(&s.token), IMPORT_DOCS, json!({"p": target, "f": format, "data": CONLL})).await;
        assert_eq!(conll["errors"][0]["extensions"]["field"], "format", "{format}");
    }
    assert_eq!(s.app.count("SELECT id FROM audit_logs WHERE action = 'document.import'").await, 2);
}

on_both_databases!(
    each_format_has_its_exact_output,
    exports_need_the_export_permission,
    round_trips_are_byte_identical,
    import_errors_name_the_problem_and_store_nothing,
    documents_are_imported_in_one_transaction,
);
