//! Decoding bodies the way daprd's Go `encoding/json` does: object keys name struct fields case-insensitively.

use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess};
use serde_json::{Map, Value};

/// How Go decodes one value: the part of a Go type that key matching depends on.
#[derive(Debug)]
pub(crate) enum Shape {
    /// A scalar, `any`, or a slice of scalars: decoded as is; a repeated key replaces it.
    Plain,
    /// `map[string]T`: keys kept exactly; a repeated key merges into the map.
    Map,
    /// A struct with these fields (canonical JSON names).
    Struct(&'static [(&'static str, Shape)]),
    /// A slice of this shape.
    List(&'static Shape),
}

/// Go's `foldName` of one character, for comparison with an ASCII field name.
fn upper(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Whether a JSON key names the field `name` under Go's rules (exact or folded).
pub(crate) fn key_matches(key: &str, name: &str) -> bool {
    key == name
        || (key.chars().count() == name.chars().count()
            && key
                .chars()
                .zip(name.chars())
                .all(|(k, n)| upper(k) == upper(n)))
}

/// The field a key names: exact match first, then folded.
fn field_for<'s>(
    fields: &'s [(&'static str, Shape)],
    key: &str,
) -> Option<&'s (&'static str, Shape)> {
    fields
        .iter()
        .find(|(n, _)| *n == key)
        .or_else(|| fields.iter().find(|(n, _)| key_matches(key, n)))
}

/// Stores `value` as field `name` of `out`, the way Go decodes a repeated field.
fn assign(out: &mut Map<String, Value>, name: &str, shape: &Shape, value: Value) {
    if value.is_null() {
        return;
    }
    if let Some(Value::Object(old)) = out.get_mut(name)
        && let Value::Object(new) = &value
    {
        match shape {
            Shape::Map => {
                old.extend(new.clone());
                return;
            }
            Shape::Struct(fields) => {
                for (k, v) in new {
                    if let Some((n, s)) = field_for(fields, k) {
                        assign(old, n, s, v.clone());
                    }
                }
                return;
            }
            Shape::Plain | Shape::List(_) => {}
        }
    }
    out.insert(name.to_string(), value);
}

/// Decodes one value of `shape`, re-keying structs to their canonical field names.
struct Seed<'a>(&'a Shape);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            Shape::Plain | Shape::Map => de::Deserialize::deserialize(d),
            Shape::Struct(_) | Shape::List(_) => d.deserialize_any(Visit(self.0)),
        }
    }
}

/// The visitor of a struct or list: a value of another kind is refused here, as Go does
/// (serde's derive would take an array for a struct); maps and scalars are checked by the
/// typed decoding after.
struct Visit<'a>(&'a Shape);

impl Visit<'_> {
    /// Go refuses a scalar where it decodes into a struct, a map or a slice
    /// ("cannot unmarshal number into Go value of type …").
    fn scalar<E: de::Error>(&self, got: de::Unexpected<'_>) -> Result<(), E> {
        match self.0 {
            Shape::Plain => Ok(()),
            _ => Err(E::invalid_type(got, self)),
        }
    }
}

impl<'de> de::Visitor<'de> for Visit<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Shape::Plain => "a JSON value",
            Shape::Map => "a JSON object of values",
            Shape::Struct(_) => "a JSON object",
            Shape::List(_) => "a JSON array",
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.scalar(de::Unexpected::Bool(v))?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.scalar(de::Unexpected::Signed(v))?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.scalar(de::Unexpected::Unsigned(v))?;
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.scalar(de::Unexpected::Float(v))?;
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.scalar(de::Unexpected::Str(v))?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.scalar(de::Unexpected::Str(&v))?;
        Ok(Value::String(v))
    }

    /// Go decodes `null` into a slice as an empty (nil) slice and into a struct as nothing
    /// (the zero struct).
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(match self.0 {
            Shape::List(_) => Value::Array(Vec::new()),
            Shape::Struct(_) => Value::Object(Map::new()),
            Shape::Plain | Shape::Map => Value::Null,
        })
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = match self.0 {
            Shape::List(inner) => *inner,
            Shape::Plain => &Shape::Plain,
            Shape::Map | Shape::Struct(_) => {
                return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
            }
        };
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed(inner))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        if let Shape::List(_) = self.0 {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        let Shape::Struct(fields) = self.0 else {
            while let Some((k, v)) = map.next_entry::<String, Value>()? {
                out.insert(k, v);
            }
            return Ok(Value::Object(out));
        };
        while let Some(key) = map.next_key::<String>()? {
            match field_for(fields, &key) {
                Some((name, shape)) => {
                    let v = map.next_value_seed(Seed(shape))?;
                    assign(&mut out, name, shape, v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// The first JSON value of `body`, its object keys re-keyed to the field names of `shape`.
pub(crate) fn to_value(body: &[u8], shape: &Shape) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Seed(shape).deserialize(&mut de)
}

/// Decodes `body` as Go's `json.NewDecoder(body).Decode(&v)` would into a Go type of `shape`.
///
/// Go matches each key of a JSON object to a struct field by its exact name first, else
/// by its folded name (`foldName`: ASCII letters upper-cased, other characters
/// `unicode.ToUpper`, so `ſ` matches `s` but the Kelvin sign does not match `k`). Keys that
/// name no field are ignored. A field named twice (`entryId` then `EntryID`) keeps the last
/// value, except that maps and nested structs are decoded into the value already there,
/// so their entries merge. A `null` leaves a field as it was; a `null` slice is empty and
/// a `null` struct is the zero struct. `json.Decoder` reads one value, so bytes after it
/// are not looked at. The body is re-keyed to the canonical names in one pass (document
/// order kept, which `serde_json::Value` would lose), then decoded by serde's exact names.
pub(crate) fn from_slice<T: DeserializeOwned>(
    body: &[u8],
    shape: &Shape,
) -> Result<T, serde_json::Error> {
    serde_json::from_value(to_value(body, shape)?)
}

/// A struct field for [`mapstructure`]: JSON name, Go field name, and a nested struct's
/// fields as (JSON name, Go name) pairs (empty for a plain field).
pub(crate) type GoField = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Decodes a Go `any` (already a JSON value) into a struct with `mapstructure.Decode`, as
/// daprd does for a transaction's `request`: each `(json name, Go field name, shape)` takes
/// the key equal to the Go field name (`ETag`), else a key equal to it ignoring case (Go
/// picks one in map order; here the first in key order). Keys of nested structs the same.
pub(crate) fn mapstructure(value: Value, fields: &[GoField]) -> Value {
    let Value::Object(mut obj) = value else {
        return value;
    };
    let mut out = Map::new();
    for (json_name, go_name, nested) in fields {
        let key = if obj.contains_key(*go_name) {
            Some(go_name.to_string())
        } else {
            obj.keys().find(|k| key_matches(k, go_name)).cloned()
        };
        let Some(v) = key.and_then(|k| obj.remove(&k)) else {
            continue;
        };
        let v = if nested.is_empty() {
            v
        } else {
            let inner: Vec<GoField> = nested.iter().map(|(j, g)| (*j, *g, &[][..])).collect();
            mapstructure(v, &inner)
        };
        if !v.is_null() {
            out.insert(json_name.to_string(), v);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OPTS: Shape =
        Shape::Struct(&[("concurrency", Shape::Plain), ("consistency", Shape::Plain)]);
    const ITEM: Shape = Shape::Struct(&[
        ("entryId", Shape::Plain),
        ("event", Shape::Plain),
        ("metadata", Shape::Map),
        ("options", OPTS),
    ]);
    const LIST: Shape = Shape::List(&ITEM);

    fn go(body: &str) -> Value {
        to_value(body.as_bytes(), &LIST).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    #[test]
    fn keys_fold_to_the_canonical_name() {
        assert_eq!(
            go(
                r#"[{"entryID":"a","EVENT":{"Inner":1},"Metadata":{"K":"v"},"OPTIONS":{"Concurrency":"first-write"}}]"#
            ),
            json!([{"entryId":"a","event":{"Inner":1},"metadata":{"K":"v"},"options":{"concurrency":"first-write"}}]),
            "struct keys fold, map keys and `any` values are kept as they are"
        );
        assert!(key_matches("entryId", "entryId"));
        assert!(key_matches("ENTRYID", "entryId"));
        assert!(key_matches("entryıd", "entryId"), "ı upper-cases to I");
        assert!(key_matches("ſtatus", "status"), "ſ upper-cases to S");
        assert!(
            !key_matches("\u{212A}ey", "key"),
            "the Kelvin sign stays itself in Go 1.21+"
        );
        assert!(!key_matches("entry_id", "entryId"));
        assert!(!key_matches("entryIdX", "entryId"));
    }

    #[test]
    fn the_last_key_wins_and_maps_and_structs_merge() {
        assert_eq!(go(r#"[{"entryId":"a","EntryId":"b"}]"#)[0]["entryId"], "b");
        assert_eq!(go(r#"[{"EntryId":"b","entryId":"a"}]"#)[0]["entryId"], "a");
        assert_eq!(
            go(r#"[{"metadata":{"a":"1","b":"1"},"METADATA":{"b":"2"}}]"#)[0]["metadata"],
            json!({"a":"1","b":"2"})
        );
        assert_eq!(
            go(r#"[{"options":{"concurrency":"x"},"Options":{"Consistency":"strong"}}]"#)[0]["options"],
            json!({"concurrency":"x","consistency":"strong"})
        );
        assert_eq!(go(r#"[{"entryId":"a","entryId":null}]"#)[0]["entryId"], "a");
        assert_eq!(
            go(r#"[{"unknown":1,"entryId":"a"}]"#),
            json!([{"entryId":"a"}])
        );
    }

    #[test]
    fn mapstructure_prefers_the_go_field_name() {
        const F: &[GoField] = &[
            ("key", "Key", &[]),
            ("etag", "ETag", &[]),
            ("options", "Options", &[("concurrency", "Concurrency")]),
        ];
        let v = mapstructure(
            json!({"key": "a", "Key": "b", "etag": "e", "OPTIONS": {"concurrency": "first-write"}, "other": 1}),
            F,
        );
        assert_eq!(
            v,
            json!({"key": "b", "etag": "e", "options": {"concurrency": "first-write"}})
        );
        assert_eq!(mapstructure(json!({"KEY": "k"}), F), json!({"key": "k"}));
        assert_eq!(
            mapstructure(json!("not an object"), F),
            json!("not an object")
        );
        assert_eq!(mapstructure(json!({"key_": "k"}), F), json!({}));
    }

    #[test]
    fn bad_input_and_wrong_kinds_are_errors() {
        for bad in ["", "[", "[{\"entryId\":}]", "{\"a\" 1}", "nul"] {
            assert!(to_value(bad.as_bytes(), &LIST).is_err(), "{bad:?}");
        }
        // One value is read, as json.Decoder does; what follows is not looked at.
        assert_eq!(go("[] trailing"), json!([]));
        // Go refuses a value of the wrong kind for a slice, a struct or a map (serde's derive
        // would take an array for a struct).
        for bad in [r#"{"entryID":"x"}"#, r#"["s", 1]"#, "[[1]]", "7"] {
            assert!(to_value(bad.as_bytes(), &LIST).is_err(), "{bad:?}");
        }
        assert_eq!(go("null"), json!([]), "null is an empty slice");
        assert_eq!(go("[null]"), json!([{}]), "and a zero struct");
        assert_eq!(
            go(r#"[{"options":{"concurrency":"x"},"Options":null}]"#)[0]["options"],
            json!({"concurrency":"x"})
        );
        #[derive(serde::Deserialize, Debug)]
        struct E {
            #[serde(rename = "entryId")]
            _id: String,
        }
        assert!(from_slice::<Vec<E>>(br#"[{"ENTRYID":"a"}]"#, &LIST).is_ok());
        assert!(from_slice::<Vec<E>>(br#"[{"ENTRYID":1}]"#, &LIST).is_err());
    }
}
