//! `berth hub --tls-cert --tls-key`: HTTPS with a certificate from a CA made
//! here by openssl, checked by curl and by the CLI against that CA.

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
    // A CA of the team's own, and the hub's certificate signed by it.
    p.write(
        "ext.cnf",
        b"subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    for args in [
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=berth-test-ca -keyout ca.key -out ca.pem",
        "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out hub.csr",
        "x509 -req -in hub.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cert.pem -extfile ext.cnf",
    ] {
        let made =
            Command::new("openssl").args(args.split(' ')).current_dir(p.path()).output().expect("openssl is needed");
        assert!(made.status.success(), "openssl {args}: {}", String::from_utf8_lossy(&made.stderr));
    }
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();

    // Files that do not make a pair are refused at start, naming the file.
    let r = p.berth(&["hub", "--addr", "127.0.0.1:0", "--tls-cert", "key.pem", "--tls-key", "key.pem"]).fails(2);
    assert!(r.stderr.contains("--tls-cert"), "{}", r.stderr);
    let r = p.berth(&["hub", "--addr", "127.0.0.1:0", "--tls-cert", "cert.pem"]).fails(2);
    assert!(r.stderr.contains("--tls-key"), "{}", r.stderr);

    let hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0", "--tls-cert", "cert.pem", "--tls-key", "key.pem"]);
    let base = format!("https://127.0.0.1:{}", hub.port);
    let cacert = p.path().join("ca.pem");
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

    // The CLI through the hub over HTTPS, trusting the hub's certificate.
    let laptop = Project::empty().with_env("BERTH_HUB_URL", &base).with_env("BERTH_TOKEN", &admin);
    let r = laptop.berth(&["models"]).fails(3);
    assert!(r.stderr.contains("TLS failed") && r.stderr.contains("BERTH_HUB_CA"), "{}", r.stderr);
    let trusting = laptop.with_env("BERTH_HUB_CA", cacert);
    let who = trusting.berth(&["token", "list", "--json"]).ok().json();
    assert!(who.as_array().is_some_and(|t| !t.is_empty()), "{who}");
    trusting.write("m.txt", b"over tls");
    trusting.berth(&["push", "m.txt", "--model", "tls"]).ok();
    let pulled = trusting.path().join("pulled");
    trusting.berth(&["pull", "tls@1", "-o", pulled.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(pulled.join("m.txt")).unwrap(), b"over tls");
    let bad = Project::empty()
        .with_env("BERTH_HUB_URL", &base)
        .with_env("BERTH_TOKEN", &admin)
        .with_env("BERTH_HUB_CA", p.path().join("key.pem").to_str().unwrap());
    let r = bad.berth(&["models"]).fails(2);
    assert!(r.stderr.contains("BERTH_HUB_CA"), "{}", r.stderr);
}
