//! Sources: web pages a project fetches with INGESTION jobs. Holds what a source is (its URLs,
//! optional keywords, allowed hosts, page limit and request rate), the rules its input must
//! keep, the crawl's state as a job's checkpoint keeps it (frontier, visited set, counts and
//! failures), the keyword rule (Urdu-aware, under `text::fold`) and robots.txt's (Google's
//! matcher, through the `robotstxt` crate).
//!
//! Invariants: a source has 1 to [`MAX_URLS`] absolute http(s) URLs without credentials, each
//! on one of its allowed hosts (1 to [`MAX_HOSTS`] lower-case host names, ports apart); at most
//! [`MAX_KEYWORDS`] non-empty keywords; `max_pages` in 1..=[`MAX_PAGES`]; `requests_per_second`
//! in (0, [`MAX_RATE`]]. A crawl never visits a URL twice, never holds more than `max_pages`
//! URLs in its frontier and visited set together, and only follows links to the page's own host.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::ids::{ProjectId, UserId};
use crate::text::fold::fold;

/// Most URLs a source starts from.
pub const MAX_URLS: usize = 100;
/// Longest URL.
pub const MAX_URL_CHARS: usize = 1000;
/// Most keywords.
pub const MAX_KEYWORDS: usize = 50;
/// Longest keyword.
pub const MAX_KEYWORD_CHARS: usize = 100;
/// Most allowed hosts.
pub const MAX_HOSTS: usize = 20;
/// Most pages one job fetches.
pub const MAX_PAGES: u32 = 1000;
/// Fastest request rate a source may ask for, per second.
pub const MAX_RATE: f64 = 10.0;
/// Longest source name.
pub const MAX_NAME_CHARS: usize = 200;
/// Redirects followed for one page (each hop checked again).
pub const MAX_REDIRECTS: u32 = 5;
/// The user agent fetches are made with, and robots.txt is read for.
pub const USER_AGENT: &str = "NishanBot";
/// Failures kept in the checkpoint (the count goes on past it).
pub const MAX_FAILURES_KEPT: usize = 100;

/// A source of documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourceId(pub Uuid);

impl SourceId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for SourceId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: SourceId,
    pub project_id: ProjectId,
    pub name: String,
    pub urls: Vec<String>,
    pub keywords: Vec<String>,
    pub allowed_hosts: Vec<String>,
    pub max_pages: u32,
    pub requests_per_second: f64,
    /// Links on fetched pages to the same host are followed (up to `max_pages`); otherwise
    /// only `urls` are fetched.
    pub follow_links: bool,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// A source as a client asks for it.
#[derive(Debug, Clone, Default)]
pub struct SourceInput {
    pub name: String,
    pub urls: Vec<String>,
    pub keywords: Vec<String>,
    /// The hosts of `urls` when empty.
    pub allowed_hosts: Vec<String>,
    pub max_pages: Option<u32>,
    pub requests_per_second: Option<f64>,
    pub follow_links: Option<bool>,
}

/// Default page limit.
pub const DEFAULT_MAX_PAGES: u32 = 50;
/// Default rate.
pub const DEFAULT_RATE: f64 = 1.0;

/// Parses an absolute http(s) URL without credentials (the fragment dropped).
pub fn parse_url(raw: &str, field: &'static str) -> DomainResult<url::Url> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(DomainError::invalid(field, format!("a URL is longer than {MAX_URL_CHARS} characters")));
    }
    let mut url = url::Url::parse(raw.trim()).map_err(|e| DomainError::invalid(field, format!("{raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DomainError::invalid(field, format!("{raw:?}: only http and https URLs are fetched")));
    }
    if url.host_str().is_none() {
        return Err(DomainError::invalid(field, format!("{raw:?}: has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DomainError::invalid(field, format!("{raw:?}: must not hold credentials")));
    }
    url.set_fragment(None);
    Ok(url)
}

/// The host a URL is checked against `allowedHosts` by (lower case, without the port).
pub fn host_of(url: &url::Url) -> String {
    url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase()
}

impl SourceInput {
    /// The source this input describes, or BAD_USER_INPUT naming the field.
    pub fn validated(self, project_id: ProjectId, by: UserId, now: DateTime<Utc>) -> DomainResult<Source> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(DomainError::invalid("name", format!("must be 1 to {MAX_NAME_CHARS} characters long")));
        }
        if self.urls.is_empty() || self.urls.len() > MAX_URLS {
            return Err(DomainError::invalid("urls", format!("give 1 to {MAX_URLS} URLs")));
        }
        let mut urls: Vec<url::Url> = Vec::with_capacity(self.urls.len());
        for raw in &self.urls {
            let url = parse_url(raw, "urls")?;
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        if self.allowed_hosts.len() > MAX_HOSTS {
            return Err(DomainError::invalid("allowedHosts", format!("at most {MAX_HOSTS} hosts")));
        }
        let mut hosts: Vec<String> = Vec::new();
        for raw in &self.allowed_hosts {
            let h = raw.trim().trim_end_matches('.').to_ascii_lowercase();
            let valid = !h.is_empty()
                && h.len() <= 253
                && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !valid {
                return Err(DomainError::invalid("allowedHosts", format!("{raw:?} is not a host name")));
            }
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        if hosts.is_empty() {
            for u in &urls {
                let h = host_of(u);
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
        }
        if let Some(u) = urls.iter().find(|u| !hosts.contains(&host_of(u))) {
            return Err(DomainError::invalid("urls", format!("{u} is not on one of the allowed hosts")));
        }
        if self.keywords.len() > MAX_KEYWORDS {
            return Err(DomainError::invalid("keywords", format!("at most {MAX_KEYWORDS} keywords")));
        }
        let mut keywords: Vec<String> = Vec::new();
        for k in &self.keywords {
            let k = k.trim();
            if fold(k).trim().is_empty() || k.chars().count() > MAX_KEYWORD_CHARS {
                return Err(DomainError::invalid(
                    "keywords",
                    format!("each keyword has 1 to {MAX_KEYWORD_CHARS} characters"),
                ));
            }
            if !keywords.iter().any(|x| x == k) {
                keywords.push(k.to_owned());
            }
        }
        let max_pages = self.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
        if !(1..=MAX_PAGES).contains(&max_pages) {
            return Err(DomainError::invalid("maxPages", format!("must be 1 to {MAX_PAGES}")));
        }
        let rate = self.requests_per_second.unwrap_or(DEFAULT_RATE);
        if !(rate > 0.0 && rate <= MAX_RATE) {
            return Err(DomainError::invalid(
                "requestsPerSecond",
                format!("must be more than 0 and at most {MAX_RATE}"),
            ));
        }
        Ok(Source {
            id: SourceId::new(),
            project_id,
            name,
            urls: urls.into_iter().map(String::from).collect(),
            keywords,
            allowed_hosts: hosts,
            max_pages,
            requests_per_second: rate,
            follow_links: self.follow_links.unwrap_or(false),
            created_by: Some(by),
            created_at: now,
        })
    }
}

impl Source {
    /// Whether a URL may be fetched for this source: http(s), on an allowed host.
    pub fn allows(&self, url: &url::Url) -> bool {
        matches!(url.scheme(), "http" | "https") && self.allowed_hosts.contains(&host_of(url))
    }

    /// The keywords found in `text`, compared under Urdu-aware folding (`text::fold`: kaf,
    /// yeh and heh variants, diacritics, honorifics, joiners and case do not matter); none
    /// when the source has none (then every page is kept).
    pub fn matched_keywords(&self, text: &str) -> Vec<String> {
        if self.keywords.is_empty() {
            return Vec::new();
        }
        let folded = fold(text);
        self.keywords.iter().filter(|k| folded.contains(fold(k).trim())).cloned().collect()
    }
}

/// What a job counted, as `ProcessingJob.ingestion` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IngestionCounts {
    /// Pages fetched (a successful response read whole, redirects followed).
    pub fetched: u32,
    /// Documents stored.
    pub stored: u32,
    /// Pages fetched that hold none of the keywords.
    pub skipped_for_keywords: u32,
    /// Pages fetched whose text the project already has.
    pub skipped_unchanged: u32,
    /// URLs robots.txt disallows (not fetched).
    pub disallowed: u32,
    /// URLs that failed (refused, too large, an error status, a network fault after retries).
    pub failed: u32,
}

/// A URL that failed, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub url: String,
    pub error: String,
}

/// A crawl's state, kept as the job's checkpoint with each page: a run taken up again (after a
/// pause, or on another worker) goes on from the frontier and skips the visited URLs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Crawl {
    /// URLs still to fetch, in order.
    pub frontier: Vec<String>,
    /// URLs taken from the frontier (fetched, skipped or failed).
    pub visited: Vec<String>,
    pub counts: IngestionCounts,
    pub failures: Vec<Failure>,
    /// Whether the frontier has been seeded with the source's URLs.
    pub started: bool,
}

impl Crawl {
    /// The crawl a checkpoint holds (a fresh one for `{}`).
    pub fn from_checkpoint(checkpoint: &Value) -> Self {
        serde_json::from_value(checkpoint.clone()).unwrap_or_default()
    }

    pub fn to_checkpoint(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }

    /// The counts a job's checkpoint holds, if it is an ingestion checkpoint.
    pub fn counts_of(checkpoint: &Value) -> IngestionCounts {
        checkpoint.get("counts").and_then(|c| serde_json::from_value(c.clone()).ok()).unwrap_or_default()
    }

    /// Seeds the frontier with the source's URLs (once).
    pub fn seed(&mut self, source: &Source) {
        if !self.started {
            self.started = true;
            for u in &source.urls {
                self.push(u.clone(), source.max_pages);
            }
        }
    }

    /// Queues a URL unless it was seen or the page limit is reached.
    pub fn push(&mut self, url: String, max_pages: u32) -> bool {
        if self.frontier.len() + self.visited.len() >= max_pages as usize
            || self.frontier.contains(&url)
            || self.visited.contains(&url)
        {
            return false;
        }
        self.frontier.push(url);
        true
    }

    /// Takes the next URL, marking it visited.
    pub fn take_next(&mut self) -> Option<String> {
        if self.frontier.is_empty() {
            return None;
        }
        let url = self.frontier.remove(0);
        self.visited.push(url.clone());
        Some(url)
    }

    pub fn fail(&mut self, url: &str, error: impl Into<String>) {
        self.counts.failed += 1;
        if self.failures.len() < MAX_FAILURES_KEPT {
            self.failures.push(Failure { url: url.to_owned(), error: error.into() });
        }
    }

    /// Queues the links of a page fetched from `page` that stay on its host and are allowed.
    pub fn follow(&mut self, source: &Source, page: &url::Url, links: &[String]) {
        for link in links {
            let Ok(mut url) = page.join(link) else { continue };
            url.set_fragment(None);
            if host_of(&url) == host_of(page)
                && url.port_or_known_default() == page.port_or_known_default()
                && source.allows(&url)
            {
                self.push(url.into(), source.max_pages);
            }
        }
    }
}

/// Whether robots.txt (`body`, None when the site has none) lets [`USER_AGENT`] fetch `url`.
pub fn robots_allow(body: Option<&str>, url: &str) -> bool {
    match body {
        None => true,
        Some(body) => robotstxt::DefaultMatcher::default().one_agent_allowed_by_robots(body, USER_AGENT, url),
    }
}

/// The robots.txt URL of a page's site.
pub fn robots_url(url: &url::Url) -> Option<url::Url> {
    let mut r = url.clone();
    r.set_path("/robots.txt");
    r.set_query(None);
    r.set_fragment(None);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(keywords: &[&str]) -> Source {
        SourceInput {
            name: "s".into(),
            urls: vec!["http://example.org/a".into()],
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            ..Default::default()
        }
        .validated(ProjectId::new(), UserId::new(), Utc::now())
        .unwrap()
    }

    #[test]
    fn keywords_match_under_urdu_folding() {
        let s = source(&["كربلا", "حسینؑ"]);
        // Arabic kaf in the keyword, Urdu kaf in the text; the honorific mark is dropped.
        assert_eq!(s.matched_keywords("یہ کربلا کی زمیں ہے"), ["كربلا"]);
        assert_eq!(s.matched_keywords("حسین ابن علی"), ["حسینؑ"]);
        assert!(s.matched_keywords("دمشق").is_empty());
        assert!(source(&[]).matched_keywords("anything").is_empty());
    }

    #[test]
    fn input_is_bounded_and_urls_must_be_on_allowed_hosts() {
        let base = || SourceInput { name: "n".into(), urls: vec!["https://a.org/x".into()], ..Default::default() };
        let err = |i: SourceInput| match i.validated(ProjectId::new(), UserId::new(), Utc::now()) {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(base().validated(ProjectId::new(), UserId::new(), Utc::now()).unwrap().allowed_hosts, ["a.org"]);
        assert_eq!(err(SourceInput { urls: vec!["ftp://a.org/".into()], ..base() }), "urls");
        assert_eq!(err(SourceInput { urls: vec!["http://u:p@a.org/".into()], ..base() }), "urls");
        assert_eq!(err(SourceInput { allowed_hosts: vec!["b.org".into()], ..base() }), "urls");
        assert_eq!(err(SourceInput { urls: vec![], ..base() }), "urls");
        assert_eq!(err(SourceInput { max_pages: Some(0), ..base() }), "maxPages");
        assert_eq!(err(SourceInput { max_pages: Some(MAX_PAGES + 1), ..base() }), "maxPages");
        assert_eq!(err(SourceInput { requests_per_second: Some(0.0), ..base() }), "requestsPerSecond");
        assert_eq!(err(SourceInput { requests_per_second: Some(f64::NAN), ..base() }), "requestsPerSecond");
        assert_eq!(err(SourceInput { keywords: vec![" ".into()], ..base() }), "keywords");
        assert_eq!(err(SourceInput { name: " ".into(), ..base() }), "name");
    }

    #[test]
    fn a_crawl_visits_each_url_once_within_the_page_limit() {
        let mut s = source(&[]);
        s.max_pages = 3;
        s.follow_links = true;
        let mut c = Crawl::default();
        c.seed(&s);
        let page = url::Url::parse("http://example.org/a").unwrap();
        assert_eq!(c.take_next().as_deref(), Some("http://example.org/a"));
        let links = ["/b#top", "b", "http://other.org/c", "/a", "/c", "/d"].map(String::from);
        c.follow(&s, &page, &links);
        assert_eq!(c.frontier, ["http://example.org/b", "http://example.org/c"], "same host, unseen, within 3 pages");
        let back = Crawl::from_checkpoint(&c.to_checkpoint());
        assert_eq!(back, c);
    }

    #[test]
    fn robots_txt_is_read_for_our_agent() {
        let body = "User-agent: *\nDisallow: /private\n\nUser-agent: OtherBot\nDisallow: /\n";
        assert!(robots_allow(Some(body), "http://example.org/public"));
        assert!(!robots_allow(Some(body), "http://example.org/private/page"));
        assert!(robots_allow(None, "http://example.org/private"));
    }
}
