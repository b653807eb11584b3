//! The crate's files form layers: no file imports, directly or through others, a file that
//! imports it back. Read from the sources (`use crate::…` and `use super::…` lines).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, by module path (`state::store`, `lib` for the root).
fn modules() -> BTreeMap<String, PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .expect("under src")
                .with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The module a `use` path names: the longest prefix that is a file of the crate.
fn target(path: &str, modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| modules.contains_key(m))
        .or_else(|| Some("lib".to_string()))
}

/// The files each file imports (outside its `#[cfg(test)]` module).
fn imports(modules: &BTreeMap<String, PathBuf>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (name, path) in modules {
        let text = std::fs::read_to_string(path).expect("read source");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let is_dir_module = path.ends_with("mod.rs");
        let parent = if is_dir_module {
            name.clone()
        } else {
            name.rsplit_once("::")
                .map(|(p, _)| p.to_string())
                .unwrap_or_default()
        };
        let mut deps = BTreeSet::new();
        // `use` lines, possibly spanning lines until `;`.
        for stmt in code.split(';') {
            // From the line that starts the `use` (after comments, attributes, other items).
            let lines: Vec<&str> = stmt.lines().map(str::trim).collect();
            let Some(start) = lines.iter().position(|l| {
                l.starts_with("use ")
                    || l.starts_with("pub use ")
                    || l.starts_with("pub(crate) use ")
            }) else {
                continue;
            };
            let stmt = lines[start..].join(" ");
            let Some(rest) = stmt
                .strip_prefix("use ")
                .or_else(|| stmt.strip_prefix("pub use "))
                .or_else(|| stmt.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            let rest: String = rest.split_whitespace().collect();
            let full = if let Some(r) = rest.strip_prefix("crate::") {
                r.to_string()
            } else if let Some(r) = rest.strip_prefix("super::") {
                format!("{parent}::{r}")
                    .trim_start_matches("::")
                    .to_string()
            } else if let Some(first) = rest.split("::").next()
                && modules.contains_key(first)
                && name == "lib"
            {
                rest.clone()
            } else if is_dir_module
                && modules.contains_key(&format!(
                    "{name}::{}",
                    rest.split("::").next().unwrap_or_default()
                ))
            {
                format!("{name}::{rest}")
            } else {
                continue;
            };
            // `a::{b, c::d}` names several modules.
            let (base, group) = match full.split_once("::{") {
                Some((b, g)) => (b.to_string(), g.trim_end_matches('}').to_string()),
                None => (full.clone(), String::new()),
            };
            let mut paths = vec![base.clone()];
            for item in group.split(',').filter(|s| !s.is_empty()) {
                paths.push(format!("{base}::{}", item.trim_start_matches('{')));
            }
            for p in paths {
                if let Some(t) = target(&p, modules)
                    && t != *name
                {
                    deps.insert(t);
                }
            }
        }
        graph.insert(name.clone(), deps);
    }
    graph
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let modules = modules();
    assert!(modules.contains_key("api") && modules.contains_key("state::store"));
    let graph = imports(&modules);
    assert!(
        graph["state"].contains("ctx"),
        "the reader sees handler imports: {graph:#?}"
    );
    // Depth-first search for a cycle; report it as a path.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for dep in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(dep, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("circular imports: {}", cycle.join(" -> "));
        }
    }
    // The leaves use no other file of the crate.
    for leaf in ["api", "error", "options", "app"] {
        assert!(graph[leaf].is_empty(), "{leaf} imports {:?}", graph[leaf]);
    }
}
