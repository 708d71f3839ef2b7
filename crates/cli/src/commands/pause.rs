//! `projector pause` and `projector resume`: an operator's pause of a projection.
//!
//! Without `--server`, the pause is written to the projection controls beside the read
//! store's catalog (the SQLite data directory, or the PostgreSQL database), where the process
//! running the projection reads it within a second, and any process that runs it later finds
//! it. With `--server`, the server's admin API does it, and answers with the projection's state.

use anyhow::{Context, bail};
use chrono::Utc;
use projector_core::{Pause, ProjectionName};
use serde_json::Value;

use crate::admin_client::AdminClient;
use crate::opts::PauseArgs;
use crate::read_models;
use crate::stores;

/// Who pauses from the command line, for the record.
fn who() -> String {
    match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".to_owned(),
    }
}

pub(crate) async fn pause(args: PauseArgs) -> anyhow::Result<()> {
    let name = read_models::known(&args.projection)?;
    if let Some(client) = AdminClient::from_args(&args.server)? {
        let answer: Value = client
            .post(&format!("projections/{name}/pause"), None)
            .await
            .with_context(|| format!("pausing {name}"))?;
        println!(
            "paused {name} at position {}; it applies nothing until `projector resume {name}`",
            answer["checkpoint"]
        );
        return Ok(());
    }
    let controls = stores::controls(&args.storage).await?;
    if let Some(pause) = controls.paused(&name).await? {
        bail!("{}", already_paused(&name, &pause));
    }
    let by = who();
    controls
        .set_paused(
            &name,
            Some(Pause {
                since: Utc::now(),
                by: by.clone(),
            }),
        )
        .await
        .with_context(|| format!("pausing {name}"))?;
    tracing::info!(projection = %name, action = "pause", by = %by, "projection paused from the command line");
    println!(
        "paused {name}; a server running it stops applying events within a second, until `projector resume {name}`"
    );
    Ok(())
}

pub(crate) async fn resume(args: PauseArgs) -> anyhow::Result<()> {
    let name = read_models::known(&args.projection)?;
    if let Some(client) = AdminClient::from_args(&args.server)? {
        let answer: Value = client
            .post(&format!("projections/{name}/resume"), None)
            .await
            .with_context(|| format!("resuming {name}"))?;
        println!("resumed {name} from position {}", answer["checkpoint"]);
        return Ok(());
    }
    let controls = stores::controls(&args.storage).await?;
    if controls.paused(&name).await?.is_none() {
        bail!(
            "projection {name} is not paused; there is nothing to resume (a projection stopped at \
             a poison event is resumed where it runs: `projector resume {name} --server URL`)"
        );
    }
    controls
        .set_paused(&name, None)
        .await
        .with_context(|| format!("resuming {name}"))?;
    tracing::info!(projection = %name, action = "resume", by = %who(), "projection resumed from the command line");
    println!("resumed {name}; it carries on from its checkpoint");
    Ok(())
}

fn already_paused(name: &ProjectionName, pause: &Pause) -> String {
    format!(
        "projection {name} is paused already (since {}, by {}); resume it with `projector resume {name}`",
        pause.since.to_rfc3339(),
        pause.by
    )
}
