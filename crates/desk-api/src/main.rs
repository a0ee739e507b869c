//! The `desk` binary: `serve`, `migrate`, `token create`.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use desk_api::config::Settings;
use desk_api::startup::{Application, connect};
use desk_api::telemetry;
use desk_core::Role;
use desk_store::{Clock as _, NewToken, SystemClock};

#[derive(Debug, Parser)]
#[command(name = "desk", version, about = "Larkdesk: B2B technical support inside Lark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate (unless DESK_MIGRATE_ON_START=false), then serve HTTP.
    Serve,
    /// Apply migrations and exit.
    Migrate {
        /// Revert every migration first, then apply them all again (a check, not for production data).
        #[arg(long)]
        redo_all: bool,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it once (only its hash is stored).
    Create {
        /// admin, tam or engineer.
        #[arg(long)]
        role: Role,
        /// What the token is for.
        #[arg(long)]
        name: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load().context("loading settings")?;
    telemetry::init(settings.log_format);
    match cli.command {
        Command::Serve => {
            tracing::info!(settings = ?settings, "starting desk");
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "serving");
            app.run_until_stopped().await?;
        }
        Command::Migrate { redo_all } => {
            let store = connect(&settings).await?;
            if redo_all {
                store.migrate_down_all().await.context("reverting migrations")?;
            }
            store.migrate().await.context("applying migrations")?;
            tracing::info!("migrations applied");
        }
        Command::Token { command: TokenCommand::Create { role, name } } => {
            let store = connect(&settings).await?;
            if settings.migrate_on_start {
                store.migrate().await.context("applying migrations")?;
            }
            let issued = store
                .create_token(NewToken { name, role: Some(role), person_id: None }, SystemClock.now())
                .await
                .context("creating the token")?;
            #[expect(clippy::print_stdout, reason = "printing the secret once is this command's whole job")]
            {
                println!("{}", issued.secret);
            }
            tracing::info!(token.id = %issued.info.id, token.role = %issued.info.role, "token created; store it now, it is not shown again");
        }
    }
    Ok(())
}
