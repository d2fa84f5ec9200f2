//! `berth hub --tls-cert --tls-key`: HTTPS with a certificate made here by
//! openssl, checked by curl against that certificate, as a client would.

mod support;

use std::process::Command;

use support::Project;
use support::http::Server;

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().expect("curl is needed");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_hub_serves_https_with_its_certificate() {
    let p = Project::new();
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(p.path())
        .output()
        .expect("openssl is needed");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();

    // Files that do not make a pair are refused at start, naming the file.
    let r = p.berth(&["hub", "--addr", "127.0.0.1:0", "--tls-cert", "key.pem", "--tls-key", "key.pem"]).fails(2);
    assert!(r.stderr.contains("--tls-cert"), "{}", r.stderr);
    let r = p.berth(&["hub", "--addr", "127.0.0.1:0", "--tls-cert", "cert.pem"]).fails(2);
    assert!(r.stderr.contains("--tls-key"), "{}", r.stderr);

    let hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0", "--tls-cert", "cert.pem", "--tls-key", "key.pem"]);
    let base = format!("https://127.0.0.1:{}", hub.port);
    let cacert = p.path().join("cert.pem");
    let cacert = cacert.to_str().unwrap();
    let (ok, out) = curl(&["--cacert", cacert, &format!("{base}/livez")]);
    assert!(ok && out.contains("ok"), "{out}");
    let auth = format!("Authorization: Bearer {admin}");
    let (ok, out) = curl(&["--cacert", cacert, "-H", &auth, &format!("{base}/api/v1/whoami")]);
    assert!(ok && out.contains("\"admin\""), "{out}");
    // Without trusting the certificate, curl refuses; plain HTTP gets no answer.
    let (ok, _) = curl(&[&format!("{base}/livez")]);
    assert!(!ok);
    let (ok, _) = curl(&[&format!("http://127.0.0.1:{}/livez", hub.port)]);
    assert!(!ok);
    // The hub keeps answering after a failed handshake.
    let (ok, _) = curl(&["--cacert", cacert, &format!("{base}/readyz")]);
    assert!(ok);
}
