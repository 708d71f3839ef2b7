//! `docs/embedding.md` cannot drift from code that compiles: every Rust snippet in it names the
//! file it comes from (`<!-- from tests/counter.rs -->` above the fence) and must appear there,
//! line for line (indentation aside); a snippet that speaks of `CounterEvent` must come from a
//! file whose `CounterEvent` is the guide's own; the features its dependency list names exist.

use std::path::Path;

/// The compiled files the guide may quote from.
const SOURCES: [&str; 3] = ["examples/counter.rs", "tests/counter.rs", "tests/typed.rs"];

/// How the guide names a snippet's file, on the line above its fence.
const FROM: (&str, &str) = ("<!-- from ", " -->");

fn read(path: impl AsRef<Path>) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A source as the compiler sees it: with the example it `include!`s.
fn compiled(source: &str) -> String {
    let text = read(source);
    let included = "include!(\"../examples/counter.rs\");";
    if text.contains(included) {
        text.replace(included, &read("examples/counter.rs"))
    } else {
        text
    }
}

/// A fenced block: the file the line above it names, if any, and its lines.
#[derive(Debug, PartialEq)]
struct Block {
    from: Option<String>,
    lines: Vec<String>,
}

/// The fenced blocks of `markdown` in `language`.
fn blocks(markdown: &str, language: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    let mut above: Option<&str> = None;
    for line in markdown.lines() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) if info.trim() == language => {
                let from = above
                    .and_then(|l| l.trim().strip_prefix(FROM.0)?.strip_suffix(FROM.1))
                    .map(str::to_owned);
                open = Some(Block {
                    from,
                    lines: Vec::new(),
                });
            }
            (Some(_), Some("")) => found.extend(open.take()),
            (Some(block), _) => block.lines.push(line.to_owned()),
            _ => {}
        }
        if !line.trim().is_empty() {
            above = Some(line);
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
fn every_rust_snippet_of_the_guide_is_compiled_code_from_the_file_it_names() {
    let guide = read("../../docs/embedding.md");
    let snippets = blocks(&guide, "rust");
    assert!(
        snippets.len() >= 15,
        "found only {} snippets",
        snippets.len()
    );
    for snippet in &snippets {
        let text = snippet.lines.join("\n");
        let Some(from) = snippet.from.as_deref() else {
            panic!("this snippet of docs/embedding.md names no file ({FROM:?} above it):\n{text}");
        };
        assert!(
            SOURCES.contains(&from),
            "the guide quotes {from}, not one of {SOURCES:?}"
        );
        assert!(
            quotes(&read(from), &snippet.lines),
            "this snippet of docs/embedding.md is not in {from}:\n{text}"
        );
    }
}

#[test]
fn snippets_about_the_counter_come_from_files_with_the_guides_counter_event() {
    let guide = read("../../docs/embedding.md");
    let snippets = blocks(&guide, "rust");
    let definition = snippets
        .iter()
        .find(|s| s.lines.iter().any(|l| l.contains("enum CounterEvent")))
        .expect("the guide defines CounterEvent");
    for snippet in snippets
        .iter()
        .filter(|s| s.lines.join("\n").contains("CounterEvent"))
    {
        let from = snippet.from.as_deref().expect("named, as checked above");
        let source = compiled(from);
        assert!(
            quotes(&source, &definition.lines) && source.matches("enum CounterEvent").count() == 1,
            "{from} does not define the guide's CounterEvent, yet the guide quotes it:\n{}",
            snippet.lines.join("\n")
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
                .lines
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
fn the_example_stays_under_80_lines() {
    let lines = read("examples/counter.rs").lines().count();
    assert!(lines <= 80, "examples/counter.rs has {lines} lines");
}

#[test]
fn a_changed_snippet_or_file_is_caught() {
    let source = "fn a() {\n    let x = 1;\n    x\n}\n";
    assert!(quotes(source, &["let x = 1;".into(), "x".into()]));
    assert!(!quotes(source, &["let x = 2;".into(), "x".into()]));
    let markdown = "text\n<!-- from a.rs -->\n```rust\nlet x = 1;\n```\n```rust\ny\n```\n";
    assert_eq!(
        blocks(markdown, "rust"),
        [
            Block {
                from: Some("a.rs".into()),
                lines: vec!["let x = 1;".into()]
            },
            Block {
                from: None,
                lines: vec!["y".into()]
            }
        ]
    );
    let typed = compiled("tests/typed.rs");
    assert!(
        typed.contains("enum CounterEvent") && !typed.contains("Reset"),
        "tests/typed.rs keeps a CounterEvent of its own, which the guide must not quote"
    );
}
