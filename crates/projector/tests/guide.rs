//! `docs/embedding.md` cannot drift from code that compiles: every Rust snippet in it must
//! appear, line for line (indentation aside), in the example or the tests that run it, and the
//! features its dependency list names must exist.

use std::path::Path;

/// The compiled files the guide quotes from.
const SOURCES: [&str; 3] = ["examples/counter.rs", "tests/counter.rs", "tests/typed.rs"];

fn read(path: impl AsRef<Path>) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fenced blocks of `markdown` in `language`, as lists of lines.
fn blocks(markdown: &str, language: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut open: Option<Vec<String>> = None;
    for line in markdown.lines() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) if info.trim() == language => open = Some(Vec::new()),
            (Some(_), Some("")) => found.extend(open.take()),
            (Some(block), _) => block.push(line.to_owned()),
            _ => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    found
}

/// Whether `block` appears as consecutive lines of `source`, indentation aside.
fn quotes(source: &str, block: &[String]) -> bool {
    let source: Vec<&str> = source.lines().map(str::trim_start).collect();
    let block: Vec<&str> = block.iter().map(|l| l.trim_start()).collect();
    source
        .windows(block.len())
        .any(|window| window == block.as_slice())
}

#[test]
fn every_rust_snippet_of_the_guide_is_compiled_code() {
    let guide = read("../../docs/embedding.md");
    let sources: Vec<String> = SOURCES.iter().map(read).collect();
    let snippets = blocks(&guide, "rust");
    assert!(
        snippets.len() >= 15,
        "found only {} snippets",
        snippets.len()
    );
    for snippet in &snippets {
        assert!(
            sources.iter().any(|source| quotes(source, snippet)),
            "this snippet of docs/embedding.md is not in {SOURCES:?}:\n{}",
            snippet.join("\n")
        );
    }
}

#[test]
fn the_features_the_guide_names_exist() {
    let guide = read("../../docs/embedding.md");
    let manifest = read("Cargo.toml");
    let dependencies = blocks(&guide, "toml");
    assert_eq!(dependencies.len(), 1, "one dependency list");
    for feature in ["sqlite", "postgres", "redis", "testkit"] {
        assert!(
            dependencies[0]
                .join("\n")
                .contains(&format!("\"{feature}\""))
        );
        assert!(
            manifest.contains(&format!("\n{feature} = [")),
            "feature {feature}"
        );
    }
}

#[test]
fn a_changed_snippet_is_caught() {
    let source = "fn a() {\n    let x = 1;\n    x\n}\n";
    assert!(quotes(source, &["let x = 1;".into(), "x".into()]));
    assert!(!quotes(source, &["let x = 2;".into(), "x".into()]));
    let markdown = "text\n```rust\nlet x = 1;\n```\n```toml\na = 1\n```\n";
    assert_eq!(blocks(markdown, "rust"), [vec!["let x = 1;".to_owned()]]);
}
