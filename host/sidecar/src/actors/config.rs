//! The app's actor configuration: its `GET /dapr/config` answer (daprd's `ApplicationConfig`, Go `encoding/json`) read into the settings of each hosted type.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::gojson::{self, Shape};
use crate::jobs::timefmt::parse_go_duration;

/// daprd's default `actorIdleTimeout` (60 minutes).
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
/// daprd's default `maxStackDepth` of a reentrant type.
pub(crate) const DEFAULT_MAX_STACK_DEPTH: u32 = 32;

/// The settings of one hosted actor type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeConfig {
    /// Deactivation after this long without a call.
    pub idle_timeout: Duration,
    /// `Some(maxStackDepth)` when reentrancy is enabled for the type.
    pub reentrancy: Option<u32>,
}

/// The types the app hosts, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostedTypes {
    pub types: BTreeMap<String, TypeConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reentrancy {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    max_stack_depth: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntityConfig {
    #[serde(default)]
    entities: Vec<String>,
    #[serde(default)]
    actor_idle_timeout: Option<String>,
    #[serde(default)]
    reentrancy: Option<Reentrancy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppConfig {
    #[serde(default)]
    entities: Vec<String>,
    #[serde(default)]
    actor_idle_timeout: Option<String>,
    #[serde(default)]
    reentrancy: Option<Reentrancy>,
    #[serde(default)]
    entities_config: Vec<EntityConfig>,
}

const REENTRANCY: Shape =
    Shape::Struct(&[("enabled", Shape::Plain), ("maxStackDepth", Shape::Plain)]);

/// The Go shape of `ApplicationConfig` (fields this sidecar reads; others are ignored).
const APP_CONFIG: Shape = Shape::Struct(&[
    ("entities", Shape::Plain),
    ("actorIdleTimeout", Shape::Plain),
    ("reentrancy", REENTRANCY),
    (
        "entitiesConfig",
        Shape::List(&Shape::Struct(&[
            ("entities", Shape::Plain),
            ("actorIdleTimeout", Shape::Plain),
            ("reentrancy", REENTRANCY),
        ])),
    ),
]);

/// A Go duration setting, `None` when empty; a bad one is an error naming the field.
fn duration(field: &str, value: Option<&str>) -> Result<Option<Duration>, String> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => {
            let nanos = parse_go_duration(v)
                .map_err(|e| format!("{field} {v:?} is not a Go duration: {e}"))?;
            if nanos <= 0 {
                return Err(format!("{field} {v:?} must be positive"));
            }
            Ok(Some(Duration::from_nanos(nanos.unsigned_abs())))
        }
    }
}

fn reentrancy(r: &Reentrancy) -> Option<u32> {
    r.enabled.then(|| {
        r.max_stack_depth
            .filter(|d| *d > 0)
            .map_or(DEFAULT_MAX_STACK_DEPTH, |d| {
                u32::try_from(d).unwrap_or(u32::MAX)
            })
    })
}

/// Reads the app's `/dapr/config` body. Only the types in `entities` are hosted; an
/// `entitiesConfig` entry overrides the idle timeout and reentrancy of the listed types it
/// names (others are ignored), as daprd does.
pub(crate) fn parse(body: &[u8]) -> Result<HostedTypes, String> {
    let config: AppConfig = gojson::from_slice(body, &APP_CONFIG).map_err(|e| e.to_string())?;
    let idle = duration("actorIdleTimeout", config.actor_idle_timeout.as_deref())?
        .unwrap_or(DEFAULT_IDLE_TIMEOUT);
    let base = TypeConfig {
        idle_timeout: idle,
        reentrancy: config.reentrancy.as_ref().and_then(reentrancy),
    };
    let mut types: BTreeMap<String, TypeConfig> = config
        .entities
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| (t.clone(), base.clone()))
        .collect();
    for entry in &config.entities_config {
        let idle = duration(
            "entitiesConfig.actorIdleTimeout",
            entry.actor_idle_timeout.as_deref(),
        )?;
        for name in &entry.entities {
            if let Some(t) = types.get_mut(name) {
                if let Some(idle) = idle {
                    t.idle_timeout = idle;
                }
                if let Some(r) = &entry.reentrancy {
                    t.reentrancy = reentrancy(r);
                }
            }
        }
    }
    Ok(HostedTypes { types })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_with_defaults() {
        let h = parse(br#"{"entities":["A","B"]}"#).unwrap();
        assert_eq!(h.types.len(), 2);
        assert_eq!(h.types["A"].idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert_eq!(h.types["A"].reentrancy, None);
    }

    #[test]
    fn overrides_apply_to_listed_types_only() {
        let h = parse(
            br#"{"entities":["A","B"],"actorIdleTimeout":"10s","reentrancy":{"enabled":true},
                "entitiesConfig":[{"entities":["B","Z"],"actorIdleTimeout":"2s","reentrancy":{"enabled":true,"maxStackDepth":3}}]}"#,
        )
        .unwrap();
        assert_eq!(h.types["A"].idle_timeout, Duration::from_secs(10));
        assert_eq!(h.types["A"].reentrancy, Some(DEFAULT_MAX_STACK_DEPTH));
        assert_eq!(h.types["B"].idle_timeout, Duration::from_secs(2));
        assert_eq!(h.types["B"].reentrancy, Some(3));
        assert!(!h.types.contains_key("Z"));
    }

    #[test]
    fn keys_match_case_insensitively_as_in_go() {
        let h = parse(br#"{"Entities":["A"],"ACTORIDLETIMEOUT":"5s"}"#).unwrap();
        assert_eq!(h.types["A"].idle_timeout, Duration::from_secs(5));
    }

    #[test]
    fn bad_bodies_and_durations_are_errors() {
        for bad in [
            &b"not json"[..],
            br#"{"entities":"A"}"#,
            br#"{"entities":["A"],"actorIdleTimeout":"soon"}"#,
            br#"{"entities":["A"],"actorIdleTimeout":"-1s"}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
