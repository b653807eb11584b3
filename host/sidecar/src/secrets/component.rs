//! The `secretstores.local.file` store: a JSON file read once at startup, nested keys
//! flattened with `nestedSeparator`, optionally multi-valued.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::components::ComponentSpec;
use crate::error::SidecarError;

/// A loaded secret store: secret name → (key → value).
#[derive(Debug)]
pub(crate) struct SecretStore {
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
}

/// Resolves `secretsFile`: absolute as is; relative to the working directory if it exists
/// there, else relative to the component file's folder.
fn resolve(spec: &ComponentSpec, file: &str) -> PathBuf {
    let p = PathBuf::from(file);
    if p.is_absolute() || p.exists() {
        return p;
    }
    match spec.dir() {
        Some(dir) => dir.join(p),
        None => p,
    }
}

fn flatten(prefix: &str, sep: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}{sep}{k}")
                };
                flatten(&key, sep, v, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        Value::Null => {
            out.insert(prefix.to_string(), String::new());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

impl SecretStore {
    /// Reads the JSON file named by `secretsFile` once, at startup.
    pub fn from_spec(spec: &ComponentSpec) -> Result<Self, SidecarError> {
        let file = spec
            .meta("secretsFile")
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                spec.init_error("metadata secretsFile is required (a path to a JSON file)")
            })?;
        let sep = spec
            .meta("nestedSeparator")
            .filter(|s| !s.is_empty())
            .unwrap_or(":")
            .to_string();
        let multi = spec.meta_bool("multiValued", false)?;
        let path = resolve(spec, file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| spec.init_error(format!("reading secretsFile {}: {e}", path.display())))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| {
            spec.init_error(format!(
                "secretsFile {} is not valid JSON: {e}",
                path.display()
            ))
        })?;
        let Value::Object(top) = doc else {
            return Err(spec.init_error(format!(
                "secretsFile {} must hold a JSON object",
                path.display()
            )));
        };
        let mut secrets = BTreeMap::new();
        if multi {
            for (name, value) in &top {
                let mut keys = BTreeMap::new();
                match value {
                    Value::Object(_) => flatten("", &sep, value, &mut keys),
                    other => flatten(name, &sep, other, &mut keys),
                }
                secrets.insert(name.clone(), keys);
            }
        } else {
            let mut flat = BTreeMap::new();
            flatten("", &sep, &Value::Object(top), &mut flat);
            for (k, v) in flat {
                secrets.insert(k.clone(), BTreeMap::from([(k, v)]));
            }
        }
        Ok(SecretStore { secrets })
    }
}
