//! The INGESTION handler: a source's pages fetched, page by page, into documents of its
//! project. The job's `params.sourceId` names the source; its checkpoint is the crawl
//! ([`Crawl`]: frontier, visited set, counts, failures), stored with every page's step, so a
//! paused (or taken-up) job goes on with the next URL of the frontier and fetches no visited
//! URL again. `total_steps` grows with the frontier: a step is one URL taken from it.
//!
//! For each URL: robots.txt of its site (read once per run and site; a site without one, or
//! whose robots.txt answers an error status, allows everything) must allow [`USER_AGENT`](crate::source::USER_AGENT), else
//! the URL is counted `disallowed`; then a GET through the [`PageFetcher`] (behind the address
//! guard, with its timeout), at most `max_page_bytes` read; a redirect is followed up to
//! [`MAX_REDIRECTS`] times, each hop checked against the source's allowed hosts (and by the
//! guard, when it is fetched); a timeout, a network fault, 429 or a 5xx is tried again with
//! backoff (the `retry` policy), and after the last attempt, like a refusal, a 4xx, a body over
//! the cap or a type that is not text, HTML, Markdown, PDF or .docx, it counts `failed` with
//! the URL and why in the checkpoint's `failures` (and the job's `errorDetails.failures`).
//! Requests (robots.txt and redirect hops included) are spaced by `1 / requestsPerSecond`.
//!
//! A fetched page becomes text as an upload of its type does (HTML: its main text, through
//! `formats::html`); a page holding none of the source's keywords (folded, Urdu-aware) is
//! `skippedForKeywords`; one whose text the project already holds (content hash) is
//! `skippedUnchanged`; the others are stored as documents (title: the URL; metadata
//! `{url, fetchedAt, keywords, sourceId}`; the original bytes kept as the artifact), each with
//! its `document.create` audit row (so `document.created` webhooks fire) and the job's progress
//! in one fenced transaction. With `followLinks`, an HTML page's links to its own host (and
//! allowed) are added to the frontier while it holds fewer than `maxPages` URLs.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::handler::{BoxFuture, JobEnv, JobHandler, RunNote};
use super::run::{Backoff, Done, JobRun, Stop};
use crate::artifact::NewArtifact;
use crate::audit::{AuditEntry, RequestMeta};
use crate::document::{FileInfo, validate_title};
use crate::error::{DomainError, DomainResult};
use crate::formats::{self, Format};
use crate::job::{Job, JobKind, JobTarget};
use crate::ports::{Clock, FetchError, FetchResponse, FetchedDocument, IngestionStore, PageFetcher};
use crate::service::documents::{InitialFields, new_document};
use crate::source::{Crawl, MAX_REDIRECTS, Source, SourceId, robots_allow, robots_url};
use crate::text;

/// Runs INGESTION jobs with a fetcher.
pub struct Ingestion<F> {
    pub fetcher: F,
    /// Most bytes read of one response (a longer page fails, "larger than ...").
    pub max_page_bytes: usize,
    /// How a page that timed out, or answered 429 or 5xx, is tried again.
    pub retry: Backoff,
}

impl<F> Ingestion<F> {
    pub fn new(fetcher: F, max_page_bytes: usize) -> Self {
        Self {
            fetcher,
            max_page_bytes,
            retry: Backoff { attempts: 3, base: Duration::from_millis(500), cap: Duration::from_secs(10) },
        }
    }
}

/// The source a job's `params` name.
pub fn source_of(params: &Value) -> DomainResult<SourceId> {
    let Some(obj) = params.as_object() else { return Err(DomainError::invalid("params", "must be a JSON object")) };
    if let Some(k) = obj.keys().find(|k| k.as_str() != "sourceId") {
        return Err(DomainError::invalid("params", format!("an INGESTION job takes sourceId only, not {k}")));
    }
    obj.get("sourceId")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<uuid::Uuid>().ok())
        .map(SourceId)
        .ok_or_else(|| DomainError::invalid("sourceId", "an INGESTION job fetches a source: give its sourceId"))
}

impl<V, F> JobHandler<V> for Ingestion<F>
where
    V: JobEnv,
    V::Store: IngestionStore,
    F: PageFetcher + 'static,
{
    fn kind(&self) -> JobKind {
        JobKind::Ingestion
    }

    fn check(&self, target: JobTarget, params: &Value) -> DomainResult<()> {
        if target != JobTarget::Project {
            return Err(DomainError::invalid("documentId", "an INGESTION job fetches a source: give its sourceId"));
        }
        source_of(params).map(|_| ())
    }

    fn run<'a, 'e: 'a>(&'a self, run: &'a mut JobRun<'e, V>) -> BoxFuture<'a, Result<Done, Stop>> {
        Box::pin(self.ingest(run))
    }
}

/// What became of one URL.
enum Outcome {
    Disallowed,
    Failed(String),
    /// A page read whole: its final URL and response.
    Fetched(url::Url, FetchResponse),
}

/// Spaces requests by the source's rate, and remembers robots.txt per site, for one run.
struct Pace {
    interval: Duration,
    last: Option<DateTime<Utc>>,
    robots: HashMap<String, Option<String>>,
}

impl<F: PageFetcher> Ingestion<F> {
    async fn ingest<V>(&self, run: &mut JobRun<'_, V>) -> Result<Done, Stop>
    where
        V: JobEnv,
        V::Store: IngestionStore,
    {
        let store = run.env().store();
        let id = source_of(&run.job().params).map_err(|e| Stop::Failed(e.to_string()))?;
        let source = run
            .retrying("reading the source", || store.source(id))
            .await?
            .ok_or_else(|| Stop::Failed("the source was deleted".into()))?;
        let by =
            run.job().created_by.ok_or_else(|| Stop::Failed("the job has no creator to store documents as".into()))?;
        let mut crawl = Crawl::from_checkpoint(&run.job().checkpoint);
        crawl.seed(&source);
        let mut pace = Pace {
            interval: Duration::from_secs_f64(1.0 / source.requests_per_second),
            last: None,
            robots: HashMap::new(),
        };
        loop {
            run.go_on()?;
            let Some(next) = crawl.take_next() else { break };
            let outcome = self.fetch(run, &source, &mut pace, &next).await;
            let mut stored_doc = None;
            match outcome {
                Outcome::Disallowed => crawl.counts.disallowed += 1,
                Outcome::Failed(why) => {
                    run.note(RunNote::StepFailed { step: crawl.visited.len() as u32, error: format!("{next}: {why}") });
                    crawl.fail(&next, why);
                }
                Outcome::Fetched(url, response) => {
                    crawl.counts.fetched += 1;
                    match self.document_of(run, &source, by, &url, response, &mut crawl) {
                        Ok(Some(doc)) => {
                            let exists = run
                                .retrying("looking for the page's text", || {
                                    store.has_content(source.project_id, &doc.document.content_hash)
                                })
                                .await?;
                            if exists {
                                crawl.counts.skipped_unchanged += 1;
                            } else {
                                stored_doc = Some(doc);
                            }
                        }
                        Ok(None) => crawl.counts.skipped_for_keywords += 1,
                        Err(why) => crawl.fail(url.as_str(), why),
                    }
                }
            }
            self.record(run.job_mut(), &crawl, &next);
            match stored_doc {
                None => run.save_progress().await?,
                Some(doc) => {
                    let mut if_stored = crawl.clone();
                    if_stored.counts.stored += 1;
                    let mut if_unchanged = crawl.clone();
                    if_unchanged.counts.skipped_unchanged += 1;
                    let (a, b) = (if_stored.to_checkpoint(), if_unchanged.to_checkpoint());
                    run.commit("storing the page's document", |fence| {
                        let (mut stored, mut unchanged) = (fence.clone(), fence);
                        stored.job.checkpoint = a.clone();
                        unchanged.job.checkpoint = b.clone();
                        let doc = doc.clone();
                        async move { store.store_fetched_document(&stored, &unchanged, doc).await }
                    })
                    .await?;
                }
            }
            crawl = Crawl::from_checkpoint(&run.job().checkpoint);
        }
        let c = crawl.counts;
        Ok(Done {
            summary: format!(
                "{} pages fetched: {} stored, {} without the keywords, {} unchanged; {} disallowed by robots.txt, {} failed",
                c.fetched, c.stored, c.skipped_for_keywords, c.skipped_unchanged, c.disallowed, c.failed
            ),
        })
    }

    /// The job's progress after a step on `url`.
    fn record(&self, job: &mut Job, crawl: &Crawl, url: &str) {
        job.completed_steps = crawl.visited.len() as u32;
        job.total_steps = (crawl.visited.len() + crawl.frontier.len()) as u32;
        job.progress = Job::percent(job.completed_steps, job.total_steps);
        job.current_step = Some(format!("fetched {url}"));
        job.entities_found = 0;
        let failures: Vec<Value> = crawl.failures.iter().map(|f| json!({"url": f.url, "error": f.error})).collect();
        job.error_details = json!({"failures": failures});
        job.checkpoint = crawl.to_checkpoint();
    }

    /// Waits for the source's rate, then GETs `url`, trying again while it times out or
    /// answers 429 or 5xx.
    async fn get<V: JobEnv>(
        &self,
        run: &JobRun<'_, V>,
        pace: &mut Pace,
        url: &url::Url,
    ) -> Result<FetchResponse, String> {
        let mut attempt = 1;
        loop {
            if let Some(last) = pace.last {
                let due = last + chrono::Duration::from_std(pace.interval).unwrap_or_default();
                if let Ok(wait) = (due - run.now()).to_std() {
                    run.env().clock().sleep(wait).await;
                }
            }
            pace.last = Some(run.now());
            let result = self.fetcher.get(url, self.max_page_bytes).await;
            let transient = match &result {
                Ok(r) => r.status == 429 || r.status >= 500,
                Err(FetchError::Refused(_)) => false,
                Err(_) => true,
            };
            if transient && let Some(wait) = self.retry.delay(attempt) {
                let error = match &result {
                    Ok(r) => format!("HTTP {}", r.status),
                    Err(e) => e.to_string(),
                };
                run.note(RunNote::Retrying { what: format!("fetching {url}"), attempt, wait, error });
                run.env().clock().sleep(wait).await;
                attempt += 1;
                continue;
            }
            return result.map_err(|e| e.to_string());
        }
    }

    /// Robots.txt, then the page, following redirects.
    async fn fetch<V: JobEnv>(&self, run: &JobRun<'_, V>, source: &Source, pace: &mut Pace, raw: &str) -> Outcome {
        let mut url = match url::Url::parse(raw) {
            Ok(u) => u,
            Err(e) => return Outcome::Failed(format!("not a URL: {e}")),
        };
        for hop in 0..=MAX_REDIRECTS {
            if !source.allows(&url) {
                return Outcome::Failed(format!("{url} is not on one of the source's allowed hosts"));
            }
            let site = url.origin().ascii_serialization();
            if !pace.robots.contains_key(&site) {
                let body = match robots_url(&url) {
                    Some(r) => match self.get(run, pace, &r).await {
                        Ok(resp) if (200..300).contains(&resp.status) && !resp.too_large => {
                            Some(String::from_utf8_lossy(&resp.body).into_owned())
                        }
                        // No robots.txt (or an error answering it): everything is allowed.
                        Ok(_) => None,
                        Err(e) if e.starts_with("refused") => return Outcome::Failed(e),
                        Err(_) => None,
                    },
                    None => None,
                };
                pace.robots.insert(site.clone(), body);
            }
            if !robots_allow(pace.robots.get(&site).and_then(|b| b.as_deref()), url.as_str()) {
                return Outcome::Disallowed;
            }
            let response = match self.get(run, pace, &url).await {
                Ok(r) => r,
                Err(e) => return Outcome::Failed(e),
            };
            match response.status {
                300..=399 => {
                    let Some(location) = response.location.as_deref() else {
                        return Outcome::Failed(format!("HTTP {} without a Location", response.status));
                    };
                    if hop == MAX_REDIRECTS {
                        return Outcome::Failed(format!("more than {MAX_REDIRECTS} redirects"));
                    }
                    url = match url.join(location) {
                        Ok(mut next) => {
                            next.set_fragment(None);
                            next
                        }
                        Err(e) => return Outcome::Failed(format!("a redirect to a bad URL: {e}")),
                    };
                }
                200..=299 if response.too_large => {
                    return Outcome::Failed(format!("the page is larger than {} bytes", self.max_page_bytes));
                }
                200..=299 => return Outcome::Fetched(url, response),
                status => return Outcome::Failed(format!("HTTP {status}")),
            }
        }
        Outcome::Failed(format!("more than {MAX_REDIRECTS} redirects"))
    }

    /// The document a fetched page makes: `Ok(None)` when it holds none of the keywords,
    /// `Err` when it cannot be read. Links are queued from HTML pages of sources that follow
    /// them.
    fn document_of<V: JobEnv>(
        &self,
        run: &JobRun<'_, V>,
        source: &Source,
        by: crate::ids::UserId,
        url: &url::Url,
        response: FetchResponse,
        crawl: &mut Crawl,
    ) -> Result<Option<FetchedDocument>, String> {
        let mime =
            response.content_type.as_deref().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let format = match mime.as_str() {
            "text/html" | "application/xhtml+xml" => Format::Html,
            "text/plain" | "" => Format::Text,
            "text/markdown" => Format::Markdown,
            "application/pdf" => Format::Pdf,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Format::Docx,
            other => return Err(format!("the page's type {other} is not text, HTML, Markdown, PDF or .docx")),
        };
        let extracted = formats::extract(format, &response.body, self.max_page_bytes).map_err(|e| e.to_string())?;
        if format == Format::Html && source.follow_links {
            let html = String::from_utf8_lossy(&response.body);
            crawl.follow(source, url, &formats::html::links(&html));
        }
        let content = text::normalize_newlines(&extracted.text);
        if content.trim().is_empty() {
            return Err("the page has no text".into());
        }
        let keywords = source.matched_keywords(&content);
        if !source.keywords.is_empty() && keywords.is_empty() {
            return Ok(None);
        }
        let title: String = url.as_str().chars().take(300).collect();
        let title = validate_title(&title).map_err(|e| e.to_string())?;
        let file_name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|s| !s.is_empty())
            .unwrap_or("index")
            .chars()
            .take(200)
            .collect::<String>();
        let fields = InitialFields { title, language: "ur".into(), direction: None, tags: Vec::new() };
        let file = FileInfo {
            file_name: Some(file_name.clone()),
            file_size: Some(response.body.len() as i64),
            content_type: Some(format.mime_type().to_owned()),
            encoding: extracted.encoding,
        };
        let (mut document, first) = new_document(source.project_id, fields, content, file, by);
        let fetched_at = run.now();
        document.info.metadata = json!({
            "url": url.as_str(),
            "fetchedAt": fetched_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "keywords": keywords,
            "sourceId": source.id,
        });
        let artifact = NewArtifact::new(file_name, format.mime_type(), response.body);
        let meta = RequestMeta::default();
        let audit = AuditEntry::new(&meta, Some(by), "document.create", "document")
            .resource(document.id, &document.title)
            .project(document.project_id)
            .changes(json!({
                "title": document.title,
                "characters": document.character_count,
                "url": url.as_str(),
                "sourceId": source.id,
                "jobId": run.job().id,
                "sha256": artifact.sha256,
            }));
        Ok(Some(FetchedDocument { document, first, artifact, audit }))
    }
}

#[cfg(test)]
mod tests {
    //! The handler over fakes and a virtual clock: requests are spaced by the source's rate,
    //! a 503 is tried again after the backoff, and the fetched page is stored.

    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::events::{DomainEvent, EventPublisher};
    use crate::ids::{ProjectId, UserId};
    use crate::job::JobStatus;
    use crate::ports::{Fence, JobRunStore};
    use crate::service::processing::{Handlers, Runner};
    use crate::source::SourceInput;

    fn block_on<Fut: Future>(f: Fut) -> Fut::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    struct Store {
        source: Source,
        job: Mutex<Job>,
        stored: Mutex<Vec<FetchedDocument>>,
    }

    impl JobRunStore for Store {
        fn save_progress(&self, fence: &Fence) -> impl Future<Output = DomainResult<Option<Job>>> + Send {
            *self.job.lock().unwrap() = fence.job.clone();
            std::future::ready(Ok(Some(fence.job.clone())))
        }
        fn finish_run(&self, job: &Job, _: &str) -> impl Future<Output = DomainResult<Option<Job>>> + Send {
            *self.job.lock().unwrap() = job.clone();
            std::future::ready(Ok(Some(job.clone())))
        }
    }

    impl IngestionStore for Store {
        fn source(&self, _: SourceId) -> impl Future<Output = DomainResult<Option<Source>>> + Send {
            std::future::ready(Ok(Some(self.source.clone())))
        }
        fn has_content(&self, _: ProjectId, hash: &str) -> impl Future<Output = DomainResult<bool>> + Send {
            let found = self.stored.lock().unwrap().iter().any(|d| d.document.content_hash == hash);
            std::future::ready(Ok(found))
        }
        fn store_fetched_document(
            &self,
            stored: &Fence,
            _: &Fence,
            page: FetchedDocument,
        ) -> impl Future<Output = DomainResult<Option<(Job, bool)>>> + Send {
            self.stored.lock().unwrap().push(page);
            *self.job.lock().unwrap() = stored.job.clone();
            std::future::ready(Ok(Some((stored.job.clone(), true))))
        }
    }

    /// Time moves only when slept on.
    struct Clock(Mutex<DateTime<Utc>>);

    impl crate::ports::Clock for Clock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
        fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send {
            *self.0.lock().unwrap() += chrono::Duration::from_std(d).unwrap();
            std::future::ready(())
        }
    }

    struct Quiet;
    impl EventPublisher for Quiet {
        fn publish(&self, _: DomainEvent) {}
    }

    struct Env {
        store: Store,
        clock: Clock,
    }

    impl JobEnv for Env {
        type Store = Store;
        type Events = Quiet;
        type Clock = Clock;
        fn store(&self) -> &Store {
            &self.store
        }
        fn events(&self) -> &Quiet {
            &Quiet
        }
        fn clock(&self) -> &Clock {
            &self.clock
        }
        fn note(&self, _: crate::job::JobId, _: RunNote) {}
    }

    /// Answers from a script per path (404 when none is left), noting the virtual time of
    /// each request.
    struct Fetcher {
        start: DateTime<Utc>,
        log: std::sync::Arc<Mutex<Vec<(String, Duration)>>>,
        now: std::sync::Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
        script: Mutex<HashMap<String, VecDeque<u16>>>,
    }

    impl PageFetcher for Fetcher {
        fn get(&self, url: &url::Url, _: usize) -> impl Future<Output = Result<FetchResponse, FetchError>> + Send {
            let at = ((self.now)() - self.start).to_std().unwrap();
            self.log.lock().unwrap().push((url.path().to_owned(), at));
            let status = self.script.lock().unwrap().get_mut(url.path()).and_then(VecDeque::pop_front).unwrap_or(404);
            let body = format!("<p>صفحہ {}</p>", url.path()).into_bytes();
            std::future::ready(Ok(FetchResponse {
                status,
                location: None,
                content_type: Some("text/html".into()),
                body,
                too_large: false,
            }))
        }
    }

    #[test]
    fn requests_are_spaced_by_the_rate_and_a_503_is_tried_again() {
        let start = Utc::now();
        let project = ProjectId::new();
        let user = UserId::new();
        let source = SourceInput {
            name: "s".into(),
            urls: vec!["http://example.org/a".into(), "http://example.org/b".into()],
            requests_per_second: Some(2.0),
            ..Default::default()
        }
        .validated(project, user, start)
        .unwrap();
        let params = json!({"sourceId": source.id});
        let mut job = Job::queued(JobKind::Ingestion, project, JobTarget::Project, params, Some(user), start).unwrap();
        job.status = JobStatus::Processing;
        let env = Env {
            store: Store { source, job: Mutex::new(job.clone()), stored: Mutex::new(vec![]) },
            clock: Clock(Mutex::new(start)),
        };
        let env_ref: &'static Env = Box::leak(Box::new(env));
        let log = std::sync::Arc::new(Mutex::new(vec![]));
        let fetcher = Fetcher {
            start,
            log: log.clone(),
            now: std::sync::Arc::new(move || *env_ref.clock.0.lock().unwrap()),
            script: Mutex::new(HashMap::from([
                ("/a".into(), VecDeque::from([503, 200])),
                ("/b".into(), VecDeque::from([200])),
            ])),
        };
        let handlers = Handlers::new().with(Ingestion::new(fetcher, 1 << 20));
        let runner = Runner {
            env: env_ref,
            handlers: &handlers,
            worker: "w",
            lease: Duration::from_secs(30),
            backoff: Default::default(),
        };
        let end = block_on(runner.run(job)).unwrap();
        assert_eq!(end.status, JobStatus::Completed, "{:?}", end.error_message);
        let ms = |p: &str, at: u64| (p.to_owned(), Duration::from_millis(at));
        assert_eq!(
            *log.lock().unwrap(),
            vec![
                ms("/robots.txt", 0),
                ms("/a", 500),  // 1 / 2 per second after robots.txt
                ms("/a", 1000), // 503: tried again after the backoff's 500 ms (the rate's wait already passed)
                ms("/b", 1500),
            ]
        );
        let counts = Crawl::counts_of(&end.checkpoint);
        assert_eq!((counts.fetched, counts.stored, counts.failed), (2, 2, 0));
        let stored = env_ref.store.stored.lock().unwrap();
        assert_eq!(stored[0].document.metadata["url"], "http://example.org/a");
        let fetched_at =
            (start + chrono::Duration::milliseconds(1000)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        assert_eq!(
            stored[0].document.metadata["fetchedAt"],
            fetched_at.as_str(),
            "the time of the fetch that answered"
        );
    }
}
