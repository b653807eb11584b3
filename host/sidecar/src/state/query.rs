//! The state query API (alpha) over a scanned key set: EQ/IN/AND/OR filters, sort, paging.

use std::cmp::Ordering;

use serde_json::Value;

/// A parsed query body.
#[derive(Debug, serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct Query {
    pub filter: Option<Value>,
    pub sort: Vec<SortKey>,
    pub page: Page,
}

/// One `sort` entry.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct SortKey {
    pub key: String,
    #[serde(default)]
    pub order: Option<String>,
}

/// `page`: `limit` (0 = all) and an opaque `token` (here: the offset).
#[derive(Debug, serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct Page {
    pub limit: u64,
    pub token: Option<String>,
}

/// A row going into or out of a query: plain key, parsed value, etag.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub key: String,
    pub value: Value,
    pub etag: String,
}

/// The value at a dotted path; a leading `value.` is accepted too.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let walk = |p: &str| p.split('.').try_fold(value, |v, part| v.get(part));
    walk(path).or_else(|| path.strip_prefix("value.").and_then(walk))
}

fn matches(filter: &Value, row: &Row) -> Result<bool, String> {
    let obj = filter.as_object().ok_or("a filter must be an object")?;
    if obj.is_empty() {
        return Ok(true);
    }
    if obj.len() != 1 {
        return Err("a filter object must have exactly one operator (EQ, IN, AND, OR)".into());
    }
    let Some((op, arg)) = obj.iter().next() else {
        return Ok(true);
    };
    let single = |arg: &Value| -> Result<(String, Value), String> {
        let m = arg
            .as_object()
            .filter(|m| m.len() == 1)
            .ok_or(format!("{op} takes one {{\"path\": value}}"))?;
        let (k, v) = m
            .iter()
            .next()
            .ok_or(format!("{op} takes one {{\"path\": value}}"))?;
        Ok((k.clone(), v.clone()))
    };
    match op.as_str() {
        "EQ" => {
            let (path, want) = single(arg)?;
            Ok(lookup(&row.value, &path) == Some(&want))
        }
        "IN" => {
            let (path, want) = single(arg)?;
            let list = want.as_array().ok_or("IN takes a list of values")?;
            Ok(lookup(&row.value, &path).is_some_and(|v| list.contains(v)))
        }
        "AND" | "OR" => {
            let list = arg
                .as_array()
                .filter(|l| l.len() >= 2)
                .ok_or(format!("{op} takes a list of at least two filters"))?;
            let mut results = list.iter().map(|f| matches(f, row));
            if op == "AND" {
                results.try_fold(true, |acc, r| r.map(|b| acc && b))
            } else {
                results.try_fold(false, |acc, r| r.map(|b| acc || b))
            }
        }
        other => Err(format!(
            "unsupported filter operator {other:?} (supported: EQ, IN, AND, OR)"
        )),
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

/// Runs the query over `rows` (sorted by key). Returns the page and the next token.
pub(crate) fn run(query: &Query, mut rows: Vec<Row>) -> Result<(Vec<Row>, Option<String>), String> {
    if let Some(filter) = &query.filter {
        let mut kept = Vec::new();
        for row in rows {
            if matches(filter, &row)? {
                kept.push(row);
            }
        }
        rows = kept;
    }
    for s in &query.sort {
        match s.order.as_deref() {
            None | Some("") | Some("ASC") | Some("DESC") => {}
            Some(o) => return Err(format!("sort order {o:?} must be ASC or DESC")),
        }
    }
    if !query.sort.is_empty() {
        rows.sort_by(|a, b| {
            for s in &query.sort {
                let ord = compare(lookup(&a.value, &s.key), lookup(&b.value, &s.key));
                let ord = if s.order.as_deref() == Some("DESC") {
                    ord.reverse()
                } else {
                    ord
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }
    let start = match query.page.token.as_deref().filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| format!("invalid page token {t:?}"))?,
    };
    let total = rows.len();
    let mut page: Vec<Row> = rows.into_iter().skip(start).collect();
    let mut token = None;
    if query.page.limit > 0 {
        let limit = usize::try_from(query.page.limit).unwrap_or(usize::MAX);
        if page.len() > limit {
            page.truncate(limit);
            token = Some((start + limit).to_string());
        } else if start + page.len() < total {
            token = Some((start + page.len()).to_string());
        }
    }
    Ok((page, token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Row> {
        [
            ("a", json!({"n": 3, "c": "x"})),
            ("b", json!({"n": 1, "c": "y"})),
            ("c", json!({"n": 2, "c": "x"})),
        ]
        .into_iter()
        .map(|(k, v)| Row {
            key: k.into(),
            value: v,
            etag: "1".into(),
        })
        .collect()
    }

    fn keys(q: Value) -> Result<(Vec<String>, Option<String>), String> {
        let q: Query = serde_json::from_value(q).map_err(|e| e.to_string())?;
        run(&q, rows()).map(|(r, t)| (r.into_iter().map(|r| r.key).collect(), t))
    }

    #[test]
    fn filters_sort_and_pages() {
        assert_eq!(
            keys(json!({"filter": {"EQ": {"c": "x"}}}))
                .unwrap_or_default()
                .0,
            ["a", "c"]
        );
        assert_eq!(
            keys(json!({"filter": {"IN": {"value.n": [1, 2]}}}))
                .unwrap_or_default()
                .0,
            ["b", "c"]
        );
        assert_eq!(
            keys(json!({"filter": {"OR": [{"EQ": {"n": 1}}, {"EQ": {"n": 3}}]}, "sort": [{"key": "n", "order": "DESC"}]}))
                .unwrap_or_default()
                .0,
            ["a", "b"]
        );
        assert_eq!(
            keys(json!({"sort": [{"key": "n"}], "page": {"limit": 2}})).unwrap_or_default(),
            (vec!["b".into(), "c".into()], Some("2".into()))
        );
        assert_eq!(
            keys(json!({"sort": [{"key": "n"}], "page": {"limit": 2, "token": "2"}}))
                .unwrap_or_default()
                .0,
            ["a"]
        );
    }

    #[test]
    fn bad_filters_are_errors() {
        assert!(keys(json!({"filter": {"GT": {"n": 1}}})).is_err());
        assert!(keys(json!({"filter": {"AND": [{"EQ": {"n": 1}}]}})).is_err());
        assert!(keys(json!({"filter": "x"})).is_err());
        assert!(keys(json!({"page": {"token": "zz"}})).is_err());
    }
}
