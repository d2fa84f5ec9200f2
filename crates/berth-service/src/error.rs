use berth_core::{ErrorClass, Exit};
use berth_data::DataError;
use berth_registry::RegistryError;
use berth_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Data(#[from] DataError),
    /// The user asked something that cannot be done as asked.
    #[error("{message}")]
    Input { message: String, hint: Option<String> },
    /// The project's configuration is missing or wrong.
    #[error("{message}")]
    Config { message: String, hint: Option<String> },
    /// A policy said no: what is missing, each with its fix.
    #[error("{message}")]
    Denied { message: String, hint: Option<String>, missing: Vec<crate::Lack> },
    /// The caller did not say who it is, or its credentials are not valid.
    #[error("{message}")]
    Unauthenticated { message: String, hint: Option<String> },
    /// The current state forbids the act; it may succeed once that changes.
    #[error("{message}")]
    Conflict { message: String, hint: Option<String> },
    /// What the call names is not there (beyond models, versions and aliases,
    /// which the registry's own errors say).
    #[error("{message}")]
    NotFound { message: String, hint: Option<String> },
    /// A hub refused, with a kind of its own choosing.
    #[error("{message}")]
    Remote { kind: ErrorKind, message: String, hint: Option<String> },
    /// Storage or registry is in a state that needs attention.
    #[error("{message}")]
    Infra { message: String, hint: Option<String> },
    /// What berth stored reads back damaged (an unreadable manifest, a blob
    /// that does not survive being restored).
    #[error("{message}")]
    Corrupt { message: String, hint: Option<String> },
}

/// What a failure means to whoever called the service, whatever carries the
/// call (a terminal, HTTP). A server answers from this alone, so it never has
/// to know the store's or the registry's own error types; each kind names
/// the HTTP status a server gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// What the call names does not exist: a model, a version, an alias. The
    /// caller may fix the name; retrying as is never helps. HTTP 404.
    NotFound,
    /// The call is well formed but the current state forbids it: nothing
    /// earlier to roll back to, a file that changed while it was stored. It
    /// may succeed once that state changes. HTTP 409.
    Conflict,
    /// A policy or a permission said no: an environment's requirements are
    /// not met, or the actor may not do this. HTTP 403.
    Denied,
    /// The caller did not prove who it is: no token, or one that is unknown,
    /// revoked or expired. HTTP 401.
    Unauthenticated,
    /// The registry, the store or a file system could not be reached or did
    /// not answer in time (down, locked, busy with a garbage collection, a
    /// full disk). Retrying later may succeed. HTTP 503.
    Unavailable,
    /// What berth holds is damaged or unreadable: a blob that does not hash
    /// to its name or is missing although a version names it, a registry row
    /// or manifest that cannot be read, a registry schema newer than this
    /// berth. Retrying does not help and the caller did nothing wrong; an
    /// operator must act (`berth fsck`, an upgrade). HTTP 500.
    Corrupt,
    /// The request itself is wrong: a malformed value, a bad URL, a
    /// configuration that does not parse, unreadable input data. The caller
    /// must change it. HTTP 422 (400 when the body cannot even be parsed).
    BadInput,
}

impl ErrorKind {
    /// The HTTP status a server answers this kind with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Denied => 403,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::Unavailable => 503,
            ErrorKind::Corrupt => 500,
            ErrorKind::BadInput => 422,
        }
    }
}

impl ServiceError {
    pub fn input(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        ServiceError::Input { message: message.into(), hint: hint.into() }
    }

    /// What this failure means to the caller; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Store(e) => store_kind(e),
            ServiceError::Registry(e) => registry_kind(e),
            ServiceError::Data(e) => data_kind(e),
            ServiceError::Input { .. } | ServiceError::Config { .. } => ErrorKind::BadInput,
            ServiceError::Denied { .. } => ErrorKind::Denied,
            ServiceError::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            ServiceError::Conflict { .. } => ErrorKind::Conflict,
            ServiceError::NotFound { .. } => ErrorKind::NotFound,
            ServiceError::Remote { kind, .. } => *kind,
            ServiceError::Infra { .. } => ErrorKind::Unavailable,
            ServiceError::Corrupt { .. } => ErrorKind::Corrupt,
        }
    }

    /// What went wrong, naming the value; without the hint.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        Exit::hint(self)
    }
}

/// Every variant is named, so that a new one forces a decision here.
fn store_kind(e: &StoreError) -> ErrorKind {
    match e {
        // The service asks the store only for blobs a version names, so a
        // missing one means the store lost data, not that the caller erred.
        StoreError::NotFound { .. } | StoreError::Corrupt { .. } => ErrorKind::Corrupt,
        StoreError::Changed { .. } => ErrorKind::Conflict,
        StoreError::Io { .. } | StoreError::Remote { .. } => ErrorKind::Unavailable,
        StoreError::TooLarge { .. } | StoreError::Input { .. } | StoreError::Url { .. } => ErrorKind::BadInput,
    }
}

/// Every variant is named, so that a new one forces a decision here.
fn registry_kind(e: &RegistryError) -> ErrorKind {
    match e {
        RegistryError::ModelNotFound(_)
        | RegistryError::VersionNotFound { .. }
        | RegistryError::AliasNotFound { .. } => ErrorKind::NotFound,
        RegistryError::TokenNotFound(_) => ErrorKind::NotFound,
        RegistryError::MoveRefused { .. } => ErrorKind::Denied,
        RegistryError::NothingToRollBack { .. } | RegistryError::ModelHasVersions { .. } => ErrorKind::Conflict,
        RegistryError::GcRunning { .. }
        | RegistryError::Locked { .. }
        | RegistryError::Unreachable { .. }
        | RegistryError::Db { .. } => ErrorKind::Unavailable,
        RegistryError::BadRow { .. } | RegistryError::SchemaTooNew { .. } => ErrorKind::Corrupt,
        RegistryError::Url { .. } => ErrorKind::BadInput,
    }
}

/// Data files are named by the caller, so a missing one is bad input; any
/// other read failure is the file system's.
fn data_kind(e: &DataError) -> ErrorKind {
    match e {
        DataError::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound => ErrorKind::Unavailable,
        DataError::Io { .. }
        | DataError::Empty { .. }
        | DataError::Csv { .. }
        | DataError::Parquet { .. }
        | DataError::UnsupportedType { .. }
        | DataError::MissingColumns { .. }
        | DataError::WrongType { .. }
        | DataError::UnknownFormat { .. }
        | DataError::Invalid(_) => ErrorKind::BadInput,
    }
}

impl Exit for ServiceError {
    fn class(&self) -> ErrorClass {
        match self {
            ServiceError::Store(e) => e.class(),
            ServiceError::Registry(e) => e.class(),
            ServiceError::Data(e) => e.class(),
            ServiceError::Input { .. }
            | ServiceError::Config { .. }
            | ServiceError::Conflict { .. }
            | ServiceError::NotFound { .. } => ErrorClass::Input,
            ServiceError::Infra { .. } | ServiceError::Corrupt { .. } => ErrorClass::Infra,
            ServiceError::Denied { .. } | ServiceError::Unauthenticated { .. } => ErrorClass::Failed,
            ServiceError::Remote { kind, .. } => match kind {
                ErrorKind::Denied | ErrorKind::Unauthenticated => ErrorClass::Failed,
                ErrorKind::Unavailable | ErrorKind::Corrupt => ErrorClass::Infra,
                ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::BadInput => ErrorClass::Input,
            },
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ServiceError::Store(e) => e.hint(),
            ServiceError::Registry(e) => e.hint(),
            ServiceError::Data(e) => e.hint(),
            ServiceError::Input { hint, .. }
            | ServiceError::Config { hint, .. }
            | ServiceError::Infra { hint, .. }
            | ServiceError::Corrupt { hint, .. }
            | ServiceError::Unauthenticated { hint, .. }
            | ServiceError::Conflict { hint, .. }
            | ServiceError::NotFound { hint, .. }
            | ServiceError::Remote { hint, .. }
            | ServiceError::Denied { hint, .. } => hint.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use berth_core::Digest;

    use super::*;

    fn io(kind: std::io::ErrorKind) -> std::io::Error {
        std::io::Error::new(kind, "gone")
    }

    fn kind_of(e: impl Into<ServiceError>) -> ErrorKind {
        e.into().kind()
    }

    #[test]
    fn registry_errors_sort_into_kinds() {
        let (model, url) = ("churn".to_string(), "postgres://db/berth".to_string());
        let cases = [
            (RegistryError::ModelNotFound(model.clone()), ErrorKind::NotFound),
            (
                RegistryError::VersionNotFound { model: model.clone(), version: 9, latest: "3".into() },
                ErrorKind::NotFound,
            ),
            (RegistryError::AliasNotFound { model: model.clone(), alias: "production".into() }, ErrorKind::NotFound),
            (
                RegistryError::NothingToRollBack {
                    model: model.clone(),
                    env: "production".into(),
                    current: Some(1),
                    moves: 1,
                },
                ErrorKind::Conflict,
            ),
            (RegistryError::ModelHasVersions { model: model.clone(), versions: 2 }, ErrorKind::Conflict),
            (RegistryError::GcRunning { url: url.clone() }, ErrorKind::Unavailable),
            (
                RegistryError::Unreachable {
                    engine: "PostgreSQL",
                    address: "127.0.0.1:1".into(),
                    reason: "refused".into(),
                },
                ErrorKind::Unavailable,
            ),
            (
                RegistryError::BadRow { url: url.clone(), what: "version", detail: "bad digest".into() },
                ErrorKind::Corrupt,
            ),
            (RegistryError::SchemaTooNew { url: url.clone(), found: 99, known: 7 }, ErrorKind::Corrupt),
            (RegistryError::Url { url: "mysql://x".into(), reason: "unknown engine".into() }, ErrorKind::BadInput),
        ];
        for (e, kind) in cases {
            let shown = e.to_string();
            assert_eq!(kind_of(e), kind, "{shown}");
        }
    }

    #[test]
    fn store_errors_sort_into_kinds() {
        let (digest, location) = (Digest::of(b"m"), "s3://models".to_string());
        let path = PathBuf::from("model.onnx");
        let cases = [
            (StoreError::NotFound { digest, location: location.clone() }, ErrorKind::Corrupt),
            (StoreError::Corrupt { digest, actual: Digest::of(b"n"), location: location.clone() }, ErrorKind::Corrupt),
            (
                StoreError::Changed { path: path.clone(), expected: digest, actual: Digest::of(b"n") },
                ErrorKind::Conflict,
            ),
            (
                StoreError::Io { what: "read", path: path.clone(), source: io(std::io::ErrorKind::Other) },
                ErrorKind::Unavailable,
            ),
            (StoreError::TooLarge { digest, size: 2, max: 1 }, ErrorKind::BadInput),
            (StoreError::Input { path: path.clone(), reason: "is a directory".into() }, ErrorKind::BadInput),
            (StoreError::Url { url: "ftp://x".into(), reason: "unknown scheme".into() }, ErrorKind::BadInput),
        ];
        for (e, kind) in cases {
            let shown = e.to_string();
            assert_eq!(kind_of(e), kind, "{shown}");
        }
    }

    #[test]
    fn the_service_s_own_errors_and_data_errors_sort_into_kinds() {
        let said = |m: &str| (m.to_string(), Some("do this".to_string()));
        let (message, hint) = said("no");
        assert_eq!(ServiceError::Denied { message, hint, missing: Vec::new() }.kind(), ErrorKind::Denied);
        assert_eq!(ServiceError::input("bad", None).kind(), ErrorKind::BadInput);
        let (message, hint) = said("no berth.toml");
        assert_eq!(ServiceError::Config { message, hint }.kind(), ErrorKind::BadInput);
        let (message, hint) = said("disk full");
        assert_eq!(ServiceError::Infra { message, hint }.kind(), ErrorKind::Unavailable);
        let (message, hint) = said("manifest unreadable");
        assert_eq!(ServiceError::Corrupt { message, hint }.kind(), ErrorKind::Corrupt);
        let (message, hint) = said("no such segment");
        assert_eq!(ServiceError::NotFound { message, hint }.kind(), ErrorKind::NotFound);
        let path = PathBuf::from("data.csv");
        let missing = DataError::Io { path: path.clone(), source: io(std::io::ErrorKind::NotFound) };
        assert_eq!(kind_of(missing), ErrorKind::BadInput, "a data file is named by the caller");
        let unreadable = DataError::Io { path: path.clone(), source: io(std::io::ErrorKind::PermissionDenied) };
        assert_eq!(kind_of(unreadable), ErrorKind::Unavailable);
        assert_eq!(kind_of(DataError::Csv { path, line: 3, message: "2 fields".into() }), ErrorKind::BadInput);
    }

    #[test]
    fn message_and_hint_travel_apart_and_each_kind_has_its_status() {
        let e = ServiceError::from(RegistryError::ModelNotFound("churn".into()));
        assert_eq!(e.message(), "model \"churn\" does not exist");
        assert_eq!(e.hint().as_deref(), Some("run `berth models` to list the models"));
        let statuses = [
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::Denied, 403),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::Corrupt, 500),
            (ErrorKind::BadInput, 422),
        ];
        for (kind, status) in statuses {
            assert_eq!(kind.http_status(), status, "{kind:?}");
        }
    }
}
