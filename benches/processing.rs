//! Processing benchmark: every text of the Marsiya corpus uploaded, then processed by jobs,
//! once with the built-in extractor and once with a model behind the mock server (answering at
//! once, so what is measured is Nishan's own work: chunking, prompting, parsing, aligning,
//! storing). Reports documents/s, entities/s and the process's peak memory. SQLite, and
//! PostgreSQL when `NISHAN_TEST_POSTGRES_URL` names a server.

#[path = "../tests/it/common/mock_llm.rs"]
#[allow(dead_code)]
mod mock_llm;

mod common;

use common::{corpus, database};

use std::time::{Duration, Instant};

use nishan_domain::audit::RequestMeta;
use nishan_domain::job::JobStatus;
use nishan_domain::llm::Provider;
use nishan_domain::llm::model::ModelFields;
use nishan_domain::policy::Actor;
use nishan_domain::ports::{JobFilter, JobRepository, PageRequest};
use nishan_domain::service::accounts::Registration;
use nishan_domain::service::documents::NewDocument;
use nishan_domain::service::jobs::StartJob;

/// The process's peak resident memory (VmHWM), in MiB.
fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn run(kind: &str, url: String, files: &[(String, Vec<u8>)], mock: &mock_llm::MockLlm, use_mock: bool) {
    let label = if use_mock { "mock model" } else { "built-in extractor" };
    {
        let mut settings = nishan_api::config::Settings::defaults();
        settings.database_url = Some(url);
        settings.workers = 2;
        settings.job_poll_ms = 50;
        settings.data_dir = std::env::temp_dir().join("nishan-bench-data");
        let state = nishan_api::bootstrap(settings).await.unwrap();
        let meta = RequestMeta::default();
        let name = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let reg = Registration {
            username: name[..20].to_owned(),
            email: format!("{}@example.org", &name[..20]),
            password: "benchmark-password".into(),
            first_name: None,
            last_name: None,
        };
        let user = state.accounts().register(&meta, reg).await.unwrap().user;
        let actor = Actor { user_id: user.id, is_admin: user.is_admin };
        let fields =
            nishan_domain::project::ProjectFields { name: Some(format!("Bench {label}")), ..Default::default() };
        let project = state.projects().create(&meta, &actor, fields).await.unwrap();
        let mut docs = vec![];
        for (file, data) in files {
            let input = NewDocument { project_id: Some(project.id), title: Some(file.clone()), ..Default::default() };
            if let Ok(report) = state.documents().upload(&meta, &actor, input, data).await {
                docs.extend(report.documents);
            }
        }
        let model = if use_mock {
            let f = ModelFields {
                name: Some(format!("mock-{}", &name[6..14])),
                provider: Some(Provider::OpenAi),
                model_name: Some("bench".into()),
                api_key: Some(Some("sk-bench".into())),
                api_base_url: Some(Some(mock.base_url(Provider::OpenAi))),
                ..Default::default()
            };
            Some(state.models().create(&meta, &actor, f).await.unwrap().id)
        } else {
            None
        };
        let started = Instant::now();
        let mut ids = vec![];
        for d in &docs {
            let job = StartJob { document_id: Some(d.id), llm_model_id: model, ..Default::default() };
            ids.push(state.jobs().start(&meta, &actor, job).await.unwrap().id);
        }
        let queued = started.elapsed().as_secs_f64();
        let filter = JobFilter { project_id: Some(project.id), ..Default::default() };
        loop {
            let page = state.store.jobs(&filter, PageRequest { offset: 0, limit: 1000 }).await.unwrap();
            let done: Vec<_> = page.items.iter().filter(|j| j.status.is_final()).collect();
            if done.len() == ids.len() {
                let failed = done.iter().filter(|j| j.status != JobStatus::Completed).count();
                let entities: u64 = done.iter().map(|j| u64::from(j.entities_found)).sum();
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "{kind:>8}  {label:<18}: {} documents, {entities} entities, {failed} failed jobs in {secs:.2} s: {:.1} documents/s, {:.0} entities/s; peak memory {:.0} MiB (the {} jobs queued in the first {queued:.2} s)",
                    ids.len(),
                    ids.len() as f64 / secs,
                    entities as f64 / secs,
                    peak_memory_mib(),
                    ids.len()
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::main]
async fn main() {
    // `RUST_LOG=warn cargo bench --bench processing` shows the workers' notes (retries, faults).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    }
    let files = corpus();
    let mock = mock_llm::MockLlm::start().await;
    for kind in ["sqlite", "postgres"] {
        for use_mock in [false, true] {
            match database(kind).await {
                Some((url, cleanup)) => {
                    run(kind, url, &files, &mock, use_mock).await;
                    cleanup();
                }
                None => {
                    println!("{kind:>8}  skipped: set NISHAN_TEST_POSTGRES_URL (scripts/pg.sh start DIR prints one)")
                }
            }
        }
    }
}
