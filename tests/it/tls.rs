//! Outgoing TLS: mail over STARTTLS or `smtps://`, SMS to an `https://` webhook. The
//! binary runs as a process, trusting a test authority through `SSL_CERT_FILE` as an
//! operator would; the SMTP and webhook servers present certificates it issued.

use crate::foundation::{json_of, spawn_server, usercenter};
use crate::harness::{Backend, TestDb};
use crate::smtp::{Mode, capture};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

const PW: &str = "correct horse battery";

/// A certificate authority of the test's own, and a server certificate it issued for
/// `127.0.0.1` and `localhost`.
struct TestCa {
    /// The authority's certificate, for `SSL_CERT_FILE`.
    pem: PathBuf,
    server: Arc<ServerConfig>,
}

impl TestCa {
    fn new(dir: &Path, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let pem = dir.join(format!("{name}.pem"));
        std::fs::write(&pem, ca.pem()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone(), ca.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        Self {
            pem,
            server: Arc::new(server),
        }
    }
}

/// `serve` as a process, stopped on drop.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let mut cmd = usercenter(db);
        cmd.envs(env.iter().copied());
        let (child, addr, _log) = spawn_server(&mut cmd);
        Self {
            child,
            url: addr.trim_end_matches('/').to_string(),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An https:// webhook on a free port: each request's JSON body, or why the TLS
/// handshake or the request failed, arrives on the channel.
fn https_hook(
    server: Arc<ServerConfig>,
) -> (u16, std::sync::mpsc::Receiver<Result<Value, String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
            let conn = ServerConnection::new(server.clone()).unwrap();
            let got = read_request(StreamOwned::new(conn, tcp));
            if tx.send(got).is_err() {
                break;
            }
        }
    });
    (port, rx)
}

/// Reads one HTTP/1.1 POST and answers 200.
fn read_request<S: Read + Write>(stream: S) -> Result<Value, String> {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if line.is_empty() {
            return Err("closed before the body".into());
        }
        let header = line.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(v) = header.strip_prefix("content-length:") {
            length = v.trim().parse().map_err(|_| "bad content-length")?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    let out = reader.get_mut();
    out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        .and_then(|_| out.flush())
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

/// A client that logs people in by SMS (client credentials), made with the CLI.
fn sms_client(db: &TestDb) -> (String, String) {
    let out = usercenter(db)
        .args([
            "client",
            "create",
            "--name",
            "Canteen",
            "--grant-type",
            "client_credentials",
            "--scope",
            "basic",
        ])
        .output()
        .unwrap();
    let client = json_of(&out);
    (
        client["client_id"].as_str().unwrap().to_string(),
        client["client_secret"].as_str().unwrap().to_string(),
    )
}

/// Asks `served` to send an SMS code to `phone`; the status and body it answers.
async fn send_code(served: &Served, (id, secret): &(String, String), phone: &str) -> (u16, Value) {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/oauth/v2/token", served.url))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = http
        .post(format!("{}/oauth/v2/code", served.url))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .form(&[("phone", phone)])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sms_reach_an_https_webhook_whose_certificate_is_trusted() {
    let db = TestDb::new(Backend::Sqlite).await;
    let ca = TestCa::new(db.dir.path(), "ca");
    let stranger = TestCa::new(db.dir.path(), "stranger");
    let (port, hook) = https_hook(ca.server.clone());
    let client = sms_client(&db);
    let webhook = format!("https://localhost:{port}/sms");

    let served = Served::start(
        &db,
        &[
            ("USERCENTER_SMS", webhook.as_str()),
            ("SSL_CERT_FILE", ca.pem.to_str().unwrap()),
        ],
    );
    let (status, body) = send_code(&served, &client, "+8613800000007").await;
    assert_eq!(status, 200, "{body}");
    let sms = hook.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(sms["phone"], "13800000007");
    assert_eq!(sms["code"].as_str().unwrap().len(), 6);
    drop(served);

    // A server that trusts another authority does not hand the code over: the
    // handshake fails, and the caller is told to try again later (not a 500).
    let served = Served::start(
        &db,
        &[
            ("USERCENTER_SMS", webhook.as_str()),
            ("SSL_CERT_FILE", stranger.pem.to_str().unwrap()),
        ],
    );
    let (status, body) = send_code(&served, &client, "+8613800000008").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    let refused = hook.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(refused.is_err(), "nothing was read: {refused:?}");
    db.drop_database().await;
}

/// Makes `email`'s account with the CLI, starts `serve` with `mail`, and asks for a
/// reset link; what the SMTP server received.
async fn reset_mail(
    db: &TestDb,
    email: &str,
    mail: &str,
    ca: &TestCa,
    receiver: tokio::sync::oneshot::Receiver<crate::smtp::Received>,
) -> crate::smtp::Received {
    json_of(
        &usercenter(db)
            .args(["user", "create", "--email", email, "--password", PW])
            .output()
            .unwrap(),
    );
    let served = Served::start(
        db,
        &[
            ("USERCENTER_MAIL", mail),
            ("SSL_CERT_FILE", ca.pem.to_str().unwrap()),
        ],
    );
    let res = reqwest::Client::new()
        .post(format!("{}/api/auth/password/forgot", served.url))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    tokio::time::timeout(Duration::from_secs(20), receiver)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn mail_goes_over_starttls_and_never_in_the_clear_when_tls_is_required() {
    let db = TestDb::new(Backend::Sqlite).await;
    let ca = TestCa::new(db.dir.path(), "ca");

    let (addr, received) = capture(Mode::StartTls(ca.server.clone()));
    let got = reset_mail(
        &db,
        "kate@example.com",
        &format!("smtp://user:pa%40ss@{addr}?tls=starttls"),
        &ca,
        received,
    )
    .await;
    assert!(got.tls, "upgraded with STARTTLS");
    assert!(
        got.auth_seen && !got.auth_in_clear,
        "authenticated inside TLS"
    );
    assert!(got.rcpt.contains("kate@example.com"));
    assert!(got.data.contains("/password/reset?token="), "{}", got.data);

    // A server that does not offer STARTTLS gets neither the password nor the mail.
    let (addr, received) = capture(Mode::Plain);
    let got = reset_mail(
        &db,
        "liam@example.com",
        &format!("smtp://user:pa%40ss@{addr}?tls=starttls"),
        &ca,
        received,
    )
    .await;
    assert!(!got.auth_seen, "no AUTH in the clear");
    assert!(got.data.is_empty() && got.rcpt.is_empty());

    // Nor does a server whose certificate an authority the server does not trust
    // issued: the handshake fails before anything is said inside it.
    let stranger = TestCa::new(db.dir.path(), "stranger");
    let (addr, received) = capture(Mode::StartTls(stranger.server.clone()));
    let got = reset_mail(
        &db,
        "mona@example.com",
        &format!("smtp://user:pa%40ss@{addr}?tls=starttls"),
        &ca,
        received,
    )
    .await;
    assert!(!got.tls && !got.auth_seen, "refused in the handshake");
    assert!(got.data.is_empty() && got.rcpt.is_empty());
    db.drop_database().await;
}

#[tokio::test]
async fn mail_goes_inside_tls_from_the_first_byte_with_smtps() {
    let db = TestDb::new(Backend::Sqlite).await;
    let ca = TestCa::new(db.dir.path(), "ca");
    let (addr, received) = capture(Mode::Implicit(ca.server.clone()));
    let got = reset_mail(
        &db,
        "kate@example.com",
        &format!("smtps://user:pa%40ss@{addr}"),
        &ca,
        received,
    )
    .await;
    assert!(got.tls && got.auth_seen && !got.auth_in_clear);
    assert!(got.data.contains("/password/reset?token="), "{}", got.data);
    db.drop_database().await;
}
