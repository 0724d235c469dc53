//! What the benchmarks share: the Marsiya corpus, and a fresh database of either kind that is
//! removed afterwards.
#![allow(dead_code)] // Each benchmark uses its own part.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};

/// Every file of the corpus, by name, in name order (the bytes as they are: one file has a
/// truncated UTF-8 sequence).
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/marsiya/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the Marsiya corpus is missing at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

/// The corpus files that are valid UTF-8, as text.
pub fn corpus_texts() -> Vec<(String, String)> {
    corpus().into_iter().filter_map(|(name, bytes)| Some((name, String::from_utf8(bytes).ok()?))).collect()
}

/// A fresh, empty database of the kind (`sqlite`, or `postgres` when `NISHAN_TEST_POSTGRES_URL`
/// names a server): its URL, and what removes it.
pub async fn database(kind: &str) -> Option<(String, Box<dyn FnOnce()>)> {
    match kind {
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("nishan-bench-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
            Some((url, Box::new(move || drop(std::fs::remove_dir_all(&dir)))))
        }
        _ => {
            let admin_url = std::env::var("NISHAN_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
            let name = format!("nishan_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url).await.unwrap();
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
            let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
            let drop_it = move || {
                let status = std::process::Command::new("psql")
                    .args([admin_url.as_str(), "-qc", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
                    .status();
                if !status.is_ok_and(|s| s.success()) {
                    eprintln!("could not drop the benchmark database {name}");
                }
            };
            Some((url, Box::new(drop_it)))
        }
    }
}

/// What a benchmark starts from: a server on `url` (its settings as `configure` leaves the
/// defaults), a registered user and a project of theirs.
pub struct BenchProject {
    pub state: nishan_api::state::AppState,
    pub meta: nishan_domain::audit::RequestMeta,
    pub actor: nishan_domain::policy::Actor,
    pub project: nishan_domain::project::Project,
}

/// Starts a server on `url`, registers a user `bench` and creates the project "Bench".
pub async fn bench_project(url: String, configure: impl FnOnce(&mut nishan_api::config::Settings)) -> BenchProject {
    let mut settings = nishan_api::config::Settings::defaults();
    settings.database_url = Some(url);
    configure(&mut settings);
    let state = nishan_api::bootstrap(settings).await.unwrap();
    let meta = nishan_domain::audit::RequestMeta::default();
    let registration = nishan_domain::service::accounts::Registration {
        username: "bench".into(),
        email: "bench@example.org".into(),
        password: "benchmark-password".into(),
        first_name: None,
        last_name: None,
    };
    let user = state.accounts().register(&meta, registration).await.unwrap().user;
    let actor = nishan_domain::policy::Actor { user_id: user.id, is_admin: user.is_admin };
    let fields = nishan_domain::project::ProjectFields { name: Some("Bench".into()), ..Default::default() };
    let project = state.projects().create(&meta, &actor, fields).await.unwrap();
    BenchProject { state, meta, actor, project }
}
