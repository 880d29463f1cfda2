//! Imports run one way (docs/architecture.md, "Layers"): every top-level module of `src/`
//! names only modules of a lower layer through `crate::`. Read from the source itself, so a
//! new import against the walk fails here with the file that makes it.
#![allow(clippy::unwrap_used)] // test code: a panic is a failure with its message
#![allow(
    clippy::too_many_lines,
    clippy::float_cmp,
    clippy::default_trait_access
)] // a test reads top to bottom, compares the exact values it expects and takes the defaults its calls need

use std::collections::BTreeSet;
use std::path::Path;

/// The layers, lowest first; a module may use those of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["model", "geodesy", "assets"],
    &["io", "config"],
    &["ingest", "generate"],
    &["store"],
    &["error"],
    &["analytics", "filter"],
    &["tile"],
    &["planner", "serving"],
    &["http"],
    &["lib", "main"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The source without comments and without its `#[cfg(test)] mod tests` (tests may reach
/// anywhere).
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules named through `crate::` (`crate::x::…` and `crate::{x, y}`).
fn named(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            for part in group.split(',') {
                out.insert(ident(part.trim()));
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn modules_import_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    assert!(all.len() > 50, "read {} files of src/", all.len());
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for path in &all {
        let rel = path.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        let from = layer_of(&top).unwrap_or_else(|| {
            panic!(
                "src/{} is in no layer: add `{top}` to LAYERS",
                rel.display()
            )
        });
        let code = code_of(&std::fs::read_to_string(path).unwrap());
        for m in named(&code) {
            let Some(to) = layer_of(&m) else { continue };
            seen.insert((top.clone(), m.clone()));
            if m != top && to >= from {
                wrong.push(format!("src/{} uses crate::{m}", rel.display()));
            }
        }
    }
    // The check reads what it should: known imports are found.
    for (a, b) in [
        ("store", "model"),
        ("http", "serving"),
        ("tile", "analytics"),
    ] {
        assert!(seen.contains(&(a.into(), b.into())), "{a} -> {b} not found");
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers (docs/architecture.md):\n{}",
        wrong.join("\n")
    );
}
