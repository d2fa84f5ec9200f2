//! `open_store` takes the S3 endpoint and credentials from the `AWS_*`
//! environment. Environment variables are global to the process, so this
//! binary holds this single test, and sets them before any other thread
//! exists (a plain `#[test]` that builds its own multi-thread runtime).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use berth_core::{ErrorClass, Exit};
use berth_store::{NoProgress, StoreError, StoreUrl, open_store};
use bytes::Bytes;

#[test]
fn an_unreachable_s3_endpoint_fails_with_a_remote_error_naming_the_store() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // SAFETY: no other thread runs yet in this process (the runtime is built below).
    unsafe {
        for var in [
            "AWS_ENDPOINT",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            std::env::remove_var(var);
        }
        std::env::set_var("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}"));
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let url = StoreUrl::S3 { bucket: "models".into(), prefix: "team-a".into() };
        let shown = "s3://models/team-a";
        assert_eq!(url.to_string(), shown);

        let t = Instant::now();
        // Opening is lazy; the first request is what meets the dead endpoint.
        let failures: Vec<StoreError> = match open_store(&url, None) {
            Err(e) => vec![e],
            Ok(store) => {
                let d = berth_core::Digest::of(b"anything");
                let dir = tempfile::tempdir().unwrap();
                vec![
                    store.exists(&d).await.unwrap_err(),
                    store.put_bytes(Bytes::from_static(b"anything")).await.unwrap_err(),
                    store.get_to_file(&d, &dir.path().join("x"), &NoProgress).await.unwrap_err(),
                    store.list().await.unwrap_err(),
                ]
            }
        };
        let took = t.elapsed();
        for e in &failures {
            assert!(matches!(e, StoreError::Remote { .. }), "expected a Remote error, got {e:?}");
            assert!(e.to_string().contains(shown), "the error names the store {shown}: {e}");
            assert_eq!(e.class(), ErrorClass::Infra);
            assert!(e.hint().is_some_and(|h| h.contains(shown) && h.contains("AWS_ENDPOINT_URL")), "{:?}", e.hint());
        }
        assert!(took < Duration::from_secs(60), "bounded retries, but four requests took {took:?}");
    });
}
