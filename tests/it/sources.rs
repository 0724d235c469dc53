//! Sources fetched by INGESTION jobs, from a site the test serves on 127.0.0.1: pages stored
//! with their fetch metadata and originals, keyword-less and unchanged pages skipped and
//! counted, robots.txt obeyed, redirects re-checked against the allowed hosts, a page over the
//! size cap failed, loopback refused without the setting, pause and resume going on where the
//! job stopped, cancel; who may manage sources.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::{Db, TestApp, error_code, wait_for_job};
use serde_json::{Value, json};

/// One page the site serves.
#[derive(Clone)]
struct Page {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    location: Option<String>,
    /// Sent in chunks, without a Content-Length.
    chunked: bool,
}

fn html(body: &str) -> Page {
    Page {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: body.as_bytes().to_vec(),
        location: None,
        chunked: false,
    }
}

fn text(body: &str) -> Page {
    Page {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: body.as_bytes().to_vec(),
        location: None,
        chunked: false,
    }
}

fn redirect(to: String) -> Page {
    Page { status: 302, content_type: "text/plain", body: Vec::new(), location: Some(to), chunked: false }
}

/// A path whose requests wait for a permit.
type Gate = (String, Arc<tokio::sync::Semaphore>);

/// A web site on 127.0.0.1: serves its pages (404 for the others), logs every path asked
/// for, and can hold the requests to one path until the test lets them go.
#[derive(Clone)]
struct Site {
    base: String,
    port: u16,
    pages: Arc<Mutex<HashMap<String, Page>>>,
    /// Answers given once each, before `pages`' (a flaky page).
    first: Arc<Mutex<HashMap<String, Vec<Page>>>>,
    log: Arc<Mutex<Vec<String>>>,
    gate: Arc<Mutex<Option<Gate>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl Site {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let site = Site {
            base: format!("http://127.0.0.1:{port}"),
            port,
            pages: Default::default(),
            first: Default::default(),
            log: Default::default(),
            gate: Default::default(),
            arrived: Default::default(),
        };
        let state = site.clone();
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let state = state.clone();
            async move { state.serve(uri.path().to_owned()).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        site
    }

    async fn serve(&self, path: String) -> Response {
        self.log.lock().unwrap().push(path.clone());
        self.arrived.notify_waiters();
        let gate = self.gate.lock().unwrap().clone();
        if let Some((gated, permits)) = gate
            && gated == path
        {
            permits.acquire().await.unwrap().forget();
        }
        let once = self.first.lock().unwrap().get_mut(&path).and_then(|q| (!q.is_empty()).then(|| q.remove(0)));
        let page = once.or_else(|| self.pages.lock().unwrap().get(&path).cloned());
        match page {
            None => StatusCode::NOT_FOUND.into_response(),
            Some(p) if p.chunked => {
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                    p.body.chunks(1024).map(|c| Ok(c.to_vec())).collect();
                let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
                ([(header::CONTENT_TYPE, p.content_type)], body).into_response()
            }
            Some(p) => {
                let mut r = (StatusCode::from_u16(p.status).unwrap(), [(header::CONTENT_TYPE, p.content_type)], p.body)
                    .into_response();
                if let Some(to) = p.location {
                    r.headers_mut().insert(header::LOCATION, to.parse().unwrap());
                }
                r
            }
        }
    }

    fn page(&self, path: &str, page: Page) -> String {
        self.pages.lock().unwrap().insert(path.to_owned(), page);
        format!("{}{path}", self.base)
    }

    /// Holds every request to `path` until [`release`](Self::release).
    fn hold(&self, path: &str) -> Arc<tokio::sync::Semaphore> {
        let permits = Arc::new(tokio::sync::Semaphore::new(0));
        *self.gate.lock().unwrap() = Some((path.to_owned(), permits.clone()));
        permits
    }

    fn requests(&self, path: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|p| p.as_str() == path).count()
    }

    /// Waits until `path` was asked for (at most 30 s).
    async fn wait_for(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.requests(path) == 0 {
            assert!(Instant::now() < deadline, "{path} was not requested within 30 s");
            let _ = tokio::time::timeout(Duration::from_millis(200), self.arrived.notified()).await;
        }
    }
}

const CREATE: &str = "mutation($i: CreateSourceInput!) { createSource(input: $i) { id name urls keywords allowedHosts maxPages requestsPerSecond followLinks lastJob { id } documentCount } }";
const START: &str = "mutation($s: ID!) { startProcessingJob(input: {sourceId: $s, kind: INGESTION}) { id kind status projectId params } }";
const JOB: &str = "query($id: ID!) { processingJob(id: $id) { status completedSteps totalSteps errorDetails ingestion { fetched stored skippedForKeywords skippedUnchanged disallowed failed } } }";

/// A server that may fetch from 127.0.0.1.
async fn spawn(db: Db, configure: impl FnOnce(&mut nishan_api::config::Settings)) -> TestApp {
    TestApp::spawn_with(db, |s| {
        s.outbound.allow_private_addresses = true;
        configure(s)
    })
    .await
}

async fn create_source(app: &TestApp, token: &str, input: Value) -> String {
    let data = app.ok(Some(token), CREATE, json!({"i": input})).await;
    data["createSource"]["id"].as_str().unwrap().to_owned()
}

/// Runs one INGESTION job of the source to its end; the job as `JOB` reads it.
async fn run_source(app: &TestApp, token: &str, source: &str) -> Value {
    let job = start(app, token, source).await;
    finish(app, token, &job).await
}

async fn start(app: &TestApp, token: &str, source: &str) -> String {
    let data = app.ok(Some(token), START, json!({"s": source})).await;
    assert_eq!(data["startProcessingJob"]["kind"], "INGESTION");
    data["startProcessingJob"]["id"].as_str().unwrap().to_owned()
}

async fn finish(app: &TestApp, token: &str, job: &str) -> Value {
    wait_for_job(app, token, job).await;
    app.ok(Some(token), JOB, json!({"id": job})).await["processingJob"].clone()
}

fn counts(fetched: u32, stored: u32, keywords: u32, unchanged: u32, disallowed: u32, failed: u32) -> Value {
    json!({"fetched": fetched, "stored": stored, "skippedForKeywords": keywords, "skippedUnchanged": unchanged,
           "disallowed": disallowed, "failed": failed})
}

async fn documents(app: &TestApp, token: &str, project: &str, filter: Value) -> Vec<Value> {
    let q = "query($p: ID!, $f: DocumentFilterInput) { project(id: $p) { documents(filter: $f, first: 100) { nodes { id title content metadata artifact { sha256 mimeType size fileName } } } } }";
    let data = app.ok(Some(token), q, json!({"p": project, "f": filter})).await;
    data["project"]["documents"]["nodes"].as_array().unwrap().clone()
}

/// Pages holding a keyword are stored with `{url, fetchedAt, keywords, sourceId}` and their
/// original; a page without one is counted and skipped; links to the same host are followed
/// (others not); `document.created` webhooks are queued for each stored document; a second run
/// stores nothing and counts the pages unchanged.
async fn pages_are_stored_with_their_fetch_metadata(db: Db) {
    let app = spawn(db, |_| {}).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya on the web", json!({})).await;
    let site = Site::start().await;
    let a_html = format!(
        "<html><head><title>A</title><script>var x = 'کربلا';</script></head><body><main><p>یہ کربلا کی زمیں ہے</p><p>حسینؑ کا ذکر</p></main>\
         <a href=\"/b.html\">b</a> <a href=\"c.txt#top\">c</a> <a href=\"http://localhost:{}/d.html\">d</a></body></html>",
        site.port
    );
    let a = site.page("/a.html", html(&a_html));
    site.page("/b.html", html("<p>دمشق کا بازار</p>"));
    let c = site.page("/c.txt", text("كربلا معلیٰ\nدوسری سطر"));
    site.page("/d.html", html("<p>کربلا</p>"));
    let hook = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } } }";
    let hook_input =
        json!({"projectId": project, "url": format!("{}/hook", site.base), "events": ["document.created"]});
    app.ok(Some(&token), hook, json!({"i": hook_input})).await;
    let input = json!({"projectId": project, "name": "Site", "urls": [a], "keywords": ["کربلا"],
                       "allowedHosts": ["127.0.0.1"], "maxPages": 10, "requestsPerSecond": 10, "followLinks": true});
    let created = app.ok(Some(&token), CREATE, json!({"i": input})).await["createSource"].clone();
    assert_eq!(
        (&created["allowedHosts"], &created["maxPages"], &created["followLinks"], &created["lastJob"]),
        (&json!(["127.0.0.1"]), &json!(10), &json!(true), &Value::Null)
    );
    let source = created["id"].as_str().unwrap().to_owned();
    let job = run_source(&app, &token, &source).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["ingestion"], counts(3, 2, 1, 0, 0, 0), "{job}");
    assert_eq!((site.requests("/d.html"), site.requests("/robots.txt")), (0, 1), "other hosts are not followed");
    let docs = documents(&app, &token, &project, json!(null)).await;
    assert_eq!(docs.len(), 2, "{docs:?}");
    let first = &docs[0];
    assert_eq!(first["title"], a.as_str());
    assert_eq!(first["content"], "یہ کربلا کی زمیں ہے\nحسینؑ کا ذکر", "the main text, without the script");
    let meta = &first["metadata"];
    assert_eq!((&meta["url"], &meta["keywords"], &meta["sourceId"]), (&json!(a), &json!(["کربلا"]), &json!(source)));
    let fetched_at = chrono::DateTime::parse_from_rfc3339(meta["fetchedAt"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - fetched_at.to_utc()).num_seconds().abs() < 600, "{fetched_at}");
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(a_html.as_bytes()))
    };
    assert_eq!(
        first["artifact"],
        json!({"sha256": sha, "mimeType": "text/html", "size": a_html.len(), "fileName": "a.html"}),
        "the original is kept"
    );
    assert_eq!(docs[1]["metadata"]["url"], c.as_str(), "the fragment is dropped");
    assert_eq!(docs[1]["metadata"]["keywords"], json!(["کربلا"]), "Arabic kaf on the page matches Urdu kaf");
    let by_url = documents(&app, &token, &project, json!({"metadata": {"url": c}})).await;
    assert_eq!(by_url.len(), 1, "documents filter by their fetch metadata");
    let queued = app.count("SELECT id FROM webhook_deliveries WHERE event = 'document.created'").await;
    assert_eq!(queued, 2, "a document.created delivery per stored page");

    let again = run_source(&app, &token, &source).await;
    assert_eq!(again["ingestion"], counts(3, 0, 1, 2, 0, 0), "{again}");
    assert_eq!(documents(&app, &token, &project, json!(null)).await.len(), 2);
    let q = "query($id: ID!) { source(id: $id) { documentCount lastJob { status ingestion { skippedUnchanged } } } }";
    let s = app.ok(Some(&token), q, json!({"id": source})).await;
    assert_eq!(
        s["source"],
        json!({"documentCount": 2, "lastJob": {"status": "COMPLETED", "ingestion": {"skippedUnchanged": 2}}})
    );
}

/// robots.txt's Disallow is obeyed (the page is never asked for); a redirect to a host the
/// source does not allow, a redirect chain over the limit, a page over the size cap and an
/// error status each fail, counted with why; a 503 is tried again.
async fn robots_txt_redirects_and_the_size_cap_are_obeyed(db: Db) {
    let app = spawn(db, |s| s.outbound.source_max_page_bytes = 4096).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Rules", json!({})).await;
    let site = Site::start().await;
    site.page("/robots.txt", text("User-agent: *\nDisallow: /private\n\nUser-agent: OtherBot\nDisallow: /\n"));
    let ok = site.page("/ok.html", html("<p>پہلا صفحہ</p>"));
    let private = site.page("/private/x.html", html("<p>چھپا ہوا</p>"));
    let moved = site.page("/moved", redirect(format!("http://localhost:{}/ok2.html", site.port)));
    site.page("/ok2.html", html("<p>دوسرا</p>"));
    for i in 0..7 {
        site.page(&format!("/r{i}"), redirect(format!("/r{}", i + 1)));
    }
    let chain = format!("{}/r0", site.base);
    let big = site.page("/big.html", html(&format!("<p>{}</p>", "ب".repeat(20_000))));
    let streamed = Page { chunked: true, ..html(&format!("<p>{}</p>", "ت".repeat(20_000))) };
    let streamed = site.page("/streamed.html", streamed);
    let gone = format!("{}/gone", site.base);
    let flaky = site.page("/flaky.html", html("<p>آخر کار</p>"));
    let unavailable =
        Page { status: 503, content_type: "text/plain", body: b"busy".to_vec(), location: None, chunked: false };
    site.first.lock().unwrap().insert("/flaky.html".into(), vec![unavailable]);
    let urls = json!([ok, private, moved, chain, big, streamed, gone, flaky]);
    let source = create_source(
        &app,
        &token,
        json!({"projectId": project, "name": "Rules", "urls": urls, "allowedHosts": ["127.0.0.1"], "requestsPerSecond": 10}),
    )
    .await;
    let job = run_source(&app, &token, &source).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["ingestion"], counts(2, 2, 0, 0, 1, 5), "{job}");
    assert_eq!(site.requests("/flaky.html"), 2, "a 503 is tried again");
    assert_eq!(site.requests("/private/x.html"), 0, "robots.txt disallows it");
    assert_eq!(site.requests("/ok2.html"), 0, "localhost is not an allowed host");
    assert_eq!(site.requests("/r6"), 0, "at most 5 redirects are followed");
    let failures = job["errorDetails"]["failures"].as_array().unwrap();
    let why = |url: &str| {
        failures.iter().find(|f| f["url"] == url).map(|f| f["error"].as_str().unwrap().to_owned()).unwrap_or_default()
    };
    assert!(why(&moved).contains("allowed hosts"), "{failures:?}");
    assert!(why(&chain).contains("redirects"), "{failures:?}");
    assert!(why(&big).contains("larger than 4096 bytes"), "{failures:?}");
    assert!(
        why(&streamed).contains("larger than 4096 bytes"),
        "a body without a length is cut at the cap: {failures:?}"
    );
    assert!(why(&gone).contains("HTTP 404"), "{failures:?}");
    assert_eq!(app.count("SELECT id FROM documents").await, 2);
}

/// Without NISHAN_ALLOW_PRIVATE_ADDRESSES a source on loopback is refused by the address
/// guard: nothing reaches the site, and the URL counts failed.
async fn loopback_is_refused_without_the_setting(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Guarded", json!({})).await;
    let site = Site::start().await;
    let page = site.page("/a.html", html("<p>کربلا</p>"));
    let source = create_source(&app, &token, json!({"projectId": project, "name": "Local", "urls": [page]})).await;
    let job = run_source(&app, &token, &source).await;
    assert_eq!(job["ingestion"], counts(0, 0, 0, 0, 0, 1), "{job}");
    let error = job["errorDetails"]["failures"][0]["error"].as_str().unwrap();
    assert!(error.contains("refused") && error.contains("127.0.0.1"), "{error}");
    assert!(site.log.lock().unwrap().is_empty(), "no request reached the site");
}

fn pages(site: &Site, n: usize) -> Vec<String> {
    (1..=n).map(|i| site.page(&format!("/p{i}"), html(&format!("<p>صفحہ نمبر {i}</p>")))).collect()
}

/// A job paused while it fetches its second page stops after it and, resumed, fetches only
/// the pages it had not: it ends with the counts of an uninterrupted run, each page asked
/// for once.
async fn a_paused_job_resumes_where_it_left_off(db: Db) {
    let app = spawn(db, |_| {}).await;
    let (token, _) = app.register("anis").await;
    let whole = Site::start().await;
    let project = app.create_project(&token, "Whole", json!({})).await;
    let urls = pages(&whole, 4);
    let source =
        create_source(&app, &token, json!({"projectId": project, "name": "W", "urls": urls, "requestsPerSecond": 10}))
            .await;
    let uninterrupted = run_source(&app, &token, &source).await;
    assert_eq!(uninterrupted["ingestion"], counts(4, 4, 0, 0, 0, 0));

    let site = Site::start().await;
    let project = app.create_project(&token, "Paused", json!({})).await;
    let urls = pages(&site, 4);
    let source =
        create_source(&app, &token, json!({"projectId": project, "name": "P", "urls": urls, "requestsPerSecond": 10}))
            .await;
    let held = site.hold("/p2");
    let job = start(&app, &token, &source).await;
    site.wait_for("/p2").await;
    let pause = "mutation($id: ID!) { pauseProcessingJob(id: $id) { status } }";
    app.ok(Some(&token), pause, json!({"id": job})).await;
    held.add_permits(1);
    let paused = finish(&app, &token, &job).await;
    assert_eq!(paused["status"], "PAUSED", "{paused}");
    assert_eq!(paused["ingestion"], counts(2, 2, 0, 0, 0, 0), "{paused}");
    assert_eq!((paused["completedSteps"].as_u64(), paused["totalSteps"].as_u64()), (Some(2), Some(4)));
    assert_eq!((site.requests("/p3"), site.requests("/p4")), (0, 0));
    let resume = "mutation($id: ID!) { resumeProcessingJob(id: $id) { status } }";
    app.ok(Some(&token), resume, json!({"id": job})).await;
    let resumed = finish(&app, &token, &job).await;
    assert_eq!(resumed["status"], "COMPLETED", "{resumed}");
    assert_eq!(resumed["ingestion"], uninterrupted["ingestion"], "the same counts as an uninterrupted run");
    for p in ["/p1", "/p2", "/p3", "/p4"] {
        assert_eq!(site.requests(p), 1, "{p} fetched once");
    }
    assert_eq!(documents(&app, &token, &project, json!(null)).await.len(), 4);
}

/// A cancelled job stops after the page it is fetching; what it stored stays.
async fn a_cancelled_job_stops_fetching(db: Db) {
    let app = spawn(db, |_| {}).await;
    let (token, _) = app.register("anis").await;
    let site = Site::start().await;
    let project = app.create_project(&token, "Cancelled", json!({})).await;
    let urls = pages(&site, 4);
    let source =
        create_source(&app, &token, json!({"projectId": project, "name": "C", "urls": urls, "requestsPerSecond": 10}))
            .await;
    let held = site.hold("/p2");
    let job = start(&app, &token, &source).await;
    let mut ws = common::WsClient::connect(&app, Some(&token)).await;
    let progress = "subscription($id: ID!) { jobProgress(jobId: $id) { status ingestion { fetched stored failed } } }";
    ws.subscribe("p", progress, json!({"id": job})).await;
    site.wait_for("/p2").await;
    let cancel = "mutation($id: ID!) { cancelProcessingJob(id: $id) { status } }";
    app.ok(Some(&token), cancel, json!({"id": job})).await;
    held.add_permits(1);
    let mut seen = Vec::new();
    while let Some(msg) = ws.next().await {
        if msg["type"] != "next" {
            break;
        }
        let event = msg["payload"]["data"]["jobProgress"].clone();
        let done = event["status"] == "CANCELLED";
        seen.push(event);
        if done {
            break;
        }
    }
    let last = seen.last().expect("jobProgress events");
    assert_eq!(
        (&last["status"], &last["ingestion"]),
        (&json!("CANCELLED"), &json!({"fetched": 2, "stored": 2, "failed": 0})),
        "{seen:?}"
    );
    let fetched: Vec<u64> = seen.iter().map(|e| e["ingestion"]["fetched"].as_u64().unwrap()).collect();
    assert!(fetched.windows(2).all(|w| w[0] <= w[1]) && fetched.contains(&2), "counts grow page by page: {fetched:?}");
    let cancelled = finish(&app, &token, &job).await;
    assert_eq!(cancelled["status"], "CANCELLED", "{cancelled}");
    assert_eq!(cancelled["ingestion"], counts(2, 2, 0, 0, 0, 0), "{cancelled}");
    assert_eq!((site.requests("/p3"), site.requests("/p4")), (0, 0));
    assert_eq!(documents(&app, &token, &project, json!(null)).await.len(), 2);
}

/// Two sources over the same pages, fetched at once into one project: each page is stored
/// once, and the other job counts it unchanged.
async fn two_jobs_at_once_store_each_page_once(db: Db) {
    let app = spawn(db, |s| s.workers = 2).await;
    let (token, _) = app.register("anis").await;
    let site = Site::start().await;
    let project = app.create_project(&token, "Race", json!({})).await;
    let urls = pages(&site, 6);
    let input = |name: &str| json!({"projectId": project, "name": name, "urls": urls, "requestsPerSecond": 10});
    let (a, b) = (create_source(&app, &token, input("A")).await, create_source(&app, &token, input("B")).await);
    let (ja, jb) = tokio::join!(start(&app, &token, &a), start(&app, &token, &b));
    let (ra, rb) = tokio::join!(finish(&app, &token, &ja), finish(&app, &token, &jb));
    let stored = ra["ingestion"]["stored"].as_u64().unwrap() + rb["ingestion"]["stored"].as_u64().unwrap();
    let unchanged =
        ra["ingestion"]["skippedUnchanged"].as_u64().unwrap() + rb["ingestion"]["skippedUnchanged"].as_u64().unwrap();
    assert_eq!((stored, unchanged), (6, 6), "{ra} {rb}");
    assert_eq!(app.count("SELECT id FROM documents").await, 6);
}

/// Owners manage sources (a researcher may not: FORBIDDEN; a stranger sees none: NOT_FOUND);
/// bad input is BAD_USER_INPUT naming the field; a source with an unfinished job is not
/// deleted (CONFLICT); readers list and read them.
async fn sources_are_managed_by_owners(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (owner, _) = app.register("anis").await;
    let (researcher, researcher_id) = app.register("dabir").await;
    let (stranger, _) = app.register("mir").await;
    let project = app.create_project(&owner, "Managed", json!({})).await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    let member = json!({"i": {"projectId": project, "userId": researcher_id, "role": "RESEARCHER"}});
    app.ok(Some(&owner), add, member).await;
    let good = json!({"projectId": project, "name": "Rekhta", "urls": ["https://rekhta.org/marsiya"]});
    assert_eq!(error_code(&app.gql(Some(&researcher), CREATE, json!({"i": good})).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(Some(&stranger), CREATE, json!({"i": good})).await), "NOT_FOUND");
    let field = |r: &Value| r["errors"][0]["extensions"]["field"].as_str().unwrap_or("").to_owned();
    for (patch, expected) in [
        (json!({"urls": ["ftp://rekhta.org/"]}), "urls"),
        (json!({"urls": []}), "urls"),
        (json!({"allowedHosts": ["example.org"]}), "urls"),
        (json!({"maxPages": 0}), "maxPages"),
        (json!({"maxPages": 1001}), "maxPages"),
        (json!({"requestsPerSecond": 11}), "requestsPerSecond"),
        (json!({"keywords": [""]}), "keywords"),
        (json!({"name": " "}), "name"),
    ] {
        let mut input = good.clone();
        input.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        let r = app.gql(Some(&owner), CREATE, json!({"i": input})).await;
        assert_eq!((error_code(&r).as_str(), field(&r).as_str()), ("BAD_USER_INPUT", expected), "{input}: {r}");
    }
    assert_eq!(app.count("SELECT id FROM sources").await, 0, "refusals store nothing");
    let source = create_source(&app, &owner, good.clone()).await;
    let list = "query($p: ID!) { sources(projectId: $p) { id allowedHosts maxPages requestsPerSecond followLinks } }";
    let listed = app.ok(Some(&researcher), list, json!({"p": project})).await;
    assert_eq!(
        listed["sources"],
        json!([{"id": source, "allowedHosts": ["rekhta.org"], "maxPages": 50, "requestsPerSecond": 1.0, "followLinks": false}])
    );
    let one = "query($id: ID!) { source(id: $id) { id } }";
    assert_eq!(error_code(&app.gql(Some(&stranger), one, json!({"id": source})).await), "NOT_FOUND");
    assert_eq!(error_code(&app.gql(Some(&stranger), START, json!({"s": source})).await), "NOT_FOUND");
    let job = app.ok(Some(&researcher), START, json!({"s": source})).await;
    assert_eq!(job["startProcessingJob"]["params"], json!({"sourceId": source}));
    assert_eq!(job["startProcessingJob"]["projectId"], project.as_str());
    let delete = "mutation($id: ID!) { deleteSource(id: $id) }";
    assert_eq!(error_code(&app.gql(Some(&researcher), delete, json!({"id": source})).await), "FORBIDDEN");
    assert_eq!(
        error_code(&app.gql(Some(&owner), delete, json!({"id": source})).await),
        "CONFLICT",
        "its job is queued"
    );
    let cancel = "mutation($id: ID!) { cancelProcessingJob(id: $id) { status } }";
    app.ok(Some(&owner), cancel, json!({"id": job["startProcessingJob"]["id"]})).await;
    assert_eq!(app.ok(Some(&owner), delete, json!({"id": source})).await["deleteSource"], true);
    assert_eq!(error_code(&app.gql(Some(&owner), one, json!({"id": source})).await), "NOT_FOUND");
}

/// `deleteSource` and `startProcessingJob` of one source at once, many times: either the job is
/// queued and the delete refused (CONFLICT, the source kept), or the source is gone and the
/// start NOT_FOUND; never a queued job whose source was deleted under it.
async fn a_source_is_not_deleted_while_its_job_is_started(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (owner, _) = app.register("anis").await;
    let project = app.create_project(&owner, "Raced", json!({})).await;
    let delete = "mutation($id: ID!) { deleteSource(id: $id) }";
    let mut outcomes = HashMap::new();
    for round in 0..12 {
        let input = json!({"projectId": project, "name": format!("S{round}"), "urls": ["https://rekhta.org/marsiya"]});
        let source = create_source(&app, &owner, input).await;
        let (started, deleted) = tokio::join!(
            app.gql(Some(&owner), START, json!({"s": source})),
            app.gql(Some(&owner), delete, json!({"id": source}))
        );
        let code = |r: &Value| r["errors"][0]["extensions"]["code"].as_str().unwrap_or("").to_owned();
        let outcome = match (code(&started).as_str(), code(&deleted).as_str()) {
            ("", "CONFLICT") => "job",
            ("NOT_FOUND", "") => "deleted",
            other => panic!("round {round}: {other:?}: {started} {deleted}"),
        };
        let jobs =
            app.count(&format!("SELECT id FROM processing_jobs WHERE CAST(params AS TEXT) LIKE '%{source}%'")).await;
        let read = app.gql(Some(&owner), "query($id: ID!) { source(id: $id) { id } }", json!({"id": source})).await;
        let kept = i64::from(read["data"]["source"]["id"] == source.as_str());
        assert_eq!((jobs, kept), if outcome == "job" { (1, 1) } else { (0, 0) }, "round {round}: {outcome}");
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    assert_eq!(outcomes.values().sum::<u32>(), 12, "{outcomes:?}");
}

crate::on_both_databases!(
    a_source_is_not_deleted_while_its_job_is_started,
    pages_are_stored_with_their_fetch_metadata,
    robots_txt_redirects_and_the_size_cap_are_obeyed,
    loopback_is_refused_without_the_setting,
    a_paused_job_resumes_where_it_left_off,
    a_cancelled_job_stops_fetching,
    two_jobs_at_once_store_each_page_once,
    sources_are_managed_by_owners,
);
