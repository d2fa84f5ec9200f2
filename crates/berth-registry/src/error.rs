use berth_core::{ErrorClass, Exit};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("model {0:?} does not exist")]
    ModelNotFound(String),
    #[error("version {version} of model {model:?} does not exist (latest is {latest})")]
    VersionNotFound { model: String, version: u64, latest: String },
    #[error("alias {alias:?} of model {model:?} does not exist")]
    AliasNotFound { model: String, alias: String },
    #[error("{model}@{env} has no earlier healthy version to roll back to (it points at {}; {moves} moves in its history)", .current.map(|c| format!("version {c}")).unwrap_or_else(|| "nothing".into()))]
    NothingToRollBack { model: String, env: String, current: Option<u64>, moves: usize },
    #[error("moving {model}@{env} to version {version} refused: {reason}")]
    MoveRefused { model: String, env: String, version: u64, reason: String },
    #[error("model {model:?} has {versions} version(s); berth deletes only a model without versions")]
    ModelHasVersions { model: String, versions: u64 },
    #[error("token {0:?} does not exist")]
    TokenNotFound(String),
    #[error("a garbage collection is running on {url}")]
    GcRunning { url: String },
    #[error("registry {url} is locked by another process and stayed locked: {source}")]
    Locked { url: String, source: sqlx::Error },
    #[error("cannot connect to {engine} at {address}: {reason}")]
    Unreachable { engine: &'static str, address: String, reason: String },
    #[error("registry {url}: {source}")]
    Db { url: String, source: sqlx::Error },
    #[error("registry {url} holds a row berth cannot read ({what}): {detail}")]
    BadRow { url: String, what: &'static str, detail: String },
    #[error("invalid registry URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("registry {url} has schema version {found}, newer than this berth knows ({known}); upgrade berth")]
    SchemaTooNew { url: String, found: i64, known: i64 },
}

impl RegistryError {
    pub(crate) fn db(url: &str) -> impl FnOnce(sqlx::Error) -> RegistryError + '_ {
        move |source| {
            let locked = match &source {
                sqlx::Error::Database(e) => {
                    let m = e.message();
                    m.contains("database is locked") || m.contains("database table is locked")
                }
                sqlx::Error::PoolTimedOut => true,
                _ => false,
            };
            if locked && url.starts_with("sqlite") {
                RegistryError::Locked { url: url.to_string(), source }
            } else {
                RegistryError::Db { url: url.to_string(), source }
            }
        }
    }
}

impl Exit for RegistryError {
    fn class(&self) -> ErrorClass {
        match self {
            RegistryError::ModelNotFound(_)
            | RegistryError::VersionNotFound { .. }
            | RegistryError::AliasNotFound { .. }
            | RegistryError::NothingToRollBack { .. }
            | RegistryError::TokenNotFound(_)
            | RegistryError::Url { .. } => ErrorClass::Input,
            RegistryError::MoveRefused { .. } => ErrorClass::Failed,
            RegistryError::ModelHasVersions { .. } => ErrorClass::Input,
            _ => ErrorClass::Infra,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RegistryError::ModelNotFound(_) => Some("run `berth models` to list the models".into()),
            RegistryError::VersionNotFound { model, .. } => Some(format!("run `berth versions {model}` to list its versions")),
            RegistryError::AliasNotFound { model, .. } => Some(format!("run `berth show {model}` to see its aliases")),
            RegistryError::NothingToRollBack { model, env, .. } => Some(format!(
                "name the version with --to N; `berth deployments {model} --env {env}` shows what it pointed at"
            )),
            RegistryError::ModelHasVersions { model, .. } => Some(format!(
                "versions are kept for rollbacks and the audit trail, so only a model created without any can be \
                 deleted; `berth versions {model}` lists what {model} holds"
            )),
            RegistryError::TokenNotFound(_) => Some("run `berth token list` to see the tokens and their ids".into()),
            RegistryError::GcRunning { .. } => Some("wait for `berth gc` to finish, then retry".into()),
            RegistryError::Locked { .. } => {
                Some("another berth process holds the registry; retry when it is done, or raise BERTH_REGISTRY_BUSY_TIMEOUT_MS".into())
            }
            RegistryError::Db { url, .. } if url.starts_with("postgres") => {
                Some("check that PostgreSQL is running and the URL (BERTH_REGISTRY_URL or berth.toml) is right".into())
            }
            RegistryError::Unreachable { engine, .. } => Some(format!(
                "check that {engine} is running and listening there, and that the URL (BERTH_REGISTRY_URL or \
                 berth.toml) is right"
            )),
            RegistryError::Url { .. } => Some("use sqlite://PATH or postgres://USER@HOST:PORT/DB".into()),
            _ => None,
        }
    }
}
