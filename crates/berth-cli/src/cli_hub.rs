//! The arguments of `berth hub`, `berth token` and `berth policy`.

use std::path::PathBuf;
use std::time::Duration;

use berth_core::{AliasName, ModelPattern, Role};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct HubArgs {
    #[command(subcommand)]
    pub command: Option<HubCommand>,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub addr: std::net::SocketAddr,
    /// Listen beyond loopback over plain HTTP, because a proxy in front terminates TLS.
    /// Without it (or --tls-cert) the hub refuses an address other machines can reach.
    #[arg(long, conflicts_with = "tls_cert")]
    pub behind_tls_proxy: bool,
    /// Serve HTTPS with this certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Close a connection whose request head has not arrived whole within this long.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Make the hub's first admin token (run on the server, with the registry's credentials).
    Init {
        /// Who the token acts as.
        #[arg(long, default_value = "admin")]
        principal: String,
        /// Make another admin token although one exists (for a lost one).
        #[arg(long)]
        force: bool,
    },
}

fn role(s: &str) -> Result<Role, String> {
    Role::parse(s)
        .ok_or_else(|| format!("{s:?} is not a role; the roles are {}", Role::ALL.map(|r| r.as_str()).join(", ")))
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; its secret is shown once.
    Create {
        /// Who it acts as: a person or a service account (ci, serve-eu).
        #[arg(long)]
        principal: String,
        /// reader, publisher, approver, deployer or admin.
        #[arg(long, value_parser = role)]
        role: Role,
        /// Which models: a name, a prefix such as 'fraud-*', or '*'.
        #[arg(long, default_value = "*")]
        models: ModelPattern,
        /// Only these environments, for acts on environments (repeatable; default: all).
        #[arg(long = "env", value_name = "ENV")]
        envs: Vec<AliasName>,
        /// How long it lives, e.g. 90d; without it, until revoked.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires: Option<Duration>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id (tok_…); every hub replica refuses it at once.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Make a berth.toml's [environments] the policy in force (admins).
    Apply {
        /// The file; default: this project's berth.toml.
        file: Option<PathBuf>,
    },
    /// The policy in force.
    Show {
        /// Every version, newest first.
        #[arg(long)]
        history: bool,
    },
}
