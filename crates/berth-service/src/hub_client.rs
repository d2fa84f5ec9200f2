//! The hub over HTTP: [`Operations`] carried out by a `berth hub`, with a
//! token. Every answer is parsed into the same reports the in-process service
//! returns, and every refusal back into a [`ServiceError`] of the same kind,
//! so a command prints and exits alike either way.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use berth_core::{
    AliasEvent, AliasName, Approval, AuditEntry, Clock, Delivery, Digest, GateRecord, ModelName, MonitorRecord, Ref,
    Selector, SystemClock, Timestamp, VersionRecord,
};
use berth_store::StatCache;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::seam::{Operations, RolloutEnd};
use crate::{
    ApprovalFilter, ApproveReport, CheckReport, CheckRequest, DeploymentRecord, Endpoint, EndpointUrl, ErrorKind, Lack,
    LogSegment, LogSegmentPut, ModelFile, ModelSummary, MonitorRecorded, NewTokenReport, PolicyApplyReport,
    PolicyRecord, PolicySet, PolicyShowReport, Principal, PromoteReport, PullReport, PushOptions, PushReport,
    PushRequest, Result, RollbackReport, ServiceError, ShowReport, TokenRecord, TokenRequest, Transfer, VersionsReport,
};

pub struct HubClient {
    pub(crate) endpoint: Endpoint,
    pub(crate) url: String,
    /// This machine's cache (`$XDG_CACHE_HOME/berth`): the digests of pushed
    /// and pulled files, so an unchanged file is not read again, and verified
    /// copies of models fetched to score; `None` remembers nothing.
    pub(crate) cache_dir: Option<PathBuf>,
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl HubClient {
    /// A client of the hub at `url` presenting `token`. A token is not sent
    /// in the clear to another machine unless `insecure` says so.
    pub fn new(url: &str, token: String, insecure: bool) -> Result<HubClient> {
        HubClient::with_ca(url, token, insecure, None)
    }

    /// [`HubClient::new`], trusting the certificates in `ca` (PEM) beside the
    /// system's for an `https://` hub.
    pub fn with_ca(url: &str, token: String, insecure: bool, ca: Option<&std::path::Path>) -> Result<HubClient> {
        let parsed = EndpointUrl::parse(url).map_err(|_| {
            ServiceError::input(
                format!("BERTH_HUB_URL {url:?} is not an http(s)://HOST[:PORT] address"),
                Some("e.g. BERTH_HUB_URL=https://hub.example.com:8443".to_string()),
            )
        })?;
        if !parsed.is_tls() && !loopback(parsed.host()) && !insecure {
            return Err(ServiceError::input(
                format!("{url} is another machine over plain HTTP: the token would cross the network unencrypted"),
                Some("reach the hub through TLS, or set BERTH_HUB_INSECURE=1 if the network is yours".to_string()),
            ));
        }
        let endpoint = Endpoint::at_url(parsed).with_admin_token(token);
        let endpoint = match ca {
            Some(ca) => endpoint.with_ca(ca)?,
            None => endpoint,
        };
        Ok(HubClient { endpoint, url: url.to_string(), cache_dir: None })
    }

    /// A client of the hub at `url`, its token from `BERTH_TOKEN` or else the
    /// credentials file (`$XDG_CONFIG_HOME/berth/credentials`, by default
    /// `~/.config/berth/credentials`: the token on its first line, readable
    /// by its owner alone); `BERTH_HUB_INSECURE=1` allows plain HTTP to
    /// another machine; `BERTH_HUB_CA` names a PEM file of certificates to
    /// trust beside the system's. This machine's cache is
    /// `$XDG_CACHE_HOME/berth` (by default `~/.cache/berth`).
    pub fn from_environment(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<HubClient> {
        let insecure = env("BERTH_HUB_INSECURE").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        let token = match env("BERTH_TOKEN").filter(|t| !t.trim().is_empty()) {
            Some(t) => t.trim().to_string(),
            None => credentials_file(env)?,
        };
        let cache = env("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| env("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".cache")));
        let ca = env("BERTH_HUB_CA").filter(|c| !c.is_empty()).map(PathBuf::from);
        let mut client = HubClient::with_ca(url, token, insecure, ca.as_deref())?;
        client.cache_dir = cache.map(|d| d.join("berth"));
        Ok(client)
    }

    /// This machine's cache directory for berth, if there is one.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        self.cache_dir.clone()
    }

    /// The stat cache of this machine's user, or one that remembers nothing.
    pub(crate) fn stat_cache(&self) -> StatCache {
        match &self.cache_dir {
            Some(d) => StatCache::load(d.join("stat.json")),
            None => StatCache::in_memory(),
        }
    }

    pub(crate) async fn call<T: DeserializeOwned>(&self, method: &str, path: &str, body: Option<Value>) -> Result<T> {
        let (status, answer) = self.endpoint.request(method, &format!("/api/v1{path}"), body.as_ref()).await?;
        if status >= 400 {
            return Err(refusal(status, &answer, &self.url));
        }
        serde_json::from_value(answer).map_err(|e| ServiceError::Infra {
            message: format!("{}{path} answered something this berth cannot read: {e}", self.url),
            hint: Some("run the same berth version as the hub".into()),
        })
    }

    /// `{"key": [...]}` answers, unwrapped.
    async fn list<T: DeserializeOwned>(&self, path: &str, key: &str) -> Result<T> {
        let mut v: Value = self.call("GET", path, None).await?;
        serde_json::from_value(v[key].take()).map_err(|e| ServiceError::Infra {
            message: format!("{}{path}: the {key:?} list cannot be read: {e}", self.url),
            hint: Some("run the same berth version as the hub".into()),
        })
    }
}

fn credentials_file(env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let dir = env("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".config")));
    let no_token = |why: String| {
        ServiceError::input(
            format!("a hub is configured but there is no token: {why}"),
            Some(
                "set BERTH_TOKEN, or put the token on the first line of ~/.config/berth/credentials (chmod 600)".into(),
            ),
        )
    };
    let Some(path) = dir.map(|d| d.join("berth").join("credentials")) else {
        return Err(no_token("BERTH_TOKEN is not set and there is no home directory".into()));
    };
    let meta = std::fs::metadata(&path)
        .map_err(|_| no_token(format!("BERTH_TOKEN is not set and {} does not exist", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ServiceError::input(
                format!(
                    "{} is readable by others (mode {mode:o}); berth will not use a token others can read",
                    path.display()
                ),
                Some(format!("chmod 600 {}", path.display())),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text =
        std::fs::read_to_string(&path).map_err(|e| no_token(format!("{} cannot be read: {e}", path.display())))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| no_token(format!("{} is empty", path.display())))
}

/// A hub's error body back into the service's error of the same kind.
pub(crate) fn refusal(status: u16, answer: &Value, url: &str) -> ServiceError {
    let e = &answer["error"];
    let message = e["message"].as_str().map(str::to_string).unwrap_or_else(|| format!("{url} answered {status}"));
    let hint = e["hint"].as_str().map(str::to_string);
    let kind = match e["code"].as_str().unwrap_or_default() {
        "not_found" => ErrorKind::NotFound,
        "conflict" => ErrorKind::Conflict,
        "denied" => ErrorKind::Denied,
        "unauthenticated" => ErrorKind::Unauthenticated,
        "corrupt" => ErrorKind::Corrupt,
        "bad_input" | "malformed" | "too_large" => ErrorKind::BadInput,
        _ => ErrorKind::Unavailable,
    };
    match kind {
        ErrorKind::Denied => {
            let missing: Vec<Lack> = serde_json::from_value(e["missing"].clone()).unwrap_or_default();
            ServiceError::Denied { message, hint, missing }
        }
        ErrorKind::Unauthenticated => ServiceError::Unauthenticated { message, hint },
        kind => ServiceError::Remote { kind, message, hint },
    }
}

fn selector(r: &Ref) -> String {
    match &r.selector {
        Selector::Version(n) => n.to_string(),
        Selector::Alias(a) => a.to_string(),
        Selector::Latest => "latest".into(),
    }
}

/// `?k=v&…` of the values present.
fn query(pairs: &[(&str, Option<String>)]) -> String {
    let present: Vec<String> = pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect();
    if present.is_empty() { String::new() } else { format!("?{}", present.join("&")) }
}

#[async_trait]
impl Operations for HubClient {
    async fn whoami(&self) -> Result<Principal> {
        self.call("GET", "/whoami", None).await
    }
    async fn models(&self) -> Result<Vec<ModelSummary>> {
        self.list("/models", "models").await
    }
    /// Every version, a page at a time.
    async fn versions_with_aliases(&self, model: &ModelName) -> Result<VersionsReport> {
        let mut all: VersionsReport = self.call("GET", &format!("/models/{model}/versions"), None).await?;
        while let Some(before) = all.next.take() {
            let page: VersionsReport =
                self.call("GET", &format!("/models/{model}/versions?before={before}"), None).await?;
            all.versions.extend(page.versions);
            all.next = page.next;
        }
        Ok(all)
    }
    async fn show(&self, r: &Ref) -> Result<ShowReport> {
        self.call("GET", &format!("/models/{}/versions/{}", r.model, selector(r)), None).await
    }
    async fn resolve(&self, r: &Ref) -> Result<VersionRecord> {
        Ok(self.show(r).await?.version)
    }
    async fn tag(&self, r: &Ref, tags: &BTreeMap<String, String>) -> Result<VersionRecord> {
        let path = format!("/models/{}/versions/{}/tags", r.model, selector(r));
        self.call("PUT", &path, Some(json!({ "tags": tags }))).await
    }
    async fn alias_set(
        &self,
        model: &ModelName,
        alias: &AliasName,
        n: u64,
        reason: Option<&str>,
    ) -> Result<Option<AliasEvent>> {
        let mut v: Value = self
            .call("PUT", &format!("/models/{model}/aliases/{alias}"), Some(json!({"version": n, "reason": reason})))
            .await?;
        Ok(serde_json::from_value(v["event"].take()).unwrap_or(None))
    }
    async fn alias_rm(&self, model: &ModelName, alias: &AliasName, reason: Option<&str>) -> Result<AliasEvent> {
        let q = query(&[("reason", reason.map(url_escape))]);
        self.call("DELETE", &format!("/models/{model}/aliases/{alias}{q}"), None).await
    }
    async fn alias_history(&self, model: &ModelName, alias: Option<&AliasName>) -> Result<Vec<AliasEvent>> {
        let q = query(&[("alias", alias.map(|a| a.to_string()))]);
        self.list(&format!("/models/{model}/history{q}"), "history").await
    }
    async fn promote_into(
        &self,
        r: &Ref,
        env: &AliasName,
        reason: Option<&str>,
        new_env: bool,
    ) -> Result<PromoteReport> {
        let body = json!({"version": selector(r), "env": env, "reason": reason, "new_env": new_env});
        match self.call("POST", &format!("/models/{}/promote", r.model), Some(body)).await {
            // The hub answers an unmet policy with 403 and what is missing;
            // the seam answers it with the report, as the service in-process does.
            Err(ServiceError::Denied { missing, .. }) if !missing.is_empty() => {
                let v = self.resolve(r).await?;
                let from = self.versions_with_aliases(&r.model).await?.aliases.get(env.as_str()).copied();
                Ok(PromoteReport {
                    model: v.model,
                    version: v.version,
                    env: env.clone(),
                    from,
                    promoted: false,
                    missing,
                    deployment: None,
                    notified: Vec::new(),
                })
            }
            other => other,
        }
    }
    async fn approve(&self, r: &Ref, env: &AliasName, comment: Option<&str>) -> Result<ApproveReport> {
        let path = format!("/models/{}/versions/{}/approvals", r.model, selector(r));
        self.call("POST", &path, Some(json!({"env": env, "comment": comment}))).await
    }
    async fn approvals(&self, f: &ApprovalFilter) -> Result<Vec<Approval>> {
        let q = query(&[
            ("model", f.model.as_ref().map(|m| m.to_string())),
            ("version", f.version.map(|v| v.to_string())),
            ("env", f.env.as_ref().map(|e| e.to_string())),
        ]);
        self.list(&format!("/approvals{q}"), "approvals").await
    }
    async fn rollback(
        &self,
        model: &ModelName,
        env: &AliasName,
        to: Option<u64>,
        reason: Option<&str>,
    ) -> Result<RollbackReport> {
        let body = json!({"env": env, "to": to, "reason": reason});
        self.call("POST", &format!("/models/{model}/rollback"), Some(body)).await
    }
    async fn check(&self, req: &CheckRequest) -> Result<CheckReport> {
        let body = json!({
            "env": req.env, "live": req.live, "max_degradation": req.max_degradation,
            "dry_run": req.dry_run, "evidence": req.evidence,
        });
        self.call("POST", &format!("/models/{}/check", req.model), Some(body)).await
    }
    async fn deployments(&self, model: &ModelName, env: Option<&AliasName>) -> Result<Vec<DeploymentRecord>> {
        let q = query(&[("env", env.map(|e| e.to_string()))]);
        self.list(&format!("/models/{model}/deployments{q}"), "deployments").await
    }
    async fn log(&self, model: Option<ModelName>, limit: Option<u32>) -> Result<Vec<AuditEntry>> {
        let q = query(&[("model", model.map(|m| m.to_string())), ("limit", limit.map(|l| l.to_string()))]);
        self.list(&format!("/audit{q}"), "entries").await
    }
    async fn notifications(&self, limit: Option<u32>) -> Result<Vec<Delivery>> {
        let q = query(&[("limit", limit.map(|l| l.to_string()))]);
        self.list(&format!("/notifications{q}"), "deliveries").await
    }
    async fn create_token(&self, req: &TokenRequest) -> Result<NewTokenReport> {
        let g = &req.grant;
        let body = json!({
            "principal": req.principal, "role": g.role, "models": g.models, "envs": g.envs,
            "expires_at": req.expires_at,
        });
        self.call("POST", "/tokens", Some(body)).await
    }
    async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.list("/tokens", "tokens").await
    }
    async fn revoke_token(&self, id: &str) -> Result<TokenRecord> {
        self.call("DELETE", &format!("/tokens/{}", url_escape(id)), None).await
    }
    async fn policy_show(&self) -> Result<PolicyShowReport> {
        let in_force = self.call("GET", "/policy", None).await?;
        Ok(PolicyShowReport { in_force, differs_from_config: false })
    }
    async fn policy_history(&self) -> Result<Vec<PolicyRecord>> {
        self.list("/policy/history", "policies").await
    }
    async fn policy_apply(&self, environments: &PolicySet, source: &str) -> Result<PolicyApplyReport> {
        self.call("PUT", "/policy", Some(json!({"environments": environments, "source": source}))).await
    }
    async fn policy_warning(&self) -> Result<Option<String>> {
        Ok(None)
    }
    async fn push_files(&self, req: PushRequest, opts: &PushOptions, transfer: &dyn Transfer) -> Result<PushReport> {
        crate::hub_transfer::push(self, req, opts, transfer).await
    }
    async fn pull(&self, r: &Ref, dir: Option<PathBuf>, transfer: &dyn Transfer) -> Result<PullReport> {
        crate::hub_transfer::pull(self, r, dir, transfer).await
    }
    fn now(&self) -> Timestamp {
        SystemClock.now()
    }
    async fn fetch_model(&self, r: &Ref) -> Result<(ModelFile, Digest, VersionRecord)> {
        crate::hub_transfer::fetch_model(self, r).await
    }
    async fn version_file(&self, v: &VersionRecord, path: &str) -> Result<Option<Vec<u8>>> {
        crate::hub_transfer::version_file(self, v, path).await
    }
    async fn store_gate_report(
        &self,
        v: &VersionRecord,
        gate: &str,
        report: &berth_gate::Report,
    ) -> Result<GateRecord> {
        let path = format!("/models/{}/versions/{}/gate-reports", v.model, v.version);
        self.call("POST", &path, Some(json!({"gate": gate, "report": report}))).await
    }
    async fn record_monitor_report(
        &self,
        v: &VersionRecord,
        env: &AliasName,
        report: &Value,
    ) -> Result<MonitorRecorded> {
        let body = json!({"version": v.version, "env": env, "report": report});
        self.call("POST", &format!("/models/{}/monitor-reports", v.model), Some(body)).await
    }
    async fn monitor_reports(
        &self,
        model: &ModelName,
        env: Option<&AliasName>,
        limit: Option<u32>,
    ) -> Result<Vec<MonitorRecord>> {
        let q = query(&[("env", env.map(|e| e.to_string())), ("limit", limit.map(|l| l.to_string()))]);
        self.list(&format!("/models/{model}/monitor-reports{q}"), "monitor_reports").await
    }
    async fn check_servable(&self, r: &Ref) -> Result<Option<String>> {
        let mut v: Value =
            self.call("GET", &format!("/models/{}/versions/{}/servable", r.model, selector(r)), None).await?;
        Ok(v["waiting"].take().as_str().map(str::to_string))
    }
    async fn rollout_allowed(&self, model: &ModelName, env: &AliasName, candidate: u64) -> Result<()> {
        let body = json!({"env": env, "candidate": candidate});
        let _: Value = self.call("POST", &format!("/models/{model}/rollouts/allowed"), Some(body)).await?;
        Ok(())
    }
    async fn rollout_promote(&self, end: &RolloutEnd) -> Result<Option<AliasEvent>> {
        let mut v: Value =
            self.call("POST", &format!("/models/{}/rollouts/promoted", end.model), Some(ended(end))).await?;
        Ok(serde_json::from_value(v["event"].take()).unwrap_or(None))
    }
    async fn rollout_aborted(&self, end: &RolloutEnd) -> Result<()> {
        let _: Value = self.call("POST", &format!("/models/{}/rollouts/aborted", end.model), Some(ended(end))).await?;
        Ok(())
    }
    async fn put_log_segment(&self, model: &ModelName, name: &str, bytes: Vec<u8>) -> Result<LogSegmentPut> {
        crate::hub_log::put(self, model, name, bytes).await
    }
    async fn log_segments(&self, model: &ModelName) -> Result<Vec<LogSegment>> {
        self.list(&format!("/models/{model}/log-segments"), "log_segments").await
    }
    async fn log_segment(&self, segment: &LogSegment) -> Result<Vec<u8>> {
        crate::hub_log::get(self, segment).await
    }
}

/// A rollout's end as the hub's routes take it (the model is in the path).
fn ended(end: &RolloutEnd) -> Value {
    json!({"env": end.env, "candidate": end.candidate, "reason": end.reason, "record": end.record})
}

/// Percent-encodes everything but unreserved characters, for a query value or path segment.
pub(crate) fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_not_sent_in_the_clear_to_another_machine() {
        assert!(HubClient::new("http://127.0.0.1:8443", "t".into(), false).is_ok());
        assert!(HubClient::new("http://localhost:8443", "t".into(), false).is_ok());
        assert!(HubClient::new("http://hub.example.com:8443", "t".into(), false).is_err());
        assert!(HubClient::new("http://hub.example.com:8443", "t".into(), true).is_ok());
        assert!(HubClient::new("ftp://x", "t".into(), true).is_err());
        assert!(HubClient::new("https://hub.example.com", "t".into(), false).is_ok());
    }

    #[test]
    fn refusals_keep_their_kind() {
        let body = json!({"error": {"code": "not_found", "message": "model \"x\" does not exist", "hint": "h"}});
        let e = refusal(404, &body, "http://h");
        assert_eq!(
            (e.kind(), e.message().as_str(), e.hint().as_deref()),
            (ErrorKind::NotFound, "model \"x\" does not exist", Some("h"))
        );
        assert_eq!(
            refusal(401, &json!({"error": {"code": "unauthenticated", "message": "m"}}), "u").kind(),
            ErrorKind::Unauthenticated
        );
        assert_eq!(refusal(502, &json!("gateway"), "u").kind(), ErrorKind::Unavailable);
        assert_eq!(url_escape("a b/é"), "a%20b%2F%C3%A9");
    }
}
