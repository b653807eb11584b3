//! Subscriptions and routing rules: the `pubsub.in-memory` component, the app's
//! `GET /dapr/subscribe` answer and declarative `Subscription` resources, and the CEL
//! subset that rules match events with.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::components::{BulkSubscribeSpec, ComponentSpec, SubscriptionSpec, parse_bool};
use crate::error::SidecarError;
use crate::gojson::{self, Shape};

/// daprd's `maxMessagesCount` when 0 or absent.
pub(crate) const DEFAULT_BULK_MAX_MESSAGES: usize = 100;
/// daprd's `maxAwaitDurationMs` when 0 or absent.
pub(crate) const DEFAULT_BULK_MAX_AWAIT: Duration = Duration::from_millis(1000);
/// The largest batch this sidecar forms; a larger `maxMessagesCount` is clamped to it.
pub(crate) const MAX_BULK_MESSAGES: usize = 10_000;

/// A `bulkSubscribe` subscription's batching, defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BulkSettings {
    /// A batch is flushed when it has this many messages...
    pub max_messages: usize,
    /// ... or this long after its first message.
    pub max_await: Duration,
}

impl BulkSettings {
    /// `None` unless enabled; 0 or negative → daprd's defaults; above [`MAX_BULK_MESSAGES`] → clamped.
    fn resolve(spec: Option<BulkSubscribeSpec>, topic: &str) -> Option<BulkSettings> {
        let spec = spec.filter(|b| b.enabled)?;
        let mut max_messages = usize::try_from(spec.max_messages_count)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_BULK_MAX_MESSAGES);
        if max_messages > MAX_BULK_MESSAGES {
            tracing::warn!(%topic, max_messages, limit = MAX_BULK_MESSAGES, "bulkSubscribe.maxMessagesCount is clamped");
            max_messages = MAX_BULK_MESSAGES;
        }
        let max_await = u64::try_from(spec.max_await_duration_ms)
            .ok()
            .filter(|n| *n > 0)
            .map_or(DEFAULT_BULK_MAX_AWAIT, Duration::from_millis);
        Some(BulkSettings {
            max_messages,
            max_await,
        })
    }
}

/// A `pubsub.in-memory` component.
#[derive(Debug)]
pub(crate) struct PubSubComponent {
    /// `allowedTopics` (comma separated); `None` = every topic.
    pub allowed_topics: Option<Vec<String>>,
}

impl PubSubComponent {
    pub fn from_spec(spec: &ComponentSpec) -> Result<Self, SidecarError> {
        let allowed_topics = spec
            .meta("allowedTopics")
            .filter(|t| !t.trim().is_empty())
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            });
        Ok(PubSubComponent { allowed_topics })
    }
}

/// A rule's `match` in the supported CEL subset: `event.<path> == "lit"` or `!=`.
#[derive(Debug, Clone)]
enum Matcher {
    Eq(Vec<String>, String),
    Ne(Vec<String>, String),
}

impl Matcher {
    fn parse(expr: &str) -> Option<Matcher> {
        let (lhs, rhs, eq) = if let Some((l, r)) = expr.split_once("==") {
            (l, r, true)
        } else {
            let (l, r) = expr.split_once("!=")?;
            (l, r, false)
        };
        let path = lhs.trim().strip_prefix("event.")?;
        if path.is_empty()
            || !path
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            return None;
        }
        let rhs = rhs.trim();
        let lit = rhs
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .or_else(|| rhs.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))?;
        if lit.contains(['"', '\'']) {
            return None;
        }
        let path = path.split('.').map(str::to_string).collect();
        Some(if eq {
            Matcher::Eq(path, lit.to_string())
        } else {
            Matcher::Ne(path, lit.to_string())
        })
    }

    fn matches(&self, event: &Value) -> bool {
        let get = |path: &[String]| {
            path.iter()
                .try_fold(event, |v, p| v.get(p))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        match self {
            Matcher::Eq(p, lit) => get(p).as_deref() == Some(lit.as_str()),
            Matcher::Ne(p, lit) => get(p).as_deref() != Some(lit.as_str()),
        }
    }
}

/// One routing rule of a subscription.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub expr: String,
    pub path: String,
    matcher: Option<Matcher>,
}

/// A subscription, from the app (`GET /dapr/subscribe`) or from a `kind: Subscription` file.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub pubsub: String,
    pub topic: String,
    pub rules: Vec<Rule>,
    pub default_route: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub dead_letter: Option<String>,
    pub declarative: bool,
    /// Set for a `bulkSubscribe` subscription: delivered in batches as the bulk envelope.
    pub bulk: Option<BulkSettings>,
}

impl Subscription {
    /// Builds a subscription; `None` (with a warning) when it has no route at all.
    fn new(spec: SubscriptionSpec, declarative: bool) -> Option<Subscription> {
        let SubscriptionSpec {
            pubsub,
            topic,
            route,
            default_route,
            rules,
            metadata,
            dead_letter,
            bulk,
        } = spec;
        let bulk = BulkSettings::resolve(bulk, &topic);
        let default_route = default_route
            .filter(|r| !r.is_empty())
            .or(route.filter(|r| !r.is_empty()));
        let rules: Vec<Rule> = rules
            .into_iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(expr, path)| {
                let matcher = Matcher::parse(&expr);
                if matcher.is_none() && !expr.trim().is_empty() {
                    tracing::warn!(%topic, rule = %expr, "unsupported rule expression (only event.<field> == \"value\" / != is supported); the rule never matches");
                }
                Rule { expr, path, matcher }
            })
            .collect();
        if default_route.is_none() && rules.is_empty() {
            tracing::warn!(%pubsub, %topic, "subscription without a route is ignored");
            return None;
        }
        Some(Subscription {
            pubsub,
            topic,
            rules,
            default_route,
            metadata,
            dead_letter,
            declarative,
            bulk,
        })
    }

    pub fn from_spec(s: &SubscriptionSpec) -> Option<Subscription> {
        Subscription::new(s.clone(), true)
    }

    /// The route for an event: the first matching rule, else the default.
    pub(crate) fn route_for(&self, event: &Value) -> Option<&str> {
        for r in &self.rules {
            let hit = if r.expr.trim().is_empty() {
                true
            } else {
                r.matcher.as_ref().is_some_and(|m| m.matches(event))
            };
            if hit {
                return Some(&r.path);
            }
        }
        self.default_route.as_deref()
    }

    /// Whether the subscription asks for raw payloads; a value that is no boolean counts
    /// as false here (delivery refuses such a subscription first: [`Self::raw_payload_setting`]).
    pub(crate) fn raw_payload(&self) -> bool {
        self.raw_payload_setting().unwrap_or(false)
    }

    /// The subscription's `rawPayload` metadata as daprd reads it (`strconv.ParseBool`):
    /// absent is false, a value that is no boolean an error.
    pub(crate) fn raw_payload_setting(&self) -> Result<bool, String> {
        match self.metadata.get("rawPayload") {
            None => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| format!("rawPayload {v:?} is not a boolean")),
        }
    }

    /// The JSON shape in `GET /v1.0/metadata`.
    pub fn to_metadata_json(&self) -> Value {
        let mut rules: Vec<Value> = self
            .rules
            .iter()
            .map(|r| {
                let mut o = json!({ "path": r.path });
                if !r.expr.is_empty() {
                    o["match"] = Value::String(r.expr.clone());
                }
                o
            })
            .collect();
        if let Some(d) = &self.default_route {
            rules.push(json!({ "path": d }));
        }
        // `deadLetterTopic` and `type` are always present, `rules` and `metadata` only
        // when not empty (daprd's Go json tags).
        let mut o = json!({
            "pubsubname": self.pubsub,
            "topic": self.topic,
            "deadLetterTopic": self.dead_letter.clone().unwrap_or_default(),
            "type": if self.declarative { "DECLARATIVE" } else { "PROGRAMMATIC" },
        });
        if !rules.is_empty() {
            o["rules"] = Value::Array(rules);
        }
        if !self.metadata.is_empty() {
            o["metadata"] = json!(self.metadata);
        }
        o
    }
}

/// The Go shape of the app's `GET /dapr/subscribe` answer (`[]SubscriptionJSON`), for [`gojson`].
const APP_SUBSCRIPTIONS: Shape = Shape::List(&Shape::Struct(&[
    ("pubsubname", Shape::Plain),
    ("topic", Shape::Plain),
    ("deadLetterTopic", Shape::Plain),
    ("metadata", Shape::Map),
    ("route", Shape::Plain),
    (
        "routes",
        Shape::Struct(&[
            (
                "rules",
                Shape::List(&Shape::Struct(&[
                    ("match", Shape::Plain),
                    ("path", Shape::Plain),
                ])),
            ),
            ("default", Shape::Plain),
        ]),
    ),
    (
        "bulkSubscribe",
        Shape::Struct(&[
            ("enabled", Shape::Plain),
            ("maxMessagesCount", Shape::Plain),
            ("maxAwaitDurationMs", Shape::Plain),
        ]),
    ),
]));

/// Parses the app's answer to `GET /dapr/subscribe` (keys matched as Go's `encoding/json` does).
pub(crate) fn parse_app_subscriptions(body: &[u8]) -> Result<Vec<Subscription>, String> {
    let list: Vec<Value> =
        gojson::from_slice(body, &APP_SUBSCRIPTIONS).map_err(|e| e.to_string())?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut out = Vec::new();
    for entry in list {
        let (Some(pubsub), Some(topic)) = (s(&entry, "pubsubname"), s(&entry, "topic")) else {
            tracing::warn!(%entry, "subscription without pubsubname or topic is ignored");
            continue;
        };
        let routes = entry.get("routes");
        let rules = routes
            .and_then(|r| r.get("rules"))
            .and_then(Value::as_array)
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        (
                            s(r, "match").unwrap_or_default(),
                            s(r, "path").unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let metadata = entry
            .get("metadata")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let default_route = routes.and_then(|r| s(r, "default"));
        let dead_letter = s(&entry, "deadLetterTopic").filter(|t| !t.is_empty());
        let bulk = entry.get("bulkSubscribe").map(|b| {
            let int = |k: &str| b.get(k).and_then(Value::as_i64).unwrap_or(0);
            BulkSubscribeSpec {
                enabled: b.get("enabled").and_then(Value::as_bool).unwrap_or(false),
                max_messages_count: int("maxMessagesCount"),
                max_await_duration_ms: int("maxAwaitDurationMs"),
            }
        });
        let spec = SubscriptionSpec {
            pubsub,
            topic,
            route: s(&entry, "route"),
            default_route,
            rules,
            metadata,
            dead_letter,
            bulk,
        };
        out.extend(Subscription::new(spec, false));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_matcher_subset() {
        let ev = json!({"type": "widget", "data": {"kind": "a"}});
        assert!(Matcher::parse(r#"event.type == "widget""#).is_some_and(|m| m.matches(&ev)));
        assert!(Matcher::parse("event.data.kind == 'a'").is_some_and(|m| m.matches(&ev)));
        assert!(Matcher::parse(r#"event.type != "gadget""#).is_some_and(|m| m.matches(&ev)));
        assert!(Matcher::parse(r#"event.type == "gadget""#).is_some_and(|m| !m.matches(&ev)));
        assert!(Matcher::parse("event.type.startsWith('w')").is_none());
        assert!(Matcher::parse("").is_none());
    }

    #[test]
    fn app_subscriptions_default_wins_and_routeless_dropped() {
        let subs = parse_app_subscriptions(
            br#"[{"pubsubname":"p","topic":"a","route":"/r","routes":{"default":"/d"}},
                {"pubsubname":"p","topic":"b"},
                {"pubsubname":"p","topic":"c","route":"c","deadLetterTopic":"dl","metadata":{"rawPayload":"true"}}]"#,
        )
        .unwrap_or_default();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].default_route.as_deref(), Some("/d"));
        assert_eq!(subs[1].dead_letter.as_deref(), Some("dl"));
        assert!(subs[1].raw_payload());
        assert!(parse_app_subscriptions(b"{").is_err());
    }

    #[test]
    fn app_subscriptions_match_keys_as_go_does_and_read_bulk_subscribe() {
        let subs = parse_app_subscriptions(
            br#"[{"PubsubName":"p","TOPIC":"a","Routes":{"Rules":[{"Match":"","PATH":"/r"}],"DEFAULT":"/d"},"deadlettertopic":"dl","BulkSubscribe":{"Enabled":true,"MaxMessagesCount":5,"maxawaitdurationms":40}},
                {"pubsubname":"p","topic":"b","route":"/b","bulkSubscribe":{"enabled":true}},
                {"pubsubname":"p","topic":"c","route":"/c","bulkSubscribe":{"enabled":true,"maxMessagesCount":1000000,"maxAwaitDurationMs":-1}},
                {"pubsubname":"p","topic":"d","route":"/d","bulkSubscribe":{"enabled":false,"maxMessagesCount":5}}]"#,
        )
        .unwrap_or_default();
        assert_eq!(subs.len(), 4);
        assert_eq!(subs[0].default_route.as_deref(), Some("/d"));
        assert_eq!(subs[0].rules[0].path, "/r");
        assert_eq!(subs[0].dead_letter.as_deref(), Some("dl"));
        let ms = Duration::from_millis;
        let bulk: Vec<Option<BulkSettings>> = subs.iter().map(|s| s.bulk).collect();
        assert_eq!(
            bulk,
            [
                Some(BulkSettings {
                    max_messages: 5,
                    max_await: ms(40)
                }),
                Some(BulkSettings {
                    max_messages: DEFAULT_BULK_MAX_MESSAGES,
                    max_await: DEFAULT_BULK_MAX_AWAIT
                }),
                Some(BulkSettings {
                    max_messages: MAX_BULK_MESSAGES,
                    max_await: DEFAULT_BULK_MAX_AWAIT
                }),
                None,
            ]
        );
        assert!(parse_app_subscriptions(br#"{"pubsubname":"p"}"#).is_err());
    }
}
