//! Usage accounting: tokens and cost per user, per model and per day, from the recorded model
//! calls, checked against sums computed here in SQL; who may read whose usage.

use crate::common;

use common::mock_llm::MockLlm;
use common::{Db, TestApp, create_document, error_code, wait_for_job};
use nishan_domain::llm::Provider;
use serde_json::json;

const USAGE: &str = "query($p: ID, $from: DateTime, $to: DateTime) { usage(projectId: $p, from: $from, to: $to) { from to total { calls failedCalls tokens promptTokens completionTokens cost } byUser { user { username } usage { calls tokens } } byModel { model { name } usage { calls tokens cost } } byDay { day usage { calls tokens } } } }";

async fn sum(app: &TestApp, sql: &str) -> i64 {
    let db = app.database().await;
    use sea_orm::ConnectionTrait;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

async fn usage_is_summed_per_user_model_and_day(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let (researcher, researcher_id) = app.register("researcher").await;
    let project = app.create_project(&admin, "Spend", json!({})).await;
    app.ok(
        Some(&admin),
        "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }",
        json!({"i": {"projectId": project, "userId": researcher_id, "role": "RESEARCHER"}}),
    )
    .await;
    let other = app.create_project(&admin, "Elsewhere", json!({})).await;
    let model = app
        .ok(
            Some(&admin),
            "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }",
            json!({"i": {"name": "metered", "provider": "OPENAI", "modelName": "m", "apiKey": "sk-x", "apiBaseUrl": mock.base_url(Provider::OpenAi), "costPer1kPromptTokens": 1.0, "costPer1kCompletionTokens": 2.0}}),
        )
        .await["createLlmModel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (n, (token, project)) in [(&admin, &project), (&researcher, &project), (&admin, &other)].into_iter().enumerate()
    {
        let doc = create_document(&app, token, project, &format!("d{n}"), &format!("کربلا میں حسینؑ {n}")).await;
        let job = app
            .ok(
                Some(token),
                "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id } }",
                json!({"i": {"documentId": doc, "llmModelId": model}}),
            )
            .await["startProcessingJob"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(wait_for_job(&app, token, &job).await["status"], "COMPLETED");
    }
    let all = &app.ok(Some(&admin), USAGE, json!({})).await["usage"];
    let tokens = sum(&app, "SELECT SUM(prompt_tokens + completion_tokens) AS n FROM model_calls").await;
    assert_eq!(all["total"]["calls"], 3);
    assert_eq!(all["total"]["tokens"], tokens);
    let prompt = sum(&app, "SELECT SUM(prompt_tokens) AS n FROM model_calls").await as f64;
    let completion = sum(&app, "SELECT SUM(completion_tokens) AS n FROM model_calls").await as f64;
    assert!((all["total"]["cost"].as_f64().unwrap() - (prompt + 2.0 * completion) / 1000.0).abs() < 1e-9);
    let users: Vec<(String, u64)> = all["byUser"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["user"]["username"].as_str().unwrap().to_owned(), u["usage"]["calls"].as_u64().unwrap()))
        .collect();
    assert!(users.contains(&("admin".into(), 2)) && users.contains(&("researcher".into(), 1)), "{users:?}");
    assert_eq!(all["byModel"][0]["model"]["name"], "metered");
    let days = all["byDay"].as_array().unwrap();
    assert_eq!(days.len(), 31, "every day of the default 30-day range, today included");
    assert_eq!(days.last().unwrap()["usage"]["calls"], 3);
    // A researcher sees their own calls; a project's owner sees the project's.
    let own = &app.ok(Some(&researcher), USAGE, json!({})).await["usage"];
    assert_eq!(own["total"]["calls"], 1);
    let proj = &app.ok(Some(&admin), USAGE, json!({"p": project})).await["usage"];
    assert_eq!(proj["total"]["calls"], 2);
    assert_eq!(error_code(&app.gql(Some(&researcher), USAGE, json!({"p": project})).await), "FORBIDDEN");
    let bad = app.gql(Some(&admin), USAGE, json!({"from": "2026-11-23T00:00:00Z", "to": "2026-11-22T00:00:00Z"})).await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "from");
    // The project's statistics carry its model usage.
    let stats = app
        .ok(
            Some(&admin),
            "query($p: ID!) { projectStatistics(projectId: $p) { modelUsage { calls tokens cost } } }",
            json!({"p": project}),
        )
        .await;
    let project_tokens = sum(&app, "SELECT SUM(c.prompt_tokens + c.completion_tokens) AS n FROM model_calls c JOIN processing_jobs j ON j.id = c.job_id JOIN documents d ON d.id = j.document_id WHERE d.title IN ('d0', 'd1')").await;
    assert_eq!(stats["projectStatistics"]["modelUsage"]["calls"], 2);
    assert_eq!(stats["projectStatistics"]["modelUsage"]["tokens"], project_tokens);
}

on_both_databases!(usage_is_summed_per_user_model_and_day);
