//! Configuration in layers: defaults, then `berth.toml` at the project root,
//! then environment variables `BERTH_<SECTION>_<KEY>` (secrets come only from
//! the environment). A project is found by walking up from the working
//! directory to the first `berth.toml`.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use berth_core::AliasName;
use berth_deploy::{NotifierConfig, Policy};
use berth_gate::monitor::MonitorSpec;
use serde::{Deserialize, Serialize};

use crate::{Result, ServiceError};

pub const ENV_PREFIX: &str = "BERTH_";
pub const CONFIG_FILE: &str = "berth.toml";
pub const STATE_DIR: &str = ".berth";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub registry: RegistrySection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub user: UserSection,
    /// The team's hub: `[hub] url`; with it every command goes through the hub.
    #[serde(default)]
    pub hub: HubSection,
    /// Each environment's policy: `[environments.production]`.
    #[serde(default)]
    pub environments: BTreeMap<String, Policy>,
    /// Where events are sent: `[[notifiers]]`.
    #[serde(default)]
    pub notifiers: Vec<NotifierConfig>,
    /// What `berth monitor MODEL` holds live traffic to: `[monitors.MODEL]`.
    #[serde(default)]
    pub monitors: BTreeMap<String, MonitorSpec>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegistrySection {
    pub url: Option<String>,
    pub busy_timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    pub url: Option<String>,
    pub cache_dir: Option<String>,
    pub jobs: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HubSection {
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserSection {
    pub name: Option<String>,
}

/// The resolved configuration a command runs with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// The project root (where `berth.toml` is), if there is one.
    pub root: Option<PathBuf>,
    pub registry_url: String,
    pub store_url: String,
    pub cache_dir: Option<PathBuf>,
    pub busy_timeout_ms: u64,
    pub jobs: usize,
    pub user: Option<String>,
    /// The hub every command goes through, when there is one.
    pub hub_url: Option<String>,
    pub environments: BTreeMap<String, Policy>,
    pub notifiers: Vec<NotifierConfig>,
    pub monitors: BTreeMap<String, MonitorSpec>,
}

pub const DEFAULT_REGISTRY: &str = "sqlite://.berth/registry.db";
pub const DEFAULT_STORE: &str = ".berth/store";
const DEFAULT_CACHE: &str = ".berth/cache/blobs";

fn env_var(env: &dyn Fn(&str) -> Option<String>, section: &str, key: &str) -> Option<String> {
    env(&format!("{ENV_PREFIX}{}_{}", section.to_ascii_uppercase(), key.to_ascii_uppercase())).filter(|v| !v.is_empty())
}

fn parse_num<T: std::str::FromStr>(name: &str, v: String) -> Result<T> {
    v.parse().map_err(|_| ServiceError::Config {
        message: format!("{name} is {v:?}, not a number"),
        hint: Some(format!("set {name} to a whole number")),
    })
}

impl Config {
    /// Finds the project from `start` upwards and resolves the configuration.
    /// Without a project, the registry and store URLs must both come from
    /// the environment.
    pub fn discover(start: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let root = start.ancestors().find(|d| d.join(CONFIG_FILE).is_file()).map(Path::to_path_buf);
        let file = match &root {
            Some(r) => read_checked(&r.join(CONFIG_FILE))?,
            None => FileConfig::default(),
        };
        let base = root.clone().unwrap_or_else(|| start.to_path_buf());
        let registry_url = env_var(env, "registry", "url").or(file.registry.url);
        let store_url = env_var(env, "store", "url").or(file.store.url);
        let (registry_url, store_url) = match (root.is_some(), registry_url, store_url) {
            (true, r, s) => (r.unwrap_or_else(|| DEFAULT_REGISTRY.into()), s.unwrap_or_else(|| DEFAULT_STORE.into())),
            (false, Some(r), Some(s)) => (r, s),
            (false, _, _) => {
                return Err(ServiceError::Config {
                    message: format!(
                        "{} is not inside a berth project (no {CONFIG_FILE} here or above)",
                        start.display()
                    ),
                    hint: Some("run `berth init` here, or set BERTH_REGISTRY_URL and BERTH_STORE_URL".into()),
                });
            }
        };
        let registry_url = absolutise_sqlite(&registry_url, &base);
        let cache_dir = env_var(env, "store", "cache_dir").or(file.store.cache_dir).map(|c| base.join(c));
        let cache_dir = cache_dir.or_else(|| root.as_ref().map(|r| r.join(DEFAULT_CACHE)));
        let busy_timeout_ms = match env_var(env, "registry", "busy_timeout_ms") {
            Some(v) => parse_num("BERTH_REGISTRY_BUSY_TIMEOUT_MS", v)?,
            None => file.registry.busy_timeout_ms.unwrap_or(15_000),
        };
        let jobs = match env_var(env, "store", "jobs") {
            Some(v) => parse_num("BERTH_STORE_JOBS", v)?,
            None => file.store.jobs.unwrap_or(4),
        }
        .max(1);
        let user =
            env("BERTH_USER").filter(|v| !v.is_empty()).or_else(|| env_var(env, "user", "name")).or(file.user.name);
        let store_url = if store_url.contains("://") { store_url } else { base.join(store_url).display().to_string() };
        let hub_url = env("BERTH_HUB_URL").filter(|v| !v.is_empty()).or(file.hub.url);
        let (environments, notifiers, monitors) = (file.environments, file.notifiers, file.monitors);
        Ok(Config {
            root,
            registry_url,
            store_url,
            cache_dir,
            busy_timeout_ms,
            jobs,
            user,
            hub_url,
            environments,
            notifiers,
            monitors,
        })
    }

    /// Where per-project state that is not shared lives (the stat cache).
    pub fn state_dir(&self) -> Option<PathBuf> {
        self.root.as_ref().map(|r| r.join(STATE_DIR))
    }
}

/// A `berth.toml` read and its environments and notifiers checked.
pub(crate) fn read_checked(path: &Path) -> Result<FileConfig> {
    let file = read_file_config(path)?;
    check_deploy_sections(&file)?;
    Ok(file)
}

fn check_deploy_sections(file: &FileConfig) -> Result<()> {
    let mut problems = Vec::new();
    for (name, policy) in &file.environments {
        if let Err(e) = AliasName::parse(name) {
            problems.push(format!("[environments.{name}]: {e}"));
        }
        problems.extend(policy.problems(name));
    }
    let mut seen = std::collections::BTreeSet::new();
    for n in &file.notifiers {
        if !seen.insert(&n.name) {
            problems.push(format!("two notifiers are named {:?}", n.name));
        }
        problems.extend(n.problems());
    }
    for (model, m) in &file.monitors {
        if let Err(e) = berth_core::ModelName::parse(model) {
            problems.push(format!("[monitors.{model}]: {e}"));
        }
        problems.extend(m.problems().into_iter().map(|p| format!("[monitors.{model}]: {p}")));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(ServiceError::Config {
        message: format!("{CONFIG_FILE}: {}", problems.join("; ")),
        hint: Some("see the [environments.NAME], [[notifiers]] and [monitors.MODEL] examples in the README".into()),
    })
}

fn absolutise_sqlite(url: &str, base: &Path) -> String {
    if url.contains("://") && !url.starts_with("sqlite://") {
        return url.to_string();
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    format!("sqlite://{}", base.join(path).display())
}

fn read_file_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServiceError::Config { message: format!("cannot read {}: {e}", path.display()), hint: None })?;
    toml::from_str(&text).map_err(|e| ServiceError::Config {
        message: format!("{} is not valid: {}", path.display(), e.message()),
        hint: Some(
            "see the keys `berth init` writes: [registry] url, busy_timeout_ms; [store] url, cache_dir, jobs; \
             [user] name; [hub] url; [environments.NAME]; [[notifiers]]; [monitors.MODEL]"
                .into(),
        ),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct InitOutcome {
    pub root: PathBuf,
    pub created: bool,
    pub registry_url: String,
    pub store_url: String,
}

/// Creates `berth.toml` and `.berth/` in `dir`, adopting registry and store
/// URLs from the arguments or the environment. Running it again changes
/// nothing and says so.
pub fn init(
    dir: &Path,
    registry: Option<String>,
    store: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<InitOutcome> {
    let cfg_path = dir.join(CONFIG_FILE);
    let io = |what: &str, p: &Path, e: std::io::Error| ServiceError::Infra {
        message: format!("cannot {what} {}: {e}", p.display()),
        hint: Some("check the directory's permissions and free space".into()),
    };
    let created = !cfg_path.exists();
    if created {
        let registry = registry.or_else(|| env_var(env, "registry", "url")).unwrap_or_else(|| DEFAULT_REGISTRY.into());
        let store = store.or_else(|| env_var(env, "store", "url")).unwrap_or_else(|| DEFAULT_STORE.into());
        let text = format!(
            "# berth project configuration. Every key can be overridden by an environment\n\
             # variable BERTH_<SECTION>_<KEY>, e.g. BERTH_REGISTRY_URL. Secrets (S3 keys,\n\
             # database passwords) belong in the environment, not here.\n\n\
             [registry]\n# sqlite://PATH (embedded) or postgres://USER@HOST:PORT/DB\nurl = {}\n\n\
             [store]\n# a directory, file:///abs/path, or s3://bucket/prefix\nurl = {}\n",
            toml_str(&registry),
            toml_str(&store)
        );
        std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        std::fs::write(&cfg_path, text).map_err(|e| io("write", &cfg_path, e))?;
    }
    let state = dir.join(STATE_DIR);
    std::fs::create_dir_all(&state).map_err(|e| io("create", &state, e))?;
    let ignore = state.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "# berth's local state: registry, blobs, caches. Never commit it.\n*\n")
            .map_err(|e| io("write", &ignore, e))?;
    }
    let cfg = Config::discover(dir, env)?;
    Ok(InitOutcome { root: dir.to_path_buf(), created, registry_url: cfg.registry_url, store_url: cfg.store_url })
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), None, None, &env_of(&[])).unwrap();
        let cfg = Config::discover(dir.path(), &env_of(&[("BERTH_STORE_URL", "s3://b/p")])).unwrap();
        assert_eq!(cfg.store_url, "s3://b/p");
        assert!(cfg.registry_url.ends_with(".berth/registry.db"));
    }

    #[test]
    fn init_is_idempotent_and_adopts_urls() {
        let dir = tempfile::tempdir().unwrap();
        let a = init(dir.path(), None, Some("s3://models/x".into()), &env_of(&[])).unwrap();
        assert!(a.created);
        assert_eq!(a.store_url, "s3://models/x");
        let b = init(dir.path(), None, None, &env_of(&[])).unwrap();
        assert!(!b.created);
        assert_eq!(b.store_url, "s3://models/x");
    }

    #[test]
    fn a_directory_outside_a_project_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let e = Config::discover(dir.path(), &env_of(&[])).unwrap_err();
        assert!(e.to_string().contains("not inside a berth project"));
    }

    #[test]
    fn environments_and_notifiers_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[environments.production]\nrequire_gates = [\"production\"]\napprovals = 1\n\
                    allowed_branches = [\"main\"]\npromoters = [\"ci\", \"alice\"]\n\n\
                    [[notifiers]]\nname = \"team\"\nkind = \"slack\"\nurl_env = \"SLACK_WEBHOOK_URL\"\n";
        std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
        let cfg = Config::discover(dir.path(), &env_of(&[])).unwrap();
        let p = &cfg.environments["production"];
        assert_eq!((p.approvals, p.promoters.len()), (1, 2));
        assert!(!cfg.environments.contains_key("staging"));
        assert_eq!(cfg.notifiers[0].name, "team");

        let bad = "[environments.production]\napprovals = 1\nmax_degradation = 0\n\
                   [[notifiers]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://x\"\n";
        std::fs::write(dir.path().join(CONFIG_FILE), bad).unwrap();
        let e = Config::discover(dir.path(), &env_of(&[])).unwrap_err().to_string();
        assert!(e.contains("max_degradation is 0") && e.contains("secret_env"), "{e}");
        std::fs::write(dir.path().join(CONFIG_FILE), "[environments.production]\napprovels = 1\n").unwrap();
        let e = Config::discover(dir.path(), &env_of(&[])).unwrap_err().to_string();
        assert!(e.contains("approvels"), "{e}");
    }

    #[test]
    fn a_bad_config_file_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "[registry]\nurll = 1\n").unwrap();
        let e = Config::discover(dir.path(), &env_of(&[])).unwrap_err();
        assert!(e.to_string().contains("urll"), "{e}");
    }
}
