//! The README's table of flags and environment variables is made from the command line's own
//! definition, so it cannot drift: this test fails when they differ, and rewrites the table
//! when run with `PROJECTOR_WRITE_README=1`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Arg, Command, CommandFactory};
use projector_cli::opts::Cli;

const BEGIN: &str = "<!-- flags: made from the command line by crates/cli/tests/readme.rs -->";
const END: &str = "<!-- end of flags -->";

/// One flag, and the commands that take it.
struct Flag {
    env: Option<String>,
    default: Option<String>,
    help: String,
    commands: Vec<String>,
}

/// Every command that runs, nested ones included, as the words that name it (`api-key
/// create`), with the arguments of its own and of the commands it is nested in.
fn runnable<'a>(command: &'a Command, words: &str) -> Vec<(String, Vec<&'a Arg>)> {
    let mut found = Vec::new();
    for sub in command.get_subcommands() {
        let name = if words.is_empty() {
            sub.get_name().to_owned()
        } else {
            format!("{words} {}", sub.get_name())
        };
        let own: Vec<&Arg> = sub.get_arguments().filter(|a| !a.is_global_set()).collect();
        if sub.has_subcommands() {
            for (nested, args) in runnable(sub, &name) {
                found.push((nested, own.iter().copied().chain(args).collect()));
            }
        } else {
            found.push((name, own));
        }
    }
    found
}

/// The table of every flag of every command, in the order the commands declare them.
fn table() -> String {
    let cli = Cli::command();
    let mut order = Vec::new();
    let mut flags: BTreeMap<String, Flag> = BTreeMap::new();
    let commands = runnable(&cli, "");
    let every = commands.len();
    // Global flags first: every command takes them.
    let global = cli
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| (vec!["all".to_owned(); every], a));
    let local = commands
        .iter()
        .flat_map(|(name, args)| args.iter().map(move |a| (vec![name.clone()], *a)));
    for (takers, arg) in global.chain(local) {
        {
            let Some(long) = arg.get_long() else {
                continue;
            };
            if long == "help" || long == "version" {
                continue;
            }
            let flag = flags.entry(long.to_owned()).or_insert_with(|| {
                order.push(long.to_owned());
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                Flag {
                    env: arg.get_env().map(|e| e.to_string_lossy().into_owned()),
                    default: (!arg.get_default_values().is_empty()).then(|| {
                        arg.get_default_values()
                            .iter()
                            .map(|v| v.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join(",")
                    }),
                    help: help.replace('|', "\\|"),
                    commands: Vec::new(),
                }
            });
            flag.commands.extend(takers);
        }
    }
    let mut out =
        String::from("| flag | variable | default | commands | meaning |\n|---|---|---|---|---|\n");
    for long in order {
        let flag = &flags[&long];
        let commands = if flag.commands.len() >= every {
            "all".to_owned()
        } else {
            flag.commands.join(", ")
        };
        out.push_str(&format!(
            "| `--{long}` | {} | {} | {commands} | {} |\n",
            flag.env
                .as_deref()
                .map_or_else(|| "-".to_owned(), |e| format!("`{e}`")),
            flag.default
                .as_deref()
                .map_or_else(|| "-".to_owned(), |d| format!("`{d}`")),
            flag.help,
        ));
    }
    out
}

#[test]
fn the_readme_lists_every_flag_as_the_command_line_defines_it() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find(BEGIN)
        .expect("the README marks where the flags begin");
    let end = readme
        .find(END)
        .expect("the README marks where the flags end");
    let current = &readme[start + BEGIN.len()..end];
    let wanted = format!("\n{}", table());
    if current == wanted {
        return;
    }
    if std::env::var("PROJECTOR_WRITE_README").is_ok_and(|v| v == "1") {
        let updated = format!("{}{}{wanted}{}", &readme[..start], BEGIN, &readme[end..]);
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    panic!(
        "the README's flags differ from the command line; run \
         `PROJECTOR_WRITE_README=1 cargo test -p projector-cli --test readme` to rewrite them.\n\
         wanted:\n{wanted}"
    );
}

/// Words that point a user at what they do not have: a workload's internal seeds, and files
/// outside the repository.
const OUTSIDE: [&str; 3] = ["seed 0", "shared/", "workload.md"];

/// Every Markdown file under `dir`.
fn markdown_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the docs") {
        let path = entry.expect("a docs entry").path();
        if path.is_dir() {
            found.extend(markdown_under(&path));
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
    found
}

/// The `description` of every crate's manifest, by manifest.
fn crate_descriptions(root: &Path) -> Vec<(PathBuf, String)> {
    let mut manifests = Vec::new();
    let mut dirs = vec![root.join("crates")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the crates") {
            let path = entry.expect("a crates entry").path();
            if path.is_dir()
                && path
                    .file_name()
                    .is_some_and(|n| n != "target" && n != "src")
            {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "Cargo.toml") {
                manifests.push(path);
            }
        }
    }
    manifests
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).expect("read a manifest");
            let line = text
                .lines()
                .find(|l| l.starts_with("description"))?
                .to_owned();
            Some((path, line))
        })
        .collect()
}

/// The long help of the command line and of every command in it.
fn help_texts(command: &mut Command, words: &str) -> Vec<(String, String)> {
    let mut found = vec![(words.to_owned(), command.render_long_help().to_string())];
    for sub in command.get_subcommands_mut() {
        let name = format!("{words} {}", sub.get_name());
        found.extend(help_texts(sub, &name));
    }
    found
}

#[test]
fn what_users_read_names_nothing_outside_the_product() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut texts: Vec<(String, String)> = Vec::new();
    for path in [root.join("README.md")]
        .into_iter()
        .chain(markdown_under(&root.join("docs")))
    {
        let text = std::fs::read_to_string(&path).expect("read a document");
        texts.push((path.display().to_string(), text));
    }
    let descriptions = crate_descriptions(&root);
    assert!(
        descriptions.len() >= 10,
        "found {} crates",
        descriptions.len()
    );
    texts.extend(
        descriptions
            .into_iter()
            .map(|(path, line)| (path.display().to_string(), line)),
    );
    let mut cli = Cli::command();
    cli.build();
    texts.extend(help_texts(&mut cli, "projector"));
    for (source, text) in &texts {
        let lower = text.to_lowercase();
        for word in OUTSIDE {
            assert!(!lower.contains(word), "{source} mentions {word:?}");
        }
    }
}
