//! How a server that follows a ref reaches berth: the registry and store in
//! this process, or a hub with a token. Either way the server asks through
//! the service's operations, so a rollout it runs moves the environment
//! under the same policy as `berth promote`. The connection is made on
//! first use, so that a server whose registry or hub is down still starts
//! (and serves its cached copy).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use berth_service::{Berth, Config, HubClient, Operations, ServiceError};

type Opened = Pin<Box<dyn Future<Output = Result<Arc<dyn Operations>, ServiceError>> + Send>>;

pub struct Reach {
    open: Box<dyn Fn() -> Opened + Send + Sync>,
    /// Where the server keeps what outlives it: the record of its cached
    /// copy and its rollouts (`None`: the system's temporary directory).
    state_dir: Option<PathBuf>,
}

impl Reach {
    /// The project's registry and store, opened in this process acting as `actor`.
    pub fn local(config: Config, actor: String) -> Reach {
        let state_dir = config.state_dir();
        Reach {
            open: Box::new(move || {
                let (config, actor) = (config.clone(), actor.clone());
                Box::pin(async move { Ok(Arc::new(Berth::open(config, actor).await?) as Arc<dyn Operations>) })
            }),
            state_dir,
        }
    }

    /// A hub; the server's state is kept in `state_dir`.
    pub fn hub(client: HubClient, state_dir: Option<PathBuf>) -> Reach {
        let client: Arc<dyn Operations> = Arc::new(client);
        Reach { open: Box::new(move || Box::pin(std::future::ready(Ok(client.clone())))), state_dir }
    }

    pub async fn open(&self) -> Result<Arc<dyn Operations>, ServiceError> {
        (self.open)().await
    }

    /// `sub` of the server's state directory.
    pub(crate) fn state(&self, sub: &str) -> PathBuf {
        match &self.state_dir {
            Some(d) => d.join(sub),
            None => std::env::temp_dir().join("berth-serve"),
        }
    }

    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }
}
