//! `projector api-key create`: a new API key, its hash appended to the keys file, the key
//! itself printed once on standard output (and nothing else there, for scripts).

use std::io::Write;

use anyhow::Context;
use projector_server::auth::{ApiKeys, parse_scopes};

use crate::opts::{ApiKeyArgs, ApiKeyCommand};

pub(crate) fn run(args: ApiKeyArgs) -> anyhow::Result<()> {
    match args.command {
        ApiKeyCommand::Create(create) => {
            let scopes = parse_scopes(&create.scopes)?;
            anyhow::ensure!(!scopes.is_empty(), "--scopes names no scope");
            let made = ApiKeys::create(&create.file, &create.principal, scopes)
                .context("creating the API key")?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", made.key)?;
            out.flush()?;
            let scopes: Vec<&str> = made.scopes.iter().map(|s| s.as_str()).collect();
            eprintln!(
                "made an API key for {} with scopes {}; its hash is in {} (the key is not stored: keep it now)",
                made.principal,
                scopes.join(","),
                create.file.display()
            );
            Ok(())
        }
    }
}
