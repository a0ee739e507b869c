//! The `lark-sim` binary: a local Lark Open Platform for demos and manual testing.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use lark_sim::{SimConfig, SimUser};

#[derive(Debug, Parser)]
#[command(name = "lark-sim", version, about = "A local stand-in for the Lark Open Platform HTTP API")]
struct Cli {
    /// Address to listen on, e.g. 127.0.0.1:8088 (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: String,
    /// App id clients must present.
    #[arg(long)]
    app_id: Option<String>,
    /// App secret clients must present.
    #[arg(long)]
    app_secret: Option<String>,
    /// JSON file with the directory: `[{"name","email","mobile"}]`. Without it, three demo users.
    #[arg(long)]
    users: Option<PathBuf>,
}

fn demo_users() -> Vec<SimUser> {
    ["alice", "bob", "carol"]
        .into_iter()
        .enumerate()
        .map(|(i, name)| SimUser {
            name: name.to_owned(),
            email: Some(format!("{name}@example.com")),
            mobile: Some(format!("+1555000000{i}")),
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let defaults = SimConfig::default();
    let users = match &cli.users {
        Some(path) => {
            let raw = std::fs::read(path).with_context(|| format!("reading --users {}", path.display()))?;
            serde_json::from_slice(&raw).with_context(|| format!("parsing --users {}", path.display()))?
        }
        None => demo_users(),
    };
    let config = SimConfig {
        app_id: cli.app_id.unwrap_or(defaults.app_id.clone()),
        app_secret: cli.app_secret.unwrap_or(defaults.app_secret.clone()),
        users,
        ..defaults
    };
    let listener = TcpListener::bind(&cli.listen).with_context(|| format!("binding --listen {}", cli.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    announce(&config, &format!("http://{addr}"));
    lark_sim::serve(config, listener).await
}

/// Writes rather than `println!`s: if whoever started us closed our stdout, that must not stop the server.
fn announce(config: &SimConfig, base_url: &str) {
    let users = config.users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join(", ");
    let text = format!(
        "lark-sim listening on {base_url}\napp_id:     {}\napp_secret: {}\nusers:      {users}\nstate:      {base_url}/_sim/state\n",
        config.app_id, config.app_secret
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
