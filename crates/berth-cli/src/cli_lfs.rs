//! The arguments of `berth lfs`.

use berth_core::ModelName;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum LfsCommand {
    /// Point a git repository's Git LFS at the hub: prints the `.lfsconfig` that sends MODEL's
    /// large files to the hub's Git LFS server (or writes it with --write) and how to give git lfs
    /// a token. The token never goes into the repository.
    Install {
        /// The model whose Git LFS repository this is (it need not exist yet).
        model: ModelName,
        /// The hub, e.g. https://hub.example:8443 (default: BERTH_HUB_URL or berth.toml's [hub] url).
        #[arg(long, value_parser = hub_url)]
        url: Option<String>,
        /// Write (or update) .lfsconfig at the top of the git work tree instead of printing it.
        #[arg(long)]
        write: bool,
    },
}

/// A hub's base URL: `http://` or `https://`, a host, no query; without a trailing slash.
pub(crate) fn hub_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("{s:?} is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{s:?} names no host"));
    }
    if s.contains(['?', '#', ' ']) {
        return Err(format!("{s:?} has a query, fragment or space; give the hub's base URL"));
    }
    Ok(s.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_urls_are_base_urls() {
        assert_eq!(hub_url("https://hub.example:8443/").unwrap(), "https://hub.example:8443");
        assert_eq!(hub_url("http://127.0.0.1:9").unwrap(), "http://127.0.0.1:9");
        for bad in ["hub.example", "ftp://x", "https://", "https:///x", "http://h/?a=1"] {
            assert!(hub_url(bad).is_err(), "{bad}");
        }
    }
}
