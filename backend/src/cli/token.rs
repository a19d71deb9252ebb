//! `causeway token create | list | revoke`: the access tokens of the data directory.
//!
//! These commands edit `tokens.json` next to the embedded store, not the store
//! itself, so they work while `causeway serve` runs; the server notices the change
//! on its next request.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{CommandError, Format};
use crate::auth::{Role, TokenStore};
use crate::config::Settings;

/// Arguments of `causeway token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make a token and print it once (only its hash is kept).
    Create {
        /// What the token allows: viewer (chat, browse, what-if), analyst (also
        /// import and delete models), admin (also tokens).
        #[arg(long, value_enum)]
        role: Role,
        /// A label for people (who or what holds it).
        #[arg(long)]
        name: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List the tokens (ids, roles, labels, dates; never the secrets).
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Revoke a token by its id; it fails from the server's next request.
    Revoke {
        /// The id `causeway token list` shows.
        id: String,
    },
}

pub fn run(args: &TokenArgs, settings: &Settings) -> Result<(), CommandError> {
    let tokens = TokenStore::new(&settings.data_dir);
    let mut out = std::io::stdout().lock();
    match &args.command {
        TokenCommand::Create { role, name, format } => {
            let token = tokens.create(*role, name.clone())?;
            match format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "id": token.stored.id,
                        "role": token.stored.role,
                        "name": token.stored.name,
                        "created_at": token.stored.created_at,
                        "token": token.secret,
                    })
                ),
                // The token alone on standard output, so that `$(causeway token
                // create …)` captures it; the advice goes to standard error.
                Format::Text => writeln!(out, "{}", token.secret).and_then(|()| {
                    writeln!(
                        std::io::stderr(),
                        "created {} token {}; it is shown only now, so keep it somewhere safe",
                        token.stored.role,
                        token.stored.id
                    )
                }),
            }
            .context("writing")?;
        }
        TokenCommand::List { format } => {
            let list = tokens.list()?;
            match format {
                Format::Json => {
                    serde_json::to_writer_pretty(&mut out, &list).context("writing JSON")?;
                    writeln!(out).context("writing JSON")?;
                }
                Format::Text if list.is_empty() => writeln!(
                    out,
                    "no tokens: the server is open to everyone; `causeway token create --role admin` makes one"
                )
                .context("writing")?,
                Format::Text => {
                    writeln!(out, "{:<14} {:<8} {:<21} name", "id", "role", "created")
                        .context("writing")?;
                    for token in &list {
                        writeln!(
                            out,
                            "{:<14} {:<8} {:<21} {}",
                            token.id,
                            token.role,
                            token.created_at,
                            token.name.as_deref().unwrap_or("")
                        )
                        .context("writing")?;
                    }
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let left = tokens.revoke(id)?;
            writeln!(out, "revoked {id}").context("writing")?;
            if left == 0 {
                // Revoking the last token reopens the server: say so loudly.
                writeln!(
                    std::io::stderr(),
                    "warning: no tokens remain, so the server is open to everyone again"
                )
                .context("writing")?;
            }
        }
    }
    Ok(())
}
