//! The README's table of flags and environment variables is made from the command line's own
//! definition, so it cannot drift: this test fails when they differ, and rewrites the table
//! when run with `PROJECTOR_WRITE_README=1`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::CommandFactory;
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

/// The table of every flag of every command, in the order the commands declare them.
fn table() -> String {
    let cli = Cli::command();
    let mut order = Vec::new();
    let mut flags: BTreeMap<String, Flag> = BTreeMap::new();
    let every = cli.get_subcommands().count();
    // Global flags first: every command takes them.
    let global = cli
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| (vec!["all".to_owned(); every], a));
    let local = cli.get_subcommands().flat_map(|c| {
        c.get_arguments()
            .filter(|a| !a.is_global_set())
            .map(move |a| (vec![c.get_name().to_owned()], a))
    });
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
