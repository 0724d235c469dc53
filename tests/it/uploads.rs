//! Uploads in every format `uploadDocument` takes, written by the tests themselves (a real
//! .docx zip, a PDF with an Urdu text layer behind a ToUnicode CMap, an HTML page, a .zip of
//! them), the originals kept as artifacts served at `GET /artifacts/{id}` to readers only,
//! deduplicated by hash and removed with the last document that uses them, races included.

use std::io::{Cursor, Write};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Db, TestApp, error_code, upload_query};

const UPLOAD: &str = "mutation($p: ID!, $f: Upload!) { uploadDocument(projectId: $p, file: $f) { id title content fileName contentType artifact { id sha256 mimeType size fileName } } }";
const ARCHIVE: &str = "mutation($p: ID!, $f: Upload!) { uploadArchive(projectId: $p, file: $f) { documents { id title content artifact { id } } files { fileName format documentId sha256 } } }";

/// A zip of `files` (deflated).
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A Word document whose paragraphs are `paragraphs` ("" an empty paragraph).
pub fn docx_of(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|p| {
            if p.is_empty() {
                "<w:p/>".to_owned()
            } else {
                format!("<w:p><w:r><w:t xml:space=\"preserve\">{p}</w:t></w:r></w:p>")
            }
        })
        .collect();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}<w:sectPr/></w:body></w:document>"#
    );
    let content_types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
    zip_of(&[
        ("[Content_Types].xml", content_types.as_bytes()),
        ("_rels/.rels", rels.as_bytes()),
        ("word/document.xml", document.as_bytes()),
    ])
}

/// A one-page PDF showing `lines` (each a list of the characters its glyphs stand for, in
/// the order they are stored) in a CID font whose ToUnicode CMap maps each glyph code to its
/// character; `None` draws a line and no text at all.
pub fn pdf_of(lines: Option<&[Vec<char>]>) -> Vec<u8> {
    let mut chars: Vec<char> = lines.unwrap_or(&[]).iter().flatten().copied().collect();
    chars.sort();
    chars.dedup();
    let code = |c: char| chars.iter().position(|x| *x == c).unwrap() + 1;
    let content = match lines {
        Some(lines) => lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let hex: String = line.iter().map(|c| format!("{:04X}", code(*c))).collect();
                format!("BT /F1 14 Tf 400 {} Td <{hex}> Tj ET\n", 800 - 20 * i)
            })
            .collect::<String>(),
        None => "0 0 m 100 100 l S\n".to_owned(),
    };
    let bfchars: String = chars.iter().map(|c| format!("<{:04X}> <{:04X}>\n", code(*c), *c as u32)).collect();
    let cmap = format!(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n{} beginbfchar\n{bfchars}endbfchar\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n",
        chars.len()
    );
    let resources = if lines.is_some() { "/Resources << /Font << /F1 4 0 R >> >> " } else { "" };
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] {resources}/Contents 5 0 R >>"),
        "<< /Type /Font /Subtype /Type0 /BaseFont /Nastaliq /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 7 0 R >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Nastaliq /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{cmap}endstream", cmap.len()),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        table.push_str(&format!("{o:010} 00000 n \n"));
    }
    pdf.extend_from_slice(table.as_bytes());
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    pdf
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn get_artifact(app: &TestApp, token: Option<&str>, id: &str) -> (u16, Option<String>, Vec<u8>) {
    let mut req = app.http.get(app.url(&format!("/artifacts/{id}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let mime = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    (status, mime, resp.bytes().await.unwrap().to_vec())
}

fn uploaded(r: &Value) -> &Value {
    assert!(r.get("errors").is_none(), "{r}");
    &r["data"]["uploadDocument"]
}

async fn every_format_becomes_a_document_and_keeps_its_original(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Formats", json!({})).await;

    // .docx: a line per paragraph, an empty paragraph a stanza break.
    let docx = docx_of(&[
        "جب قطع کی مسافتِ شب آفتاب نے",
        "جلوہ کیا سحر کے رخِ بے حجاب نے",
        "",
        "",
        "دیکھا سوئے فلک شہِ گردوں رکاب نے",
    ]);
    let r = upload_query(&app, Some(&token), UPLOAD, &project, "marsiya.docx", docx.clone()).await;
    let d = uploaded(&r);
    assert_eq!(
        d["content"],
        "جب قطع کی مسافتِ شب آفتاب نے\nجلوہ کیا سحر کے رخِ بے حجاب نے\n\nدیکھا سوئے فلک شہِ گردوں رکاب نے"
    );
    assert_eq!(d["title"], "marsiya.docx");
    let a = &d["artifact"];
    assert_eq!(a["sha256"], sha256(&docx));
    assert_eq!(a["size"], docx.len());
    assert_eq!(a["fileName"], "marsiya.docx");
    assert_eq!(a["mimeType"], "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    let (status, mime, bytes) = get_artifact(&app, Some(&token), a["id"].as_str().unwrap()).await;
    assert_eq!((status, mime.as_deref()), (200, a["mimeType"].as_str()));
    assert_eq!(bytes, docx, "the original comes back byte for byte");

    // .pdf: presentation forms stored in visual order come back as logical Urdu letters; a
    // line already in logical order is kept as it is.
    let visual: Vec<char> = "\u{FE8E}\u{FB90} \u{FEE6}\u{FBFF}\u{FEB4}\u{FEA3}".chars().collect();
    let logical: Vec<char> = "کربلا".chars().collect();
    let pdf = pdf_of(Some(&[visual, logical][..]));
    let r = upload_query(&app, Some(&token), UPLOAD, &project, "scan.pdf", pdf.clone()).await;
    let d = uploaded(&r);
    assert_eq!(d["content"], "حسین کا\nکربلا");
    assert_eq!(d["artifact"]["mimeType"], "application/pdf");
    assert_eq!(d["artifact"]["sha256"], sha256(&pdf));

    // A PDF without a text layer is refused, and nothing is stored.
    let before = app.count("SELECT id FROM documents").await;
    let r = upload_query(&app, Some(&token), UPLOAD, &project, "image.pdf", pdf_of(None)).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("no text layer"), "{r}");
    assert_eq!(app.count("SELECT id FROM documents").await, before);
    assert_eq!(app.count("SELECT id FROM artifacts").await, 2);

    // .html: the main text, without scripts, styles or navigation.
    let page = r#"<!doctype html><html><head><title>t</title><style>body{}</style><script>document.write("x")</script></head>
        <body><nav>فہرست</nav><main><h1>مرثیہ</h1><p>عباسؑ   فرات پر</p><script>alert(1)</script></main><footer>©</footer></body></html>"#;
    let r = upload_query(&app, Some(&token), UPLOAD, &project, "page.html", page.as_bytes().to_vec()).await;
    assert_eq!(uploaded(&r)["content"], "مرثیہ\nعباسؑ فرات پر");
    assert_eq!(uploaded(&r)["artifact"]["mimeType"], "text/html");

    // .md is kept as written.
    let r = upload_query(&app, Some(&token), UPLOAD, &project, "notes.md", "# بند\nزینبؑ".as_bytes().to_vec()).await;
    assert_eq!(uploaded(&r)["content"], "# بند\nزینبؑ");

    // A pasted document has no artifact.
    let pasted = crate::common::create_document(&app, &token, &project, "Pasted", "سطر").await;
    let q = "query($id: ID!) { document(id: $id) { artifact { id } } }";
    assert_eq!(app.ok(Some(&token), q, json!({"id": pasted})).await["document"]["artifact"], Value::Null);
}

async fn artifacts_are_served_only_to_readers(db: Db) {
    let app = TestApp::spawn(db).await;
    let (owner, _) = app.register("anis").await;
    let (outsider, _) = app.register("dabir").await;
    let project = app.create_project(&owner, "Private", json!({})).await;
    let r = upload_query(&app, Some(&owner), UPLOAD, &project, "a.txt", "حسینؑ".as_bytes().to_vec()).await;
    let id = uploaded(&r)["artifact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(get_artifact(&app, Some(&owner), &id).await.0, 200);
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = get_artifact(&app, Some(&outsider), &unknown).await;
    assert_eq!(missing.0, 404);
    // An outsider, an anonymous caller and a wrong id get the very same answer.
    assert_eq!(get_artifact(&app, Some(&outsider), &id).await, missing);
    assert_eq!(get_artifact(&app, None, &id).await, missing);
    assert_eq!(get_artifact(&app, None, "not-an-id").await, missing);
    assert_eq!(get_artifact(&app, Some("bogus-token"), &id).await.0, 401);
}

async fn identical_originals_are_stored_once_and_go_with_their_last_document(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let docx = docx_of(&["حسینؑ", "", "عباسؑ"]);
    for round in 0..3 {
        let mut docs = Vec::new();
        let mut ids = Vec::new();
        for i in 0..2 {
            let project = app.create_project(&token, &format!("Shared {round} {i}"), json!({})).await;
            let r = upload_query(&app, Some(&token), UPLOAD, &project, "same.docx", docx.clone()).await;
            docs.push(uploaded(&r)["id"].as_str().unwrap().to_owned());
            ids.push(uploaded(&r)["artifact"]["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids[0], ids[1], "the same bytes are one artifact");
        assert_eq!(app.count("SELECT id FROM artifacts").await, 1);
        // Both documents deleted at once: the artifact goes, exactly once, and no link stays.
        let q = "mutation($id: ID!) { deleteDocument(id: $id) }";
        let (a, b) = tokio::join!(
            app.gql(Some(&token), q, json!({"id": docs[0]})),
            app.gql(Some(&token), q, json!({"id": docs[1]}))
        );
        assert_eq!(a["data"]["deleteDocument"], true, "{a}");
        assert_eq!(b["data"]["deleteDocument"], true, "{b}");
        assert_eq!(app.count("SELECT id FROM artifacts").await, 0, "round {round}");
        assert_eq!(app.count("SELECT document_id FROM document_artifacts").await, 0);
    }
    // One of two sharing documents deleted: the other still serves the original.
    let p1 = app.create_project(&token, "Keep 1", json!({})).await;
    let p2 = app.create_project(&token, "Keep 2", json!({})).await;
    let r1 = upload_query(&app, Some(&token), UPLOAD, &p1, "same.docx", docx.clone()).await;
    let r2 = upload_query(&app, Some(&token), UPLOAD, &p2, "copy.docx", docx.clone()).await;
    let q = "mutation($id: ID!) { deleteDocument(id: $id) }";
    app.ok(Some(&token), q, json!({"id": uploaded(&r1)["id"]})).await;
    let id = uploaded(&r2)["artifact"]["id"].as_str().unwrap();
    assert_eq!(get_artifact(&app, Some(&token), id).await.2, docx);
    // Deleting the project removes its documents' originals too.
    app.ok(Some(&token), "mutation($id: ID!) { deleteProject(id: $id) }", json!({"id": p2})).await;
    assert_eq!(app.count("SELECT id FROM artifacts").await, 0);
}

async fn archives_are_all_or_nothing_with_a_report(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Archive", json!({})).await;
    let docx = docx_of(&["پہلا بند"]);
    let html = "<p>دوسرا بند</p>";
    let archive =
        zip_of(&[("poems/one.docx", &docx), ("poems/two.html", html.as_bytes()), ("three.txt", "تیسرا".as_bytes())]);
    let r = upload_query(&app, Some(&token), ARCHIVE, &project, "poems.zip", archive).await;
    assert!(r.get("errors").is_none(), "{r}");
    let report = &r["data"]["uploadArchive"];
    let contents: Vec<&str> =
        report["documents"].as_array().unwrap().iter().map(|d| d["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["پہلا بند", "دوسرا بند", "تیسرا"]);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files[0]["fileName"], "poems/one.docx");
    assert_eq!(files[0]["format"], "docx");
    assert_eq!(files[1]["format"], "html");
    assert_eq!(files[0]["sha256"], sha256(&docx));
    assert_eq!(files[2]["documentId"], report["documents"][2]["id"]);
    assert_eq!(report["documents"][0]["title"], "one.docx");

    // One bad member refuses the whole archive, naming it; nothing is stored.
    let before = (app.count("SELECT id FROM documents").await, app.count("SELECT id FROM artifacts").await);
    let bad = zip_of(&[("ok.txt", "نیا".as_bytes()), ("empty.pdf", &pdf_of(None))]);
    let r = upload_query(&app, Some(&token), ARCHIVE, &project, "bad.zip", bad).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    let message = r["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("empty.pdf") && message.contains("no text layer"), "{message}");
    // Path tricks and bombs are refused before anything is read.
    let trick = zip_of(&[("../../etc/passwd.txt", b"x")]);
    let r = upload_query(&app, Some(&token), ARCHIVE, &project, "trick.zip", trick).await;
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("unsafe path"), "{r}");
    let bomb = zip_of(&[("zeros.txt", &vec![b'a'; 4 * 1024 * 1024])]);
    let r = upload_query(&app, Some(&token), ARCHIVE, &project, "bomb.zip", bomb).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!((app.count("SELECT id FROM documents").await, app.count("SELECT id FROM artifacts").await), before);
    // uploadDocument takes a .zip too, answering with its first document.
    let r = upload_query(
        &app,
        Some(&token),
        UPLOAD,
        &project,
        "x.zip",
        zip_of(&[("a.md", "الف".as_bytes()), ("b.md", "ب".as_bytes())]),
    )
    .await;
    assert_eq!(uploaded(&r)["content"], "الف");
    assert_eq!(app.count("SELECT id FROM documents").await, before.0 + 2);
}

async fn document_lists_filter_by_tags_and_metadata(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Filters", json!({})).await;
    let create = "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }";
    let update = "mutation($id: ID!, $m: JSON!) { updateDocument(id: $id, input: {metadata: $m}) { id } }";
    let mut ids = Vec::new();
    for (i, (tags, metadata)) in [
        (json!(["anis", "marsiya"]), json!({"source": "rekhta", "year": 1874, "verified": true})),
        (json!(["anis"]), json!({"source": "rekhta", "year": "1874"})),
        (json!(["dabir", "marsiya"]), json!({"source": "archive", "place": {"city": "لکھنؤ"}})),
    ]
    .into_iter()
    .enumerate()
    {
        let vars =
            json!({"i": {"projectId": project, "title": format!("d{i}"), "content": format!("سطر {i}"), "tags": tags}});
        let id = app.ok(Some(&token), create, vars).await["createDocument"]["id"].as_str().unwrap().to_owned();
        app.ok(Some(&token), update, json!({"id": id, "m": metadata})).await;
        ids.push(id);
    }
    let list = "query($p: ID!, $f: DocumentFilterInput) { project(id: $p) { documents(first: 10, filter: $f) { totalCount edges { node { id } } } } }";
    let kept = |filter: Value| {
        let app = &app;
        let token = &token;
        let project = &project;
        async move {
            let r = app.ok(Some(token), list, json!({"p": project, "f": filter})).await;
            let docs = &r["project"]["documents"];
            let got: Vec<String> = docs["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(docs["totalCount"].as_u64().unwrap() as usize, got.len());
            got
        }
    };
    assert_eq!(kept(json!({"tags": ["anis"]})).await, [ids[0].clone(), ids[1].clone()]);
    assert_eq!(kept(json!({"tags": ["anis", "marsiya"]})).await, [ids[0].clone()]);
    assert_eq!(kept(json!({"metadata": {"source": "rekhta"}})).await, [ids[0].clone(), ids[1].clone()]);
    // Values are compared with their JSON type: 1874 is not "1874".
    assert_eq!(kept(json!({"metadata": {"year": 1874}})).await, [ids[0].clone()]);
    assert_eq!(kept(json!({"metadata": {"year": "1874"}})).await, [ids[1].clone()]);
    assert_eq!(kept(json!({"metadata": {"verified": true}})).await, [ids[0].clone()]);
    assert_eq!(kept(json!({"metadata": {"place": {"city": "لکھنؤ"}}})).await, [ids[2].clone()]);
    assert_eq!(kept(json!({"tags": ["marsiya"], "metadata": {"source": "archive"}})).await, [ids[2].clone()]);
    assert!(kept(json!({"tags": ["nobody"]})).await.is_empty());
    assert_eq!(kept(json!({})).await.len(), 3);
    let r = app.gql(Some(&token), list, json!({"p": project, "f": {"metadata": [1]}})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
}

/// A page of documents asks for their originals in one batch: the statements of the query do
/// not grow with the number of documents (3 or 100 documents, `artifact { sha256 }` each).
async fn a_page_of_documents_loads_its_artifacts_at_once(db: Db) {
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = TestApp::spawn_counting(db, |s| s.workers = 0, counter.clone()).await;
    let (token, _) = app.register("anis").await;
    let list = "query($p: ID!) { project(id: $p) { documents(first: 100) { edges { node { title artifact { sha256 fileName } } } } } }";
    let mut counts = Vec::new();
    for n in [3usize, 100] {
        let project = app.create_project(&token, &format!("Page of {n}"), json!({})).await;
        let texts: Vec<(String, String)> = (0..n).map(|i| (format!("bait-{i}.txt"), format!("بند نمبر {i}"))).collect();
        let files: Vec<(&str, &[u8])> = texts.iter().map(|(name, text)| (name.as_str(), text.as_bytes())).collect();
        let r = upload_query(&app, Some(&token), ARCHIVE, &project, "page.zip", zip_of(&files)).await;
        assert!(r.get("errors").is_none(), "{r}");
        counter.store(0, std::sync::atomic::Ordering::SeqCst);
        let data = app.ok(Some(&token), list, json!({"p": project})).await;
        counts.push(counter.load(std::sync::atomic::Ordering::SeqCst));
        let edges = data["project"]["documents"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), n);
        let mut seen: Vec<(String, String)> = edges
            .iter()
            .map(|e| {
                let a = &e["node"]["artifact"];
                (a["fileName"].as_str().unwrap().to_owned(), a["sha256"].as_str().unwrap().to_owned())
            })
            .collect();
        seen.sort();
        let mut expected: Vec<(String, String)> =
            texts.iter().map(|(name, text)| (name.clone(), sha256(text.as_bytes()))).collect();
        expected.sort();
        assert_eq!(seen, expected, "each document its own original");
    }
    eprintln!("{db:?}: {} statements for 3 documents' artifacts, {} for 100", counts[0], counts[1]);
    assert_eq!(counts[0], counts[1], "statements for 3 and for 100 documents: {counts:?}");
}

/// Two documents uploaded from the same bytes under different names share one artifact, and
/// each shows its own name and type.
async fn a_shared_artifact_shows_each_documents_own_name(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let docx = docx_of(&["حسینؑ", "", "عباسؑ"]);
    let p1 = app.create_project(&token, "Names 1", json!({})).await;
    let p2 = app.create_project(&token, "Names 2", json!({})).await;
    let r1 = upload_query(&app, Some(&token), UPLOAD, &p1, "anis-1874.docx", docx.clone()).await;
    let r2 = upload_query(&app, Some(&token), UPLOAD, &p2, "copy for the seminar.docx", docx.clone()).await;
    let (a1, a2) = (&uploaded(&r1)["artifact"], &uploaded(&r2)["artifact"]);
    assert_eq!(a1["id"], a2["id"], "one artifact");
    assert_eq!(a1["fileName"], "anis-1874.docx");
    assert_eq!(a2["fileName"], "copy for the seminar.docx");
    assert_eq!(a1["sha256"], a2["sha256"]);
    assert_eq!(a2["mimeType"], "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    // Read back through the document, too.
    let q = "query($id: ID!) { document(id: $id) { fileName artifact { fileName mimeType } } }";
    let d2 = app.ok(Some(&token), q, json!({"id": uploaded(&r2)["id"]})).await;
    assert_eq!(d2["document"]["artifact"]["fileName"], "copy for the seminar.docx");
}

crate::on_both_databases!(
    document_lists_filter_by_tags_and_metadata,
    every_format_becomes_a_document_and_keeps_its_original,
    artifacts_are_served_only_to_readers,
    identical_originals_are_stored_once_and_go_with_their_last_document,
    archives_are_all_or_nothing_with_a_report,
    a_page_of_documents_loads_its_artifacts_at_once,
    a_shared_artifact_shows_each_documents_own_name,
);
