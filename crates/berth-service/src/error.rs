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
    /// Storage or registry is in a state that needs attention.
    #[error("{message}")]
    Infra { message: String, hint: Option<String> },
}

impl ServiceError {
    pub fn input(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        ServiceError::Input { message: message.into(), hint: hint.into() }
    }
}

impl Exit for ServiceError {
    fn class(&self) -> ErrorClass {
        match self {
            ServiceError::Store(e) => e.class(),
            ServiceError::Registry(e) => e.class(),
            ServiceError::Data(e) => e.class(),
            ServiceError::Input { .. } | ServiceError::Config { .. } => ErrorClass::Input,
            ServiceError::Infra { .. } => ErrorClass::Infra,
            ServiceError::Denied { .. } => ErrorClass::Failed,
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
            | ServiceError::Denied { hint, .. } => hint.clone(),
        }
    }
}
