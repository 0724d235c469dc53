//! Configured language models and processing configurations.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Provider;
use crate::error::{DomainError, DomainResult};
use crate::ids::{EntityTypeId, UserId};

/// Identifies a configured model (its row id).
pub type ModelId = uuid::Uuid;
/// Identifies a processing configuration.
pub type ConfigId = uuid::Uuid;

/// The result of the last `testLlmModel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationStatus {
    Pending,
    Validating,
    Connected,
    Error,
}

impl ValidationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Validating => "VALIDATING",
            Self::Connected => "CONNECTED",
            Self::Error => "ERROR",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        [Self::Pending, Self::Validating, Self::Connected, Self::Error]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown validation status {s:?} in storage")))
    }
}

/// A configured model as the rest of the system sees it: never with its key, only whether it
/// has one and the key's last four characters.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmModel {
    pub id: ModelId,
    pub name: String,
    pub provider: Provider,
    pub model_name: String,
    pub api_base_url: Option<String>,
    pub api_version: Option<String>,
    pub has_api_key: bool,
    pub api_key_hint: Option<String>,
    pub is_active: bool,
    pub is_default: bool,
    pub priority: i32,
    pub max_tokens: u32,
    pub temperature: f64,
    pub timeout_secs: u32,
    pub rate_limit_per_minute: Option<u32>,
    pub rate_limit_per_hour: Option<u32>,
    pub cost_per_1k_prompt_tokens: f64,
    pub cost_per_1k_completion_tokens: f64,
    pub total_requests: i64,
    pub successful_requests: i64,
    pub failed_requests: i64,
    pub average_response_ms: f64,
    pub validation_status: ValidationStatus,
    pub validation_error: Option<String>,
    pub validated_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LlmModel {
    /// Share of successful calls, 0 to 1 (0 before the first call).
    pub fn success_rate(&self) -> f64 {
        if self.total_requests == 0 { 0.0 } else { self.successful_requests as f64 / self.total_requests as f64 }
    }

    /// The cost of a call.
    pub fn cost(&self, prompt_tokens: u32, completion_tokens: u32) -> f64 {
        (f64::from(prompt_tokens) * self.cost_per_1k_prompt_tokens
            + f64::from(completion_tokens) * self.cost_per_1k_completion_tokens)
            / 1000.0
    }
}

/// A rate limit: at most `limit` calls to a model in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallWindow {
    pub window: chrono::Duration,
    pub limit: u32,
}

/// The answer to a call reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The call may go now; it counts against every window from now on.
    Granted,
    /// A window is full until then.
    WaitUntil(DateTime<Utc>),
}

/// The RATE_LIMITED refusal of a call whose window is full `until`, told at `now`: whole
/// seconds, rounded up, at least one. Read `now` after the reservation answered: a slot
/// taken meanwhile by another caller (under the same lock, with a later clock) is at most
/// `now`, so the wait never exceeds the window.
pub fn rate_limited(until: DateTime<Utc>, now: DateTime<Utc>) -> crate::DomainError {
    let secs = ((until - now).num_milliseconds().max(0) as u64).div_ceil(1000);
    crate::DomainError::RateLimited { retry_after_secs: secs.max(1) }
}

impl LlmModel {
    /// The model's rate limits, per minute and per hour, as sliding windows.
    pub fn call_windows(&self) -> Vec<CallWindow> {
        let mut windows = Vec::new();
        if let Some(limit) = self.rate_limit_per_minute {
            windows.push(CallWindow { window: chrono::Duration::minutes(1), limit });
        }
        if let Some(limit) = self.rate_limit_per_hour {
            windows.push(CallWindow { window: chrono::Duration::hours(1), limit });
        }
        windows
    }
}

/// The running mean after one more observation: exact, whatever the number of calls.
pub fn running_mean(mean: f64, count_before: i64, value: f64) -> f64 {
    mean + (value - mean) / (count_before + 1) as f64
}

/// The last four characters of a key, the only part ever shown.
pub fn key_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// Fields of a new or changed model; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ModelFields {
    pub name: Option<String>,
    pub provider: Option<Provider>,
    pub model_name: Option<String>,
    pub api_key: Option<Option<String>>,
    pub api_base_url: Option<Option<String>>,
    pub api_version: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub is_default: Option<bool>,
    pub priority: Option<i32>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub timeout_secs: Option<u32>,
    pub rate_limit_per_minute: Option<Option<u32>>,
    pub rate_limit_per_hour: Option<Option<u32>>,
    pub cost_per_1k_prompt_tokens: Option<f64>,
    pub cost_per_1k_completion_tokens: Option<f64>,
}

impl ModelFields {
    pub fn validated(mut self) -> DomainResult<Self> {
        if let Some(n) = self.name.as_mut() {
            *n = n.trim().to_owned();
            if n.is_empty() || n.chars().count() > 100 {
                return Err(DomainError::invalid("name", "must be 1 to 100 characters long"));
            }
        }
        if let Some(n) = self.model_name.as_mut() {
            *n = n.trim().to_owned();
            if n.is_empty() || n.len() > 200 {
                return Err(DomainError::invalid("modelName", "must be 1 to 200 characters long"));
            }
        }
        if let Some(Some(url)) = self.api_base_url.as_mut() {
            *url = url.trim().trim_end_matches('/').to_owned();
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 500 {
                return Err(DomainError::invalid("apiBaseUrl", "must be an http(s) URL"));
            }
        }
        if let Some(Some(key)) = self.api_key.as_mut() {
            *key = key.trim().to_owned();
            if key.is_empty() || key.len() > 1000 {
                return Err(DomainError::invalid("apiKey", "must be 1 to 1000 characters long"));
            }
        }
        if self.max_tokens.is_some_and(|t| !(1..=200_000).contains(&t)) {
            return Err(DomainError::invalid("maxTokens", "must be between 1 and 200000"));
        }
        if self.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            return Err(DomainError::invalid("temperature", "must be between 0 and 2"));
        }
        if self.timeout_secs.is_some_and(|t| !(1..=600).contains(&t)) {
            return Err(DomainError::invalid("timeoutSecs", "must be between 1 and 600"));
        }
        for (field, v) in
            [("rateLimitPerMinute", self.rate_limit_per_minute), ("rateLimitPerHour", self.rate_limit_per_hour)]
        {
            if v == Some(Some(0)) {
                return Err(DomainError::invalid(field, "must be at least 1 (or null for no limit)"));
            }
        }
        for (field, v) in [
            ("costPer1kPromptTokens", self.cost_per_1k_prompt_tokens),
            ("costPer1kCompletionTokens", self.cost_per_1k_completion_tokens),
        ] {
            if v.is_some_and(|c| !c.is_finite() || c < 0.0) {
                return Err(DomainError::invalid(field, "must be a non-negative number"));
            }
        }
        Ok(self)
    }
}

/// Decides whether the provider settings of a model are complete enough to call it.
pub fn check_provider_settings(
    provider: Provider,
    base_url: Option<&str>,
    has_key: bool,
    api_version: Option<&str>,
) -> DomainResult<()> {
    match provider {
        Provider::Azure if base_url.is_none() => Err(DomainError::invalid(
            "apiBaseUrl",
            "an Azure model needs its resource URL (https://NAME.openai.azure.com)",
        )),
        Provider::Azure if api_version.is_none() => {
            Err(DomainError::invalid("apiVersion", "an Azure model needs an API version"))
        }
        Provider::OpenAi | Provider::Azure | Provider::Anthropic | Provider::Google
            if !has_key && base_url.is_none() =>
        {
            Err(DomainError::invalid("apiKey", "this provider needs an API key"))
        }
        _ => Ok(()),
    }
}

/// What is done with a chunk's suggestions once they are placed, before they are stored. As
/// JSON (`postProcessing`): `{"mergeOverlapping": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostProcessing {
    /// Of suggestions of one type that overlap (a model proposing both "حسینؑ" and "حسینؑ ابن
    /// علیؑ"), only the longest is kept, the leftmost among equals. Off: every placed
    /// suggestion is stored. On by default.
    pub merge_overlapping: bool,
}

impl Default for PostProcessing {
    fn default() -> Self {
        Self { merge_overlapping: true }
    }
}

impl PostProcessing {
    /// The options a client may set.
    pub const OPTIONS: [&str; 1] = ["mergeOverlapping"];

    /// Parses a client's `postProcessing` object: every option is a boolean, omitted ones keep
    /// their default, and an unknown option is refused (it would change nothing).
    pub fn parse(value: &Value) -> DomainResult<Self> {
        let object = value.as_object().ok_or_else(|| {
            DomainError::invalid("postProcessing", "must be a JSON object such as {\"mergeOverlapping\": true}")
        })?;
        let mut options = Self::default();
        for (key, v) in object {
            let flag = v
                .as_bool()
                .ok_or_else(|| DomainError::invalid("postProcessing", format!("{key} must be true or false")))?;
            match key.as_str() {
                "mergeOverlapping" => options.merge_overlapping = flag,
                other => {
                    return Err(DomainError::invalid(
                        "postProcessing",
                        format!("unknown option {other:?}; the options are {}", Self::OPTIONS.join(", ")),
                    ));
                }
            }
        }
        Ok(options)
    }

    /// Reads stored options, leniently: what is not a known boolean option keeps its default.
    pub fn from_stored(value: &Value) -> Self {
        let mut options = Self::default();
        if let Some(flag) = value.get("mergeOverlapping").and_then(Value::as_bool) {
            options.merge_overlapping = flag;
        }
        options
    }

    pub fn to_json(self) -> Value {
        serde_json::json!({"mergeOverlapping": self.merge_overlapping})
    }
}

/// How a job splits, prompts and filters.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessingConfig {
    pub id: ConfigId,
    pub name: String,
    pub description: Option<String>,
    pub chunk_size: u32,
    pub chunk_overlap: u32,
    pub max_tokens: u32,
    pub confidence_threshold: f64,
    /// The types to extract; empty means every active type.
    pub entity_type_ids: Vec<EntityTypeId>,
    pub system_prompt: String,
    /// With `{text}`, `{entity_types}` and `{examples}` placeholders.
    pub user_prompt_template: String,
    /// Examples `[{"text", "type"}]` shown to the model.
    pub examples: Value,
    pub post_processing: PostProcessing,
    pub is_default: bool,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProcessingConfig {
    /// The user prompt for one chunk.
    pub fn user_prompt(&self, text: &str, entity_types: &[&str]) -> String {
        let examples = self
            .examples
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| Some(format!("- {} → {}", e.get("text")?.as_str()?, e.get("type")?.as_str()?)))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        self.user_prompt_template
            .replace("{entity_types}", &entity_types.join(", "))
            .replace("{examples}", &examples)
            .replace("{text}", text)
    }

    /// Checks a new configuration's values.
    pub fn validate(&self) -> DomainResult<()> {
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            return Err(DomainError::invalid("name", "must be 1 to 100 characters long"));
        }
        if !(200..=100_000).contains(&self.chunk_size) {
            return Err(DomainError::invalid("chunkSize", "must be between 200 and 100000 characters"));
        }
        if self.chunk_overlap >= self.chunk_size / 2 {
            return Err(DomainError::invalid("chunkOverlap", "must be less than half the chunk size"));
        }
        if !(1..=200_000).contains(&self.max_tokens) {
            return Err(DomainError::invalid("maxTokens", "must be between 1 and 200000"));
        }
        if !(0.0..=1.0).contains(&self.confidence_threshold) {
            return Err(DomainError::invalid("confidenceThreshold", "must be between 0 and 1"));
        }
        if !self.user_prompt_template.contains("{text}") {
            return Err(DomainError::invalid("userPromptTemplate", "must contain the {text} placeholder"));
        }
        if !self.examples.is_array() {
            return Err(DomainError::invalid("examples", "must be a JSON array of {text, type}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_rounds_its_wait_up_to_whole_seconds() {
        let now = Utc::now();
        let secs = |ms| match rate_limited(now + chrono::Duration::milliseconds(ms), now) {
            crate::DomainError::RateLimited { retry_after_secs } => retry_after_secs,
            other => panic!("{other:?}"),
        };
        assert_eq!((secs(60_000), secs(59_001), secs(1), secs(0), secs(-5)), (60, 60, 1, 1, 1));
    }

    #[test]
    fn running_mean_is_exact() {
        let values = [120.0, 80.0, 300.0, 10.0];
        let mut mean = 0.0;
        for (i, v) in values.iter().enumerate() {
            mean = running_mean(mean, i as i64, *v);
        }
        assert!((mean - values.iter().sum::<f64>() / 4.0).abs() < 1e-9);
    }

    #[test]
    fn hints_show_four_characters() {
        assert_eq!(key_hint("sk-abcdef1234"), "1234");
        assert_eq!(key_hint("ab"), "ab");
    }

    #[test]
    fn prompt_placeholders() {
        let c = ProcessingConfig {
            id: uuid::Uuid::nil(),
            name: "x".into(),
            description: None,
            chunk_size: 2000,
            chunk_overlap: 200,
            max_tokens: 100,
            confidence_threshold: 0.5,
            entity_type_ids: vec![],
            system_prompt: String::new(),
            user_prompt_template: "{entity_types}|{examples}|{text}".into(),
            examples: serde_json::json!([{"text": "کربلا", "type": "LOCATION"}]),
            post_processing: PostProcessing::default(),
            is_default: false,
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        assert_eq!(c.user_prompt("متن", &["PERSON", "LOCATION"]), "PERSON, LOCATION|- کربلا → LOCATION|متن");
        assert!(c.validate().is_ok());
        assert!(ProcessingConfig { chunk_overlap: 1500, ..c.clone() }.validate().is_err());
        assert!(ProcessingConfig { user_prompt_template: "no text".into(), ..c }.validate().is_err());
    }

    #[test]
    fn post_processing_options_are_checked() {
        assert_eq!(PostProcessing::parse(&serde_json::json!({})).unwrap(), PostProcessing { merge_overlapping: true });
        assert_eq!(
            PostProcessing::parse(&serde_json::json!({"mergeOverlapping": false})).unwrap(),
            PostProcessing { merge_overlapping: false }
        );
        for bad in [
            serde_json::json!({"dropUnplaced": true}),
            serde_json::json!({"mergeOverlapping": 1}),
            serde_json::json!([]),
        ] {
            assert!(matches!(PostProcessing::parse(&bad), Err(DomainError::Invalid { .. })), "{bad}");
        }
        let stored = serde_json::json!({"mergeOverlapping": false, "legacy": 3});
        assert_eq!(PostProcessing::from_stored(&stored), PostProcessing { merge_overlapping: false });
        assert_eq!(PostProcessing::from_stored(&PostProcessing::default().to_json()), PostProcessing::default());
    }

    #[test]
    fn providers_need_their_settings() {
        assert!(check_provider_settings(Provider::OpenAi, None, false, None).is_err());
        assert!(check_provider_settings(Provider::OpenAi, Some("http://127.0.0.1:9/v1"), false, None).is_ok());
        assert!(check_provider_settings(Provider::Azure, Some("https://x.openai.azure.com"), true, None).is_err());
        assert!(check_provider_settings(Provider::Local, None, false, None).is_ok());
        assert!(check_provider_settings(Provider::Builtin, None, false, None).is_ok());
    }
}
