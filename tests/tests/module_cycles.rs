//! No import cycles between the modules (files) of any crate of the workspace.
//!
//! Two modules that use each other cannot be read, tested or moved one at a time. This test reads
//! every `.rs` file under each crate's `src/`, collects the `crate::`, `super::` and `self::`
//! paths it uses (in `use` trees and inline), resolves each to the module that defines the item
//! (following `pub use` re-exports down to the child module that holds it), and fails on every
//! strongly connected component of more than one module, naming the lines that close it. Edges
//! between a module and its own ancestors are left out: a parent declares and re-exports its
//! children, and children use their parent's shared types, by design. `lexicons/` is generated
//! code and left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The crates checked, by folder.
const CRATES: &[&str] =
    &["atproto", "codegen", "store", "indexer", "appview", "deploy/dev", "tests", "bench/gen"];

type Module = Vec<String>;

/// A path a `use` tree names, and the name it binds.
type UsePath = (Vec<String>, String);

/// One `use` statement: its line, whether it is `pub` (a re-export), and its paths.
type UseStatement = (usize, bool, Vec<UsePath>);

/// One crate's modules: module path → file, and each module's re-exports (name → module).
struct Crate {
    files: BTreeMap<Module, PathBuf>,
    reexports: BTreeMap<Module, BTreeMap<String, Module>>,
}

/// The module path of `file` under `src`, or `None` for a separate crate root (`src/bin/`).
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    let last = parts.pop()?;
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "lib" | "main" | "mod") || !parts.is_empty() && stem != "mod" {
        parts.push(stem.to_owned());
    }
    Some(parts)
}

/// The source without comments and string literals (doc links and messages are not imports),
/// keeping line breaks so line numbers stay right.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            // A char literal such as '"' or '{' (lifetimes have no closing quote nearby).
            '\'' => {
                let ahead: String = chars.clone().take(3).collect();
                let len = if ahead.starts_with('\\') {
                    ahead.find('\'').map(|i| i + 1)
                } else {
                    (ahead.chars().nth(1) == Some('\'')).then_some(2)
                };
                match len {
                    Some(n) => {
                        for _ in 0..n {
                            chars.next();
                        }
                        out.push_str("' '");
                    }
                    None => out.push('\''),
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Expands a `use` tree (`a::{b, c::{d as e}}`) into full paths, each with the name it binds.
fn expand_tree(tree: &str, prefix: &[String], out: &mut Vec<UsePath>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> =
            tree[..open].split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        let mut base = prefix.to_vec();
        base.extend(head);
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_tree(&inner[start..i], &base, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand_tree(&inner[start..], &base, out);
        return;
    }
    if tree.is_empty() {
        return;
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((p, a)) => (p.trim(), Some(a.trim().to_owned())),
        None => (tree, None),
    };
    let mut full = prefix.to_vec();
    full.extend(path.split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned));
    let name = alias.or_else(|| full.last().cloned()).unwrap_or_default();
    out.push((full, name));
}

/// Every `use` statement of `code`: (line, is it `pub`, expanded paths).
fn use_statements(code: &str) -> Vec<UseStatement> {
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(at) = code[search..].find("use ") {
        let start = search + at;
        search = start + 4;
        let before = &code[..start];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let lead = before[line_start..].trim();
        let is_pub = lead.starts_with("pub");
        if !(lead.is_empty() || lead.starts_with("pub")) {
            continue;
        }
        let Some(end) = code[start..].find(';') else { break };
        let mut paths = Vec::new();
        expand_tree(&code[start + 4..start + end], &[], &mut paths);
        found.push((before.matches('\n').count() + 1, is_pub, paths));
        search = start + end;
    }
    found
}

/// Inline paths starting with `crate::`, `super::` or `self::` outside `use` statements.
fn inline_paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("use ")
            || trimmed.starts_with("pub use ")
            || trimmed.starts_with("pub(crate) use ")
        {
            continue;
        }
        for head in ["crate::", "super::", "self::"] {
            let mut rest = line;
            while let Some(at) = rest.find(head) {
                let boundary =
                    rest[..at].chars().last().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'));
                let tail = &rest[at..];
                let len =
                    tail.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(tail.len());
                if boundary {
                    let path: Vec<String> =
                        tail[..len].split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect();
                    found.push((n + 1, path));
                }
                rest = &tail[len.max(1)..];
            }
        }
    }
    found
}

/// `path` as written in module `from`, made absolute; `None` for another crate's path.
fn absolute(from: &Module, path: &[String], children: &BTreeSet<Module>) -> Option<Vec<String>> {
    let mut base = from.clone();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some(first) => {
            // A 2018-edition relative path: only a child module of `from` is ours.
            let mut child = from.clone();
            child.push(first.to_owned());
            if !children.contains(&child) {
                return None;
            }
        }
        None => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

impl Crate {
    /// The module that holds the item `path` names (following re-exports), if it is ours.
    fn resolve(&self, path: &[String]) -> Option<Module> {
        let mut module: Module = Vec::new();
        for (i, segment) in path.iter().enumerate() {
            let mut next = module.clone();
            next.push(segment.clone());
            if self.files.contains_key(&next) {
                module = next;
                continue;
            }
            // Not a module: an item of `module`, maybe re-exported from a child.
            let mut seen = 0;
            while let Some(target) = self.reexports.get(&module).and_then(|r| r.get(&path[i])) {
                if target == &module || seen > 8 {
                    break;
                }
                module = target.clone();
                seen += 1;
            }
            return Some(module);
        }
        Some(module)
    }
}

fn is_ancestor(a: &Module, b: &Module) -> bool {
    a.len() <= b.len() && b[..a.len()] == a[..]
}

/// Tarjan's strongly connected components.
fn components(nodes: &[Module], edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on_stack: BTreeSet<Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit(s: &mut State<'_>, v: &Module) {
        let i = s.index.len();
        s.index.insert(v.clone(), i);
        s.low.insert(v.clone(), i);
        s.stack.push(v.clone());
        s.on_stack.insert(v.clone());
        for w in s.edges.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let low = s.low[v].min(s.low[&w]);
                s.low.insert(v.clone(), low);
            } else if s.on_stack.contains(&w) {
                let low = s.low[v].min(s.index[&w]);
                s.low.insert(v.clone(), low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(&w);
                let done = &w == v;
                component.push(w);
                if done {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in nodes {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.out
}

/// One cycle: its modules, and a description naming the lines that make it.
struct Cycle {
    modules: BTreeSet<String>,
    text: String,
}

/// The cycles of one crate.
fn cycles_in(root: &Path) -> Vec<Cycle> {
    let src = root.join("src");
    let mut paths = Vec::new();
    plyr_e2e::rust_files(&src, &mut paths);
    let mut files = BTreeMap::new();
    let mut codes = BTreeMap::new();
    for path in paths {
        let Some(module) = module_of(&src, &path) else { continue };
        let source = fs::read_to_string(&path).expect("readable source file");
        codes.insert(module.clone(), code_only(&source));
        files.insert(module, path);
    }
    let modules: BTreeSet<Module> = files.keys().cloned().collect();
    let mut krate = Crate { files, reexports: BTreeMap::new() };
    for (module, code) in &codes {
        for (_, is_pub, paths) in use_statements(code) {
            if !is_pub {
                continue;
            }
            for (path, name) in paths {
                let Some(abs) = absolute(module, &path, &modules) else { continue };
                let target: Module = (0..=abs.len())
                    .rev()
                    .map(|n| abs[..n].to_vec())
                    .find(|m| modules.contains(m))
                    .unwrap_or_default();
                krate.reexports.entry(module.clone()).or_default().insert(name, target);
            }
        }
    }
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let mut evidence: BTreeMap<(Module, Module), String> = BTreeMap::new();
    for (module, code) in &codes {
        let used = use_statements(code)
            .into_iter()
            .flat_map(|(line, _, paths)| paths.into_iter().map(move |(p, _)| (line, p)))
            .chain(inline_paths(code));
        for (line, path) in used {
            let Some(abs) = absolute(module, &path, &modules) else { continue };
            let Some(target) = krate.resolve(&abs) else { continue };
            if is_ancestor(&target, module) || is_ancestor(module, &target) {
                continue;
            }
            edges.entry(module.clone()).or_default().insert(target.clone());
            evidence.entry((module.clone(), target)).or_insert_with(|| {
                format!("{}:{line} uses {}", krate.files[module].display(), path.join("::"))
            });
        }
    }
    let nodes: Vec<Module> = modules.iter().cloned().collect();
    components(&nodes, &edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|component| {
            let members: BTreeSet<&Module> = component.iter().collect();
            let mut lines: Vec<String> = evidence
                .iter()
                .filter(|((a, b), _)| members.contains(a) && members.contains(b))
                .map(|(_, e)| format!("    {e}"))
                .collect();
            lines.sort();
            let modules: BTreeSet<String> =
                component.iter().map(|m| format!("crate::{}", m.join("::"))).collect();
            let names: Vec<&str> = modules.iter().map(String::as_str).collect();
            Cycle {
                text: format!("{}: {}\n{}", root.display(), names.join(" <-> "), lines.join("\n")),
                modules,
            }
        })
        .collect()
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let workspace = plyr_e2e::repo_root();
    let cycles: Vec<String> =
        CRATES.iter().flat_map(|c| cycles_in(&workspace.join(c))).map(|c| c.text).collect();
    assert!(cycles.is_empty(), "import cycles between modules:\n{}", cycles.join("\n\n"));
}

#[test]
fn the_check_finds_a_cycle_and_follows_re_exports() {
    let dir = std::env::temp_dir().join(format!("plyr-cycles-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(src.join("net")).expect("temp dir");
    let write = |name: &str, text: &str| fs::write(src.join(name), text).expect("temp file");
    write("lib.rs", "pub mod net;\npub mod cli;\npub mod config;\n");
    // cli -> net::Client (re-exported from net/client.rs) -> config::Options -> cli::writer.
    write("net/mod.rs", "mod client;\npub use client::Client;\n");
    write("net/client.rs", "use crate::config::Options;\npub struct Client;\n");
    write(
        "config.rs",
        "// crate::cli in a comment is not a use\npub struct Options;\nfn f() { crate::cli::writer(); }\n",
    );
    write("cli.rs", "use crate::{net::Client, config::Options};\npub fn writer() {}\n");
    let found = cycles_in(&dir);
    fs::remove_dir_all(&dir).expect("clean up");
    let texts: Vec<&str> = found.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(found.len(), 1, "{texts:?}");
    let want: BTreeSet<String> =
        ["crate::cli", "crate::config", "crate::net::client"].into_iter().map(str::to_owned).collect();
    assert_eq!(found[0].modules, want, "{}", found[0].text);
    assert!(found[0].text.contains("config.rs:3 uses crate::cli::writer"), "{}", found[0].text);
}
