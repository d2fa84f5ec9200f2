//! [`Berth`]: a store and a registry opened from a [`Config`], and the
//! operations that only read or move pointers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use berth_core::{
    AliasEvent, AliasName, AuditEntry, Clock, Manifest, ModelName, Ref, Role, SystemClock, VersionRecord,
};
use berth_registry::{Actor, AuditFilter, ModelSummary, Registry, RegistryError, RegistryUrl};
use berth_store::{BlobStore, Progress, StatCache, StoreUrl};
use serde::{Deserialize, Serialize};

use crate::{Config, Principal, Result, ServiceError};

/// Manifests larger than this are refused rather than read into memory.
pub(crate) const MAX_MANIFEST: u64 = 64 << 20;

/// Lets the caller show progress: `begin` is called once per transfer with
/// the total number of bytes and returns the sink the store reports to.
pub trait Transfer: Send + Sync {
    fn begin(&self, label: &str, total_bytes: u64) -> Arc<dyn Progress>;
    fn finish(&self) {}
}

pub struct NoTransfer;

impl Transfer for NoTransfer {
    fn begin(&self, _: &str, _: u64) -> Arc<dyn Progress> {
        self.progress()
    }
}

impl NoTransfer {
    pub fn progress(&self) -> Arc<dyn Progress> {
        Arc::new(berth_store::NoProgress)
    }
}

/// The service: cheap to clone, and [`Berth::acting_as`] gives the same
/// store and registry to another principal (what the hub does per request).
#[derive(Clone)]
pub struct Berth {
    pub(crate) config: Arc<Config>,
    pub(crate) registry: Arc<dyn Registry>,
    pub(crate) store: Arc<dyn BlobStore>,
    /// Who is acting, and the name the registry records for them.
    pub(crate) principal: Principal,
    pub(crate) actor: Actor,
    /// A local SQLite registry: one project, one owner, its berth.toml the policy.
    pub(crate) embedded: bool,
    pub(crate) notifiers: Arc<berth_deploy::Notifiers>,
    /// Where every timestamp the service records comes from, the registry's
    /// included, so a test (or a hub replaying) decides what "now" is.
    pub(crate) clock: Arc<dyn Clock>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShowReport {
    #[serde(flatten)]
    pub version: VersionRecord,
    /// Aliases that point at this version.
    pub aliases: Vec<String>,
    pub files: Vec<ShowFile>,
    /// Gates run on this version: which gate, on which data, the verdict.
    pub gates: Vec<ShowGate>,
}

/// What `berth versions` shows: every version of a model, and which version
/// each of its aliases points at.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionsReport {
    pub versions: Vec<VersionRecord>,
    pub aliases: BTreeMap<String, u64>,
    /// When the page is full: ask again with `before` set to this for the next one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShowGate {
    pub gate: String,
    pub data_digest: String,
    pub passed: bool,
    pub at: berth_core::Timestamp,
    pub by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShowFile {
    pub path: String,
    pub digest: String,
    pub size: u64,
}

impl Berth {
    /// Opens the store and registry the configuration names, on the system
    /// clock, acting as the local user `actor` (who may do everything).
    pub async fn open(config: Config, actor: String) -> Result<Berth> {
        Berth::open_with_clock(config, actor, Arc::new(SystemClock)).await
    }

    /// [`Berth::open`], with every timestamp taken from `clock`.
    /// An embedded project's `berth.toml` becomes the registry's policy here.
    pub async fn open_with_clock(config: Config, actor: String, clock: Arc<dyn Clock>) -> Result<Berth> {
        let berth = Berth::open_as(config, Principal::local(actor), clock).await?;
        if berth.embedded {
            berth.sync_embedded_policy().await?;
        }
        Ok(berth)
    }

    /// Opens the store and registry, acting as `principal`; the registry's
    /// policy is left as it is (what a hub does: only `policy apply` changes it).
    pub async fn open_as(config: Config, principal: Principal, clock: Arc<dyn Clock>) -> Result<Berth> {
        let base = config.root.clone().unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        let reg_url = RegistryUrl::parse(&config.registry_url, &base)?;
        let busy = Duration::from_millis(config.busy_timeout_ms);
        let registry = berth_registry::connect(&reg_url, busy, clock.clone()).await?;
        let store_url = StoreUrl::parse(&config.store_url, &base)?;
        let store = berth_store::open_store(&store_url, config.cache_dir.as_deref())?;
        let notifiers = berth_deploy::Notifiers::new(&config.notifiers, &|k| std::env::var(k).ok());
        let embedded = matches!(reg_url, RegistryUrl::Sqlite(_));
        let actor = Actor { name: principal.name.clone(), token: principal.token.clone() };
        Ok(Berth {
            config: Arc::new(config),
            registry,
            store,
            principal,
            actor,
            embedded,
            notifiers: Arc::new(notifiers),
            clock,
        })
    }

    /// Whether the registry and the store both answer now.
    pub async fn readiness(&self) -> Result<()> {
        self.registry.policy().await?;
        self.store.exists(&berth_core::Digest::of(b"")).await?;
        Ok(())
    }

    /// The same service acting as someone else.
    pub fn acting_as(&self, principal: Principal) -> Berth {
        Berth {
            actor: Actor { name: principal.name.clone(), token: principal.token.clone() },
            principal,
            ..self.clone()
        }
    }

    /// Whether the registry is a local SQLite file rather than a shared one.
    pub fn embedded(&self) -> bool {
        self.embedded
    }

    /// The time as the service's clock tells it.
    pub(crate) fn now(&self) -> berth_core::Timestamp {
        self.clock.now()
    }

    /// Who this berth acts as.
    pub fn actor(&self) -> &str {
        &self.actor.name
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn stat_cache(&self) -> StatCache {
        match self.config.state_dir() {
            Some(d) => StatCache::load(d.join("cache").join("stat.json")),
            None => StatCache::in_memory(),
        }
    }

    pub async fn resolve(&self, r: &Ref) -> Result<VersionRecord> {
        self.allow(Role::Reader, Some(&r.model), None)?;
        Ok(self.registry.resolve(r).await?)
    }

    pub async fn manifest(&self, v: &VersionRecord) -> Result<Manifest> {
        self.allow(Role::Reader, Some(&v.model), None)?;
        let bytes = self.store.get_bytes(&v.manifest, MAX_MANIFEST).await?;
        Manifest::from_bytes(&bytes).map_err(|e| ServiceError::Corrupt {
            message: format!("{}@{}: manifest {} is unreadable: {e}", v.model, v.version, v.manifest),
            hint: Some("run `berth fsck`".into()),
        })
    }

    /// The models the principal may read.
    pub async fn models(&self) -> Result<Vec<ModelSummary>> {
        let mut models = self.registry.models().await?;
        models.retain(|m| self.principal.grant.allows(Role::Reader, Some(&m.name), None));
        Ok(models)
    }

    pub async fn versions(&self, model: &ModelName) -> Result<Vec<VersionRecord>> {
        self.allow(Role::Reader, Some(model), None)?;
        Ok(self.registry.versions(model).await?)
    }

    /// A model's versions and where its aliases point, read together so a
    /// listing can show each version's aliases beside it.
    pub async fn versions_with_aliases(&self, model: &ModelName) -> Result<VersionsReport> {
        self.versions_page(model, None, None).await
    }

    /// [`Berth::versions_with_aliases`], a page at a time: the versions
    /// numbered below `before`, newest first, at most `limit` of them.
    pub async fn versions_page(
        &self,
        model: &ModelName,
        before: Option<u64>,
        limit: Option<u32>,
    ) -> Result<VersionsReport> {
        self.allow(Role::Reader, Some(model), None)?;
        let versions = self.registry.versions_page(model, before, limit).await?;
        let aliases = self.registry.aliases(model).await?;
        let full = limit.is_some_and(|l| versions.len() == l as usize);
        let next = if full { versions.last().map(|v| v.version).filter(|n| *n > 1) } else { None };
        Ok(VersionsReport { versions, aliases, next })
    }

    /// The gate reports stored on a version, oldest first, each with its
    /// full report (what `show` summarises).
    pub async fn gate_reports(&self, model: &ModelName, version: u64) -> Result<Vec<berth_core::GateRecord>> {
        self.allow(Role::Reader, Some(model), None)?;
        Ok(self.registry.gate_reports(model, version).await?)
    }

    /// Fails with the registry's "model not found" unless `model` exists, so
    /// that asking for the history of a model nobody pushed is an error, not
    /// an empty answer. A model with no versions yet exists.
    pub(crate) async fn require_model(&self, model: &ModelName) -> Result<()> {
        match self.registry.version(model, 1).await {
            Ok(_) | Err(RegistryError::VersionNotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn show(&self, r: &Ref) -> Result<ShowReport> {
        self.allow(Role::Reader, Some(&r.model), None)?;
        let v = self.registry.resolve(r).await?;
        let aliases = self.registry.aliases(&v.model).await?;
        let manifest = self.manifest(&v).await?;
        let files = manifest
            .files
            .iter()
            .map(|(p, e)| ShowFile { path: p.to_string(), digest: e.digest.to_string(), size: e.size })
            .collect();
        let aliases = aliases.into_iter().filter(|(_, n)| *n == v.version).map(|(a, _)| a).collect();
        let gates = self
            .registry
            .gate_reports(&v.model, v.version)
            .await?
            .into_iter()
            .map(|g| ShowGate {
                gate: g.gate,
                data_digest: g.data_digest,
                passed: g.passed,
                at: g.created_at,
                by: g.created_by,
            })
            .collect();
        Ok(ShowReport { version: v, aliases, files, gates })
    }

    /// A file of a version (verified), or `None` when the version has no such file.
    pub async fn version_file(&self, v: &VersionRecord, path: &str) -> Result<Option<Vec<u8>>> {
        let manifest = self.manifest(v).await?;
        self.version_file_of(v, &manifest, path).await
    }

    /// [`Berth::version_file`] with the version's manifest already read.
    pub async fn version_file_of(&self, v: &VersionRecord, manifest: &Manifest, path: &str) -> Result<Option<Vec<u8>>> {
        self.allow(Role::Reader, Some(&v.model), None)?;
        match manifest.files.iter().find(|(p, _)| p.as_str() == path) {
            Some((_, e)) => Ok(Some(self.store.get_bytes(&e.digest, 1 << 30).await?.to_vec())),
            None => Ok(None),
        }
    }

    /// Stores a gate's report on a version.
    pub async fn store_gate_report(
        &self,
        v: &VersionRecord,
        gate: &str,
        report: &berth_gate::Report,
    ) -> Result<berth_core::GateRecord> {
        self.allow(Role::Publisher, Some(&v.model), None)?;
        let json = serde_json::to_value(report).map_err(|e| ServiceError::input(format!("report: {e}"), None))?;
        let record = self
            .registry
            .add_gate_report(
                berth_registry::NewGateReport {
                    model: &v.model,
                    version: v.version,
                    gate,
                    data_digest: &report.data.digest,
                    passed: report.passed,
                    report: &json,
                },
                &self.actor,
            )
            .await?;
        let (kind, verdict) = match report.passed {
            true => (berth_deploy::EventKind::GatePassed, "passed"),
            false => (berth_deploy::EventKind::GateFailed, "failed"),
        };
        let e = berth_deploy::Event::new(
            kind,
            record.created_at,
            &self.actor.name,
            format!("{}@{} {verdict} gate {gate:?} on {}", v.model, v.version, report.data.path),
        )
        .version(&v.model, v.version)
        .details(serde_json::json!({
            "gate": gate, "data": report.data, "checks": report.checks, "metrics": report.metrics, "errors": report.errors,
        }));
        self.notify(e).await;
        Ok(record)
    }

    pub async fn tag(&self, r: &Ref, tags: &BTreeMap<String, String>) -> Result<VersionRecord> {
        self.allow(Role::Publisher, Some(&r.model), None)?;
        let v = self.registry.resolve(r).await?;
        Ok(self.registry.set_tags(&v.model, v.version, tags, &self.actor).await?)
    }

    pub async fn alias_set(
        &self,
        model: &ModelName,
        alias: &AliasName,
        n: u64,
        reason: Option<&str>,
    ) -> Result<Option<AliasEvent>> {
        self.allow(Role::Deployer, Some(model), Some(alias))?;
        self.refuse_alias_change(model, alias, Some(n)).await?;
        // Checked again inside the move, against the policy in force then.
        let guard = self.guard(crate::environment::Rule::NotGoverned);
        let d = berth_registry::Deploy {
            model,
            env: alias,
            to: berth_registry::DeployTarget::Version(n),
            kind: berth_core::MoveKind::Alias,
            reason,
            evidence: None,
            guard: Some(&guard),
        };
        self.registry.deploy(d, &self.actor).await.map_err(|e| Berth::refused(&guard, e))
    }

    pub async fn alias_rm(&self, model: &ModelName, alias: &AliasName, reason: Option<&str>) -> Result<AliasEvent> {
        self.allow(Role::Deployer, Some(model), Some(alias))?;
        self.refuse_alias_change(model, alias, None).await?;
        // Checked again inside the removal, against the policy in force then.
        let guard = self.guard(crate::environment::Rule::NotGoverned);
        self.registry
            .remove_alias(model, alias, &self.actor, reason, Some(&guard))
            .await
            .map_err(|e| Berth::refused(&guard, e))
    }

    /// Every move of the model's aliases (of one alias, when named); an
    /// unknown model is refused.
    pub async fn alias_history(&self, model: &ModelName, alias: Option<&AliasName>) -> Result<Vec<AliasEvent>> {
        self.allow(Role::Reader, Some(model), None)?;
        self.require_model(model).await?;
        Ok(self.registry.alias_history(model, alias).await?)
    }

    /// The audit log, newest first: of one model, or of the whole registry
    /// (which needs a grant over every model).
    pub async fn log(&self, model: Option<ModelName>, limit: Option<u32>) -> Result<Vec<AuditEntry>> {
        self.allow(Role::Reader, model.as_ref(), None)?;
        Ok(self.registry.audit(&AuditFilter { model, limit }).await?)
    }
}

impl Berth {
    /// Whether a server about to follow `r` has something to follow, told
    /// apart from what retrying will never fix. A model that does not exist
    /// and a version number beyond the latest are mistakes, reported at once
    /// with the nearest model name when there is one. An alias that is not set
    /// is waited for, since a server may well be deployed before its
    /// environment's first promotion, unless it is a near miss of an alias
    /// that exists or an environment berth.toml declares (a typo then, which
    /// would wait forever). Returns what the server will wait for, if anything.
    pub async fn check_servable(&self, r: &Ref) -> Result<Option<String>> {
        use berth_core::{Selector, suggest::closest};
        self.allow(Role::Reader, Some(&r.model), None)?;
        let models = self.registry.models().await?;
        let Some(m) = models.iter().find(|m| m.name == r.model) else {
            let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
            let message = match closest(r.model.as_str(), names.iter().copied()) {
                Some(near) => format!("no model {}; did you mean {near}?", r.model),
                None => format!("no model {} in the registry", r.model),
            };
            let hint = match names.len() {
                0 => "the registry has no models yet: push one first (`berth push DIR --model NAME`)".to_string(),
                n if n <= 10 => format!("the models are {}", names.join(", ")),
                n => format!("there are {n} models, e.g. {}; `berth models` lists them all", names[..10].join(", ")),
            };
            return Err(ServiceError::input(message, Some(hint)));
        };
        match &r.selector {
            Selector::Version(n) if m.latest.is_none_or(|latest| *n > latest) => Err(ServiceError::input(
                format!(
                    "{} has no version {n}; {}",
                    m.name,
                    m.latest.map(|l| format!("its latest is {l}")).unwrap_or_else(|| "it has no versions yet".into())
                ),
                Some(format!("`berth versions {}` lists them", m.name)),
            )),
            Selector::Alias(a) if !m.aliases.contains_key(a.as_str()) => {
                let set: Vec<&str> = m.aliases.keys().map(String::as_str).collect();
                let shown = if set.is_empty() { "it has no aliases yet".to_string() } else { set.join(", ") };
                let in_force = self.policy().await?;
                if in_force.governs(a) {
                    return Ok(Some(format!(
                        "{}@{a} is not set yet (its aliases: {shown}); waiting for the first promotion to {a}",
                        m.name
                    )));
                }
                let known = set.iter().copied().chain(in_force.environments.keys().map(String::as_str));
                match closest(a.as_str(), known) {
                    Some(near) => Err(ServiceError::input(
                        format!("{} has no alias {a}; did you mean {near}?", m.name),
                        Some(format!("its aliases: {shown}")),
                    )),
                    None => Ok(Some(format!(
                        "{}@{a} is not set yet (its aliases: {shown}); waiting for it to be set",
                        m.name
                    ))),
                }
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use berth_core::{FixedClock, Timestamp, VersionMeta};

    use super::*;
    use crate::PushRequest;

    /// A fresh embedded project (SQLite and a local store) in a temporary directory.
    pub(crate) fn project() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        crate::init(dir.path(), None, None, &|_| None).unwrap();
        let config = Config::discover(dir.path(), &|_| None).unwrap();
        (dir, config)
    }

    /// The project opened as `actor`, its clock starting at `start_ms`.
    pub(crate) async fn open_at(config: &Config, actor: &str, start_ms: i64) -> Berth {
        let clock = Arc::new(FixedClock::new(Timestamp::from_millis(start_ms)));
        Berth::open_with_clock(config.clone(), actor.into(), clock).await.unwrap()
    }

    /// Pushes a one-file version of `model`; returns its number.
    pub(crate) async fn push_one(b: &Berth, dir: &std::path::Path, model: &str, bytes: &[u8]) -> u64 {
        let file = dir.join("model.onnx");
        std::fs::write(&file, bytes).unwrap();
        let req = PushRequest {
            paths: vec![file],
            model: Some(ModelName::parse(model).unwrap()),
            meta: VersionMeta::default(),
        };
        b.push(req, &crate::NoTransfer).await.unwrap().version.version
    }

    fn name(s: &str) -> ModelName {
        ModelName::parse(s).unwrap()
    }

    fn is_model_not_found(e: &ServiceError) -> bool {
        matches!(e, ServiceError::Registry(RegistryError::ModelNotFound(m)) if m == "nosuch")
    }

    #[tokio::test]
    async fn histories_of_an_unknown_model_are_refused_not_empty() {
        let (dir, config) = project();
        let b = open_at(&config, "alice", 1_000).await;
        push_one(&b, dir.path(), "churn", b"weights").await;
        let e = b.alias_history(&name("nosuch"), None).await.unwrap_err();
        assert!(is_model_not_found(&e), "{e}");
        let e = b.deployments(&name("nosuch"), None).await.unwrap_err();
        assert!(is_model_not_found(&e), "{e}");
        assert!(b.alias_history(&name("churn"), None).await.unwrap().is_empty(), "a known model with no moves");
        assert!(b.deployments(&name("churn"), None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn versions_come_with_where_the_aliases_point() {
        let (dir, config) = project();
        let b = open_at(&config, "alice", 1_000).await;
        push_one(&b, dir.path(), "churn", b"one").await;
        let two = push_one(&b, dir.path(), "churn", b"two").await;
        b.alias_set(&name("churn"), &AliasName::parse("champion").unwrap(), two, None).await.unwrap();
        let r = b.versions_with_aliases(&name("churn")).await.unwrap();
        assert_eq!(r.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1], "newest first");
        assert_eq!(r.aliases, BTreeMap::from([("champion".to_string(), two)]));
        let e = b.versions_with_aliases(&name("nosuch")).await.unwrap_err();
        assert!(is_model_not_found(&e), "{e}");
    }
}
