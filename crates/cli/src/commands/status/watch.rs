//! `projector status --watch`: the report again every `--interval` seconds until Ctrl-C,
//! redrawn in place on a terminal and printed anew otherwise (a log keeps each one).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::admin_client::AdminClient;
use crate::opts::StatusArgs;
use crate::signals;

/// Moves the cursor home and clears the screen below it: the next table replaces the last.
const REDRAW: &str = "\x1b[H\x1b[J";

pub(super) async fn run(args: &StatusArgs, server: Option<&AdminClient>) -> anyhow::Result<()> {
    let in_place = std::io::stdout().is_terminal() && !args.json;
    let interval = Duration::from_secs(args.interval);
    let stop = signals::shutdown_requested();
    tokio::pin!(stop);
    loop {
        let report = match server {
            Some(server) => super::remote::report(server).await,
            None => super::local(args).await,
        };
        // A failed refresh (the server restarting, say) is shown and the next one tried.
        let shown = match report.and_then(|r| super::render(&r, args.json)) {
            Ok(shown) => shown,
            Err(error) => format!("status unavailable: {error:#}\n"),
        };
        let mut stdout = std::io::stdout().lock();
        if in_place {
            write!(stdout, "{REDRAW}")?;
        } else if !args.json {
            writeln!(stdout)?;
        }
        write!(stdout, "{shown}")?;
        stdout.flush()?;
        drop(stdout);
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(interval) => {}
        }
    }
}
