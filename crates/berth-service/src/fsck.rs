//! `fsck`: re-reads every blob in the store and checks it against its name,
//! and checks that every blob a version references is there.

use std::collections::BTreeSet;

use berth_core::Digest;
use berth_store::Verified;
use futures::StreamExt;
use serde::Serialize;

use crate::{Berth, Result};

#[derive(Debug, Clone, Serialize)]
pub struct FsckProblem {
    pub digest: Digest,
    /// A version that references the blob, if any (`name@N`).
    pub referenced_by: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FsckReport {
    pub ok: bool,
    pub blobs_checked: usize,
    pub referenced: usize,
    pub missing: Vec<FsckProblem>,
    pub corrupt: Vec<FsckProblem>,
    /// Blobs no version references (removed by `berth gc`).
    pub orphaned: Vec<Digest>,
    /// Temporary files of interrupted writes (never visible as blobs; removed by `berth gc`).
    pub partials: Vec<String>,
}

impl Berth {
    pub async fn fsck(&self) -> Result<FsckReport> {
        let referenced = self.registry.referenced_blobs().await?;
        let leased: BTreeSet<Digest> = self.registry.leased_blobs().await?.into_iter().collect();
        let listed = self.store.list().await?;
        let listed_set: BTreeSet<Digest> = listed.iter().map(|b| b.digest).collect();
        let refd = |d: &Digest| referenced.get(d).map(|(m, n)| format!("{m}@{n}"));

        let store = &self.store;
        let checks: Vec<_> =
            futures::stream::iter(listed.iter().map(|b| async move { (b.digest, store.verify(&b.digest).await) }))
                .buffer_unordered(self.config.jobs)
                .collect()
                .await;
        let mut corrupt = Vec::new();
        let mut missing = Vec::new();
        for (d, r) in checks {
            match r? {
                Verified::Ok { .. } => {}
                Verified::Corrupt { actual } => corrupt.push(FsckProblem {
                    digest: d,
                    referenced_by: refd(&d),
                    detail: format!("content hashes to {actual}"),
                }),
                Verified::Missing => missing.push(FsckProblem {
                    digest: d,
                    referenced_by: refd(&d),
                    detail: "vanished while checking".into(),
                }),
            }
        }
        for d in referenced.keys().filter(|d| !listed_set.contains(d)) {
            missing.push(FsckProblem { digest: *d, referenced_by: refd(d), detail: "not in the store".into() });
        }
        corrupt.sort_by_key(|p| p.digest);
        missing.sort_by_key(|p| p.digest);
        let orphaned =
            listed_set.iter().filter(|d| !referenced.contains_key(d) && !leased.contains(d)).copied().collect();
        let partials = self.store.partials().await?;
        Ok(FsckReport {
            ok: missing.is_empty() && corrupt.is_empty(),
            blobs_checked: listed.len(),
            referenced: referenced.len(),
            missing,
            corrupt,
            orphaned,
            partials,
        })
    }
}
