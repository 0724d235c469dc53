//! Runtime settings: what global admins change while the servers run (`updateSystemSettings`),
//! stored in the database so every replica takes them up without a restart; the environment
//! gives the defaults. This module holds the keys, their bounds (`RuntimeSettings::patched`,
//! the one check of a change) and how stored overrides fold over the defaults.
//!
//! Invariants: a stored override names a known key with a value in its bounds; a patch with an
//! unknown key or a bad value changes nothing (BAD_USER_INPUT); `null` for a key removes its
//! override (back to the environment's default).

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};

/// The settings in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// Mutations per signed-in user per minute (0: unlimited).
    pub mutations_per_minute: u32,
    /// Mutations per client address per minute (0: unlimited).
    pub mutations_per_minute_per_ip: u32,
    /// Days audit rows are kept (0: forever).
    pub audit_retention_days: u32,
    /// Days model-call records are kept (0: forever).
    pub model_call_retention_days: u32,
    /// The wait before a failed webhook delivery's first retry, in milliseconds.
    pub webhook_retry_base_ms: u64,
}

/// One key: its name and its largest value (every value is a whole number from 0, but the
/// retry base, from 1).
struct Key {
    name: &'static str,
    min: u64,
    max: u64,
}

const KEYS: [Key; 5] = [
    Key { name: "mutationsPerMinute", min: 0, max: 1_000_000 },
    Key { name: "mutationsPerMinutePerIp", min: 0, max: 1_000_000 },
    Key { name: "auditRetentionDays", min: 0, max: 36_500 },
    Key { name: "modelCallRetentionDays", min: 0, max: 36_500 },
    Key { name: "webhookRetryBaseMs", min: 1, max: 86_400_000 },
];

/// The key of the default model (its value is a model id, or null); stored as the model's
/// `is_default` flag, not as an override.
pub const DEFAULT_MODEL_KEY: &str = "defaultModelId";

/// A checked change: overrides to set or remove, and a default model to choose.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsPatch {
    /// `(key, Some(value))` sets an override, `(key, None)` removes it.
    pub overrides: Vec<(String, Option<u64>)>,
    pub default_model: Option<Uuid>,
}

impl RuntimeSettings {
    fn get(&self, key: &str) -> u64 {
        match key {
            "mutationsPerMinute" => self.mutations_per_minute.into(),
            "mutationsPerMinutePerIp" => self.mutations_per_minute_per_ip.into(),
            "auditRetentionDays" => self.audit_retention_days.into(),
            "modelCallRetentionDays" => self.model_call_retention_days.into(),
            _ => self.webhook_retry_base_ms,
        }
    }

    fn set(&mut self, key: &str, v: u64) {
        let small = u32::try_from(v).unwrap_or(u32::MAX);
        match key {
            "mutationsPerMinute" => self.mutations_per_minute = small,
            "mutationsPerMinutePerIp" => self.mutations_per_minute_per_ip = small,
            "auditRetentionDays" => self.audit_retention_days = small,
            "modelCallRetentionDays" => self.model_call_retention_days = small,
            _ => self.webhook_retry_base_ms = v,
        }
    }

    /// These defaults with the stored overrides folded over them (an override out of bounds,
    /// stored by an older server, is ignored).
    pub fn with_overrides(mut self, stored: &[(String, Value)]) -> Self {
        for (key, value) in stored {
            if let (Some(k), Some(v)) = (KEYS.iter().find(|k| k.name == key), value.as_u64())
                && (k.min..=k.max).contains(&v)
            {
                self.set(k.name, v);
            }
        }
        self
    }

    /// The settings as `systemSettings` shows them.
    pub fn to_json(&self, default_model: Option<Uuid>) -> Value {
        let mut map = Map::new();
        for k in &KEYS {
            map.insert(k.name.into(), json!(self.get(k.name)));
        }
        map.insert(DEFAULT_MODEL_KEY.into(), json!(default_model.map(|m| m.to_string())));
        Value::Object(map)
    }

    /// Checks a change: an object of known keys, each a whole number within its bounds or null
    /// (back to the default), `defaultModelId` a model id.
    pub fn patched(input: &Value) -> DomainResult<SettingsPatch> {
        let Value::Object(map) = input else {
            return Err(DomainError::invalid("input", "must be an object of settings"));
        };
        if map.is_empty() {
            return Err(DomainError::invalid("input", "names no setting"));
        }
        let mut patch = SettingsPatch::default();
        for (key, value) in map {
            if key == DEFAULT_MODEL_KEY {
                let id = value
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .ok_or_else(|| DomainError::invalid(DEFAULT_MODEL_KEY, "must be a model id"))?;
                patch.default_model = Some(id);
                continue;
            }
            let known: Vec<&str> = KEYS.iter().map(|k| k.name).chain([DEFAULT_MODEL_KEY]).collect();
            let k = KEYS.iter().find(|k| k.name == key).ok_or_else(|| {
                DomainError::invalid(key.clone(), format!("is not a setting (known: {})", known.join(", ")))
            })?;
            match value {
                Value::Null => patch.overrides.push((k.name.to_owned(), None)),
                v => match v.as_u64().filter(|n| (k.min..=k.max).contains(n)) {
                    Some(n) => patch.overrides.push((k.name.to_owned(), Some(n))),
                    None => {
                        return Err(DomainError::invalid(
                            key.clone(),
                            format!("must be a whole number from {} to {}, or null", k.min, k.max),
                        ));
                    }
                },
            }
        }
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> RuntimeSettings {
        RuntimeSettings {
            mutations_per_minute: 300,
            mutations_per_minute_per_ip: 1000,
            audit_retention_days: 365,
            model_call_retention_days: 365,
            webhook_retry_base_ms: 5000,
        }
    }

    #[test]
    fn overrides_fold_over_the_defaults() {
        let s = defaults().with_overrides(&[
            ("mutationsPerMinute".into(), json!(5)),
            ("webhookRetryBaseMs".into(), json!(0)),
            ("unknown".into(), json!(1)),
        ]);
        assert_eq!(s.mutations_per_minute, 5);
        assert_eq!(s.webhook_retry_base_ms, 5000, "out of bounds is ignored");
        assert_eq!(s.to_json(None)["mutationsPerMinute"], 5);
    }

    #[test]
    fn patches_are_checked_whole() {
        let p = RuntimeSettings::patched(&json!({"auditRetentionDays": 30, "mutationsPerMinute": null})).unwrap();
        assert_eq!(p.overrides.len(), 2);
        for bad in [
            json!({"colour": 1}),
            json!({"auditRetentionDays": -1}),
            json!({"auditRetentionDays": 1.5}),
            json!({"auditRetentionDays": "30"}),
            json!({"webhookRetryBaseMs": 0}),
            json!({"mutationsPerMinute": 1_000_001}),
            json!({"defaultModelId": "builtin"}),
            json!({}),
            json!([1]),
        ] {
            assert!(RuntimeSettings::patched(&bad).is_err(), "{bad}");
        }
    }
}
