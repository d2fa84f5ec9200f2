//! The reference profile a served version's live traffic is compared with
//! (`live.rs`): `profile.json` beside a model file (as `berth validate`
//! finds it), or the version's own `profile.json` in the registry, kept by
//! the model's digest beside the cached copy so that the copy, served while
//! the registry is down, is compared too. A profile that is missing or does
//! not parse is a warning, never a failed load: the model serves without
//! live drift gauges.

use std::path::{Path, PathBuf};

use berth_core::VersionRecord;
use berth_data::Profile;
use berth_service::Operations;

use crate::reach::Reach;

pub const FILE: &str = "profile.json";

fn parse(bytes: &[u8], from: &str) -> Option<Profile> {
    serde_json::from_slice(bytes)
        .map_err(|e| tracing::warn!("{from}: not a reference profile ({e}); serving without live drift gauges"))
        .ok()
}

/// `profile.json` in the directory of `model_file`, if there is one.
pub fn beside(model_file: &Path) -> Option<Profile> {
    let at = model_file.parent()?.join(FILE);
    let bytes = std::fs::read(&at).ok()?;
    parse(&bytes, &at.display().to_string())
}

/// The version's `profile.json`, also kept for its cached copy under `digest`.
pub async fn of_version(berth: &dyn Operations, v: &VersionRecord, reach: &Reach, digest: &str) -> Option<Profile> {
    let label = format!("{}@{}: {FILE}", v.model, v.version);
    let bytes = match berth.version_file(v, FILE).await {
        Ok(Some(b)) => b,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!("{label}: cannot read it ({e}); serving without live drift gauges");
            return None;
        }
    };
    let profile = parse(&bytes, &label)?;
    let at = kept_at(reach, digest);
    let written = at.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|_| {
        let tmp = at.with_extension("json.tmp");
        std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &at))
    });
    if let Err(e) = written {
        tracing::warn!("cannot keep {label} beside the cached copy in {}: {e}", at.display());
    }
    Some(profile)
}

/// The profile kept for the cached copy of the model with `digest`.
pub fn kept(reach: &Reach, digest: &str) -> Option<Profile> {
    let at = kept_at(reach, digest);
    let bytes = std::fs::read(&at).ok()?;
    parse(&bytes, &at.display().to_string())
}

fn kept_at(reach: &Reach, digest: &str) -> PathBuf {
    reach.state("cache/serve").join(format!("profile-{}.json", digest.trim_start_matches("sha256:")))
}
