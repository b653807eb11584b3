//! The body of `POST /v1.0/jobs/{name}` decoded as daprd's protojson does a `JobHTTPRequest`: lowerCamel or snake_case keys, case-sensitive, unknown keys dropped, strict value types.

use serde_json::{Map, Value};

use super::timefmt::parse_proto_duration;

/// A job's failure policy (`failurePolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FailurePolicy {
    /// `{"drop":{}}`: no retry.
    Drop,
    /// `{"constant":{"interval":"1s","maxRetries":3}}`; an unset interval retries at once,
    /// unset `maxRetries` retries forever.
    Constant {
        /// The pause between attempts, in nanoseconds (protojson `Duration`).
        interval: Option<i128>,
        /// Retries after the first attempt.
        max_retries: Option<u32>,
    },
    /// `{}`: a policy with neither `drop` nor `constant`, which never retries.
    Empty,
}

impl FailurePolicy {
    /// The Scheduler's default when none is given: constant, 1 s, 3 retries.
    pub fn default_policy() -> Self {
        FailurePolicy::Constant {
            interval: Some(super::timefmt::SECOND),
            max_retries: Some(3),
        }
    }
}

/// The decoded `JobHTTPRequest`; `None` = the field was absent (or `null`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct JobBody {
    /// The `name` key, which must be absent or empty (the name is in the URL).
    pub name: Option<String>,
    pub schedule: Option<String>,
    pub repeats: Option<u32>,
    pub due_time: Option<String>,
    pub ttl: Option<String>,
    /// Any JSON value, `null` included (a `google.protobuf.Value`).
    pub data: Option<Value>,
    pub overwrite: bool,
    pub failure_policy: Option<FailurePolicy>,
}

/// The value of the field known by `camel` or `snake` (both present is an error, as
/// protojson refuses a field given twice). `null` counts as absent.
fn take<'a>(
    obj: &'a Map<String, Value>,
    camel: &str,
    snake: &str,
) -> Result<Option<&'a Value>, String> {
    let a = obj.get(camel);
    let b = if camel == snake { None } else { obj.get(snake) };
    match (a, b) {
        (Some(_), Some(_)) => Err(format!("duplicate field {snake:?}")),
        (v, None) | (None, v) => Ok(v.filter(|v| !v.is_null())),
    }
}

fn string(v: Option<&Value>, field: &str) -> Result<Option<String>, String> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("invalid value for string field {field}: {other}")),
    }
}

/// protojson's uint32: a JSON number or a string holding one, integral, 0..=2^32-1.
fn uint32(v: Option<&Value>, field: &str) -> Result<Option<u32>, String> {
    let bad = |v: &Value| format!("invalid value for uint32 field {field}: {v}");
    let Some(v) = v else { return Ok(None) };
    let number = match v {
        Value::Number(n) => n.clone(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Number(n))
                if !s.starts_with(char::is_whitespace) && !s.ends_with(char::is_whitespace) =>
            {
                n
            }
            _ => return Err(bad(v)),
        },
        _ => return Err(bad(v)),
    };
    if let Some(u) = number.as_u64() {
        return u32::try_from(u).map(Some).map_err(|_| bad(v));
    }
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => {
            Ok(Some(f as u32))
        }
        _ => Err(bad(v)),
    }
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("invalid value for message field {field}: {v}"))
}

fn failure_policy(v: Option<&Value>) -> Result<Option<FailurePolicy>, String> {
    let Some(v) = v else { return Ok(None) };
    let obj = object(v, "failurePolicy")?;
    let drop = take(obj, "drop", "drop")?;
    let constant = take(obj, "constant", "constant")?;
    match (drop, constant) {
        (Some(_), Some(_)) => Err("error parsing \"constant\", oneof dapr.proto.common.v1.JobFailurePolicy.policy is already set".into()),
        (Some(d), None) => {
            object(d, "drop")?;
            Ok(Some(FailurePolicy::Drop))
        }
        (None, Some(c)) => {
            let c = object(c, "constant")?;
            let interval = match take(c, "interval", "interval")? {
                None => None,
                Some(Value::String(s)) => Some(
                    parse_proto_duration(s)
                        .ok_or_else(|| format!("invalid google.protobuf.Duration value {s:?}"))?,
                ),
                Some(other) => return Err(format!("invalid google.protobuf.Duration value {other}")),
            };
            let max_retries = uint32(take(c, "maxRetries", "max_retries")?, "max_retries")?;
            Ok(Some(FailurePolicy::Constant { interval, max_retries }))
        }
        // An empty policy object is a policy all the same: the default does not apply.
        (None, None) => Ok(Some(FailurePolicy::Empty)),
    }
}

/// Any JSON document, refused when an object repeats a key (protojson refuses a field or
/// map key given twice; serde_json would keep the last).
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeysVisitor)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<NoDuplicateKeys, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(NoDuplicateKeys)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<NoDuplicateKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<NoDuplicateKeys>()?;
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate field {key:?}")));
            }
        }
        Ok(NoDuplicateKeys)
    }
}

/// Decodes the body; an empty body is the empty message. The error is protojson's reason,
/// for `failed deserializing HTTP body: …`.
pub(crate) fn decode(body: &[u8]) -> Result<JobBody, String> {
    if body.is_empty() {
        return Ok(JobBody::default());
    }
    serde_json::from_slice::<NoDuplicateKeys>(body)
        .map_err(|e| format!("proto: syntax error: {e}"))?;
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("proto: syntax error: {e}"))?;
    let obj = match &v {
        Value::Object(o) => o,
        other => return Err(format!("proto: unexpected token {other}")),
    };
    let p = |e: String| format!("proto: {e}");
    Ok(JobBody {
        name: string(take(obj, "name", "name")?, "name").map_err(p)?,
        schedule: string(take(obj, "schedule", "schedule")?, "schedule").map_err(p)?,
        repeats: uint32(take(obj, "repeats", "repeats")?, "repeats").map_err(p)?,
        due_time: string(take(obj, "dueTime", "due_time")?, "due_time").map_err(p)?,
        ttl: string(take(obj, "ttl", "ttl")?, "ttl").map_err(p)?,
        // `data: null` is a Value holding null, so it is kept.
        data: obj.get("data").cloned(),
        overwrite: match take(obj, "overwrite", "overwrite")? {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(p(format!(
                    "invalid value for bool field overwrite: {other}"
                )));
            }
        },
        failure_policy: failure_policy(take(obj, "failurePolicy", "failure_policy")?).map_err(p)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_body_is_the_empty_message() {
        assert_eq!(decode(b"").unwrap(), JobBody::default());
        assert_eq!(decode(b"{}").unwrap(), JobBody::default());
    }

    #[test]
    fn lower_camel_and_snake_case_keys() {
        let camel = decode(br#"{"schedule":"@every 1s","repeats":2,"dueTime":"1s","ttl":"1m","data":{"a":1},"overwrite":true,"failurePolicy":{"constant":{"interval":"0.5s","maxRetries":1}}}"#).unwrap();
        let snake = decode(br#"{"schedule":"@every 1s","repeats":2,"due_time":"1s","ttl":"1m","data":{"a":1},"overwrite":true,"failure_policy":{"constant":{"interval":"0.5s","max_retries":1}}}"#).unwrap();
        assert_eq!(camel, snake);
        assert_eq!(camel.schedule.as_deref(), Some("@every 1s"));
        assert_eq!(camel.repeats, Some(2));
        assert_eq!(camel.due_time.as_deref(), Some("1s"));
        assert_eq!(camel.data, Some(json!({"a": 1})));
        assert!(camel.overwrite);
        assert_eq!(
            camel.failure_policy,
            Some(FailurePolicy::Constant {
                interval: Some(500_000_000),
                max_retries: Some(1)
            })
        );
    }

    #[test]
    fn mis_cased_and_unknown_keys_are_dropped() {
        let b = decode(br#"{"DueTime":"1s","Schedule":5,"failurepolicy":[],"extra":{"x":[1]}}"#)
            .unwrap();
        assert_eq!(b, JobBody::default());
    }

    #[test]
    fn repeats_is_a_uint32_as_number_or_string() {
        assert_eq!(decode(br#"{"repeats":"3"}"#).unwrap().repeats, Some(3));
        assert_eq!(decode(br#"{"repeats":3.0}"#).unwrap().repeats, Some(3));
        assert_eq!(
            decode(br#"{"repeats":4294967295}"#).unwrap().repeats,
            Some(u32::MAX)
        );
        assert_eq!(decode(br#"{"repeats":null}"#).unwrap().repeats, None);
        for bad in [
            r#"{"repeats":-1}"#,
            r#"{"repeats":1.5}"#,
            r#"{"repeats":4294967296}"#,
            r#"{"repeats":"x"}"#,
            r#"{"repeats":" 3"}"#,
            r#"{"repeats":true}"#,
            r#"{"repeats":[1]}"#,
        ] {
            let e = decode(bad.as_bytes()).unwrap_err();
            assert!(e.contains("uint32 field repeats"), "{bad}: {e}");
        }
    }

    #[test]
    fn wrong_types_are_errors() {
        for bad in [
            r#"[{}]"#,
            r#""job""#,
            r#"{"schedule":5}"#,
            r#"{"dueTime":true}"#,
            r#"{"overwrite":"true"}"#,
            r#"{"failurePolicy":"drop"}"#,
            r#"{"failurePolicy":{"drop":1}}"#,
            r#"{"failurePolicy":{"drop":{},"constant":{}}}"#,
            r#"{"failurePolicy":{"constant":{"interval":"1m"}}}"#,
            r#"{"failurePolicy":{"constant":{"interval":1}}}"#,
            r#"{"failurePolicy":{"constant":{"maxRetries":-1}}}"#,
            r#"{"dueTime":"1s","due_time":"2s"}"#,
            r#"{"dueTime":"1s","dueTime":"2s"}"#,
            r#"{"data":{"a":1,"a":2},"dueTime":"1s"}"#,
            r#"{"failurePolicy":{"constant":{"interval":"1s","interval":"2s"}}}"#,
            r#"{"schedule":"@daily""#,
            "not json",
        ] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn data_keeps_any_value_even_null() {
        assert_eq!(
            decode(br#"{"data":"hello"}"#).unwrap().data,
            Some(json!("hello"))
        );
        assert_eq!(decode(br#"{"data":123}"#).unwrap().data, Some(json!(123)));
        assert_eq!(decode(br#"{"data":null}"#).unwrap().data, Some(Value::Null));
        assert_eq!(decode(br#"{}"#).unwrap().data, None);
    }

    #[test]
    fn name_and_policies() {
        assert_eq!(
            decode(br#"{"name":"x"}"#).unwrap().name.as_deref(),
            Some("x")
        );
        assert_eq!(
            decode(br#"{"failurePolicy":{"drop":{}}}"#)
                .unwrap()
                .failure_policy,
            Some(FailurePolicy::Drop)
        );
        assert_eq!(
            decode(br#"{"failurePolicy":{"constant":{}}}"#)
                .unwrap()
                .failure_policy,
            Some(FailurePolicy::Constant {
                interval: None,
                max_retries: None
            })
        );
        assert_eq!(
            decode(br#"{"failurePolicy":{}}"#).unwrap().failure_policy,
            Some(FailurePolicy::Empty)
        );
        assert_eq!(
            decode(br#"{"failurePolicy":null}"#).unwrap().failure_policy,
            None
        );
    }
}
