//! What the unit tests share.

use crate::Berth;

/// A fresh embedded project (SQLite and a local store) in a temporary
/// directory, opened as alice.
pub(crate) async fn project() -> (tempfile::TempDir, Berth) {
    let dir = tempfile::tempdir().unwrap();
    crate::init(dir.path(), None, None, &|_| None).unwrap();
    let config = crate::Config::discover(dir.path(), &|_| None).unwrap();
    let berth = Berth::open(config, "alice".into()).await.unwrap();
    (dir, berth)
}
