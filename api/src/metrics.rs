//! The process's Prometheus metrics: one registry, and the functions the rest of the code calls
//! to record what happens (operations, subscriptions, rate limits, model calls, the job
//! queue). `GET /metrics` renders it in the Prometheus text format.
//!
//! The registry is process-wide so that any code (a resolver, a worker) can record without
//! plumbing; label values that a client chooses (operation names) are capped, so a client
//! cannot grow the registry without bound.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How an operation ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ran without errors.
    Ok,
    /// Ran, with errors in its result.
    Error,
    /// Refused before it ran (parse, validation, limits, rate limit).
    Rejected,
    /// Stopped by the execution timeout.
    Timeout,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Rejected => "rejected",
            Self::Timeout => "timeout",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabel {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabel {
    scope: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    state: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

struct Metrics {
    registry: Registry,
    operations: Family<OperationLabels, Counter>,
    latency: HistogramFamily<NameLabel>,
    subscriptions_open: Gauge,
    websockets_open: Gauge,
    rate_limited: Family<ScopeLabel, Counter>,
    jobs: Family<StatusLabel, Gauge>,
    model_calls: Family<ModelLabel, Counter>,
    model_tokens: Family<ModelLabel, Counter>,
    model_errors: Family<ModelLabel, Counter>,
    pool: Family<PoolLabel, Gauge>,
    pool_max: Gauge,
    /// Operation names seen so far (the label values in use).
    names: Mutex<HashSet<String>>,
}

/// Most distinct operation names kept as label values; later names count as `other`.
const MAX_OPERATION_NAMES: usize = 200;

fn latency_histogram() -> Histogram {
    // 1 ms to ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("nishan");
    let operations = Family::<OperationLabels, Counter>::default();
    registry.register("graphql_operations", "GraphQL operations by operation name and outcome", operations.clone());
    let latency: HistogramFamily<NameLabel> = Family::new_with_constructor(latency_histogram);
    registry.register_with_unit(
        "graphql_operation_duration",
        "Time to answer a GraphQL query or mutation, by operation name",
        prometheus_client::registry::Unit::Seconds,
        latency.clone(),
    );
    let subscriptions_open = Gauge::default();
    registry.register("subscriptions_open", "Operations running on WebSocket connections", subscriptions_open.clone());
    let websockets_open = Gauge::default();
    registry.register("websocket_connections_open", "Open GraphQL WebSocket connections", websockets_open.clone());
    let rate_limited = Family::<ScopeLabel, Counter>::default();
    registry.register("rate_limited", "Mutations refused by the rate limit, by scope", rate_limited.clone());
    let jobs = Family::<StatusLabel, Gauge>::default();
    registry.register("jobs", "Processing jobs in the queue, by status", jobs.clone());
    let model_calls = Family::<ModelLabel, Counter>::default();
    registry.register("model_calls", "Calls to language models, by model", model_calls.clone());
    let model_tokens = Family::<ModelLabel, Counter>::default();
    registry.register("model_tokens", "Tokens used by language model calls, by model", model_tokens.clone());
    let model_errors = Family::<ModelLabel, Counter>::default();
    registry.register("model_call_errors", "Failed language model calls, by model", model_errors.clone());
    let pool = Family::<PoolLabel, Gauge>::default();
    registry.register("db_pool_connections", "Database pool connections, by state", pool.clone());
    let pool_max = Gauge::default();
    registry.register("db_pool_max_connections", "Configured size of the database pool", pool_max.clone());
    Metrics {
        registry,
        operations,
        latency,
        subscriptions_open,
        websockets_open,
        rate_limited,
        jobs,
        model_calls,
        model_tokens,
        model_errors,
        pool,
        pool_max,
        names: Mutex::new(HashSet::new()),
    }
});

/// The label for an operation name: `anonymous` without one, `other` once the cap is reached.
fn operation_label(name: Option<&str>) -> String {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous".into();
    };
    // GraphQL names are `[_A-Za-z][_0-9A-Za-z]*`; anything else did not come from a parsed
    // document and is not worth a label.
    if name.len() > 100 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return "other".into();
    }
    let mut names = METRICS.names.lock().expect("metrics names lock");
    if names.contains(name) || names.len() < MAX_OPERATION_NAMES {
        names.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".into()
    }
}

/// One GraphQL operation answered.
pub fn record_operation(name: Option<&str>, outcome: Outcome, elapsed: Duration) {
    let operation = operation_label(name);
    METRICS.operations.get_or_create(&OperationLabels { operation: operation.clone(), outcome: outcome.label() }).inc();
    METRICS.latency.get_or_create(&NameLabel { operation }).observe(elapsed.as_secs_f64());
}

/// An operation started (+1) or ended (-1) on a WebSocket.
pub fn subscriptions_open(delta: i64) {
    METRICS.subscriptions_open.inc_by(delta);
}

/// A WebSocket connection opened (+1) or closed (-1).
pub fn websockets_open(delta: i64) {
    METRICS.websockets_open.inc_by(delta);
}

/// A mutation refused by the rate limit of a `user` or an `address`.
pub fn record_rate_limited(scope: &'static str) {
    METRICS.rate_limited.get_or_create(&ScopeLabel { scope }).inc();
}

/// The number of jobs in a status (`PENDING`, `PROCESSING`, ...), as the queue last counted.
pub fn set_job_queue_depth(status: &str, jobs: i64) {
    METRICS.jobs.get_or_create(&StatusLabel { status: status.to_owned() }).set(jobs);
}

/// One call to a language model: the tokens it used, and whether it failed.
pub fn record_model_call(model: &str, tokens: u64, error: bool) {
    let label = ModelLabel { model: model.to_owned() };
    METRICS.model_calls.get_or_create(&label).inc();
    METRICS.model_tokens.get_or_create(&label).inc_by(tokens);
    if error {
        METRICS.model_errors.get_or_create(&label).inc();
    }
}

/// The database pool as it is now: connections in use, idle, and the configured maximum.
pub fn set_db_pool(in_use: i64, idle: i64, max: i64) {
    METRICS.pool.get_or_create(&PoolLabel { state: "in_use" }).set(in_use);
    METRICS.pool.get_or_create(&PoolLabel { state: "idle" }).set(idle);
    METRICS.pool_max.set(max);
}

/// The registry in the text exposition format (OpenMetrics, which Prometheus reads).
pub fn render() -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &METRICS.registry).expect("writing to a String");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_capped_and_sanitised() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("")), "anonymous");
        assert_eq!(operation_label(Some("drop table; --")), "other");
        assert_eq!(operation_label(Some("Me")), "Me");
        for i in 0..MAX_OPERATION_NAMES {
            operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(operation_label(Some("OneTooMany")), "other");
        // Names already in use keep their label.
        assert_eq!(operation_label(Some("Me")), "Me");
    }

    #[test]
    fn render_has_the_recorded_series() {
        record_model_call("gpt-test", 120, true);
        set_job_queue_depth("QUEUED", 3);
        let text = render();
        assert!(text.contains("nishan_model_tokens_total{model=\"gpt-test\"} 120"), "{text}");
        assert!(text.contains("nishan_model_call_errors_total{model=\"gpt-test\"} 1"), "{text}");
        assert!(text.contains("nishan_jobs{status=\"QUEUED\"} 3"), "{text}");
    }
}
