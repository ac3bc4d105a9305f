//! Issue 2: the binary, configuration, storage on both backends, health, logs,
//! shutdown, and the admin CLI.

use crate::harness::{Backend, TempDir, TestDb, TestServer, postgres_url};
use crate::on_both;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_usercenter");

/// The binary with a clean environment pointing at `db`.
pub(crate) fn usercenter(db: &TestDb) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("USERCENTER_DATABASE_URL", &db.url)
        .env("USERCENTER_SECRET_KEY", "cd".repeat(32))
        .env("USERCENTER_MAIL", db.dir.path().join("mail"))
        .env("USERCENTER_SMS", db.dir.path().join("sms"))
        .current_dir(db.dir.path());
    cmd
}

pub(crate) fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Starts `serve` on a free port (SPEC §1's `:0`) and reads its log until it says
/// where it listens.
pub(crate) fn spawn_server(
    cmd: &mut Command,
) -> (Child, String, std::sync::mpsc::Receiver<String>) {
    let mut child = cmd
        .arg("serve")
        .env("USERCENTER_BIND", ":0")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && let Some(at) = line.find("listening on http://")
        {
            let addr = line[at + "listening on ".len()..].trim().to_string();
            return (child, addr, rx);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not log its address");
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

on_both!(healthz_answers_while_the_database_does, |backend| {
    let server = TestServer::start(backend).await;
    let res = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );

    // With the database gone, the same endpoint says so.
    server.app().db.close().await;
    let res = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    server.stop().await;
});

on_both!(
    cli_creates_users_and_clients_that_survive_kill_9,
    |backend| {
        let db = TestDb::new(backend).await;
        let user = json_of(
            &usercenter(&db)
                .args([
                    "user",
                    "create",
                    "--email",
                    "Li.Lei@Example.com",
                    "--password",
                    "correct horse 1",
                ])
                .args(["--username", "lilei", "--phone", "13212345720"])
                .output()
                .unwrap(),
        );
        assert!(user["id"].as_i64().unwrap() > 0);
        assert_eq!(
            user["email"], "li.lei@example.com",
            "e-mail is stored in lower case"
        );
        assert_eq!(user["username"], "lilei");
        assert_eq!(
            (&user["phone"], &user["phone_verified"]),
            (&serde_json::json!("13212345720"), &serde_json::json!(true)),
            "an admin's phone counts as proven"
        );

        // A duplicate e-mail is a clear error, whatever its case.
        let dup = usercenter(&db)
            .args([
                "user",
                "create",
                "--email",
                "li.lei@example.COM",
                "--password",
                "another pass",
            ])
            .output()
            .unwrap();
        assert!(!dup.status.success());
        let msg = String::from_utf8_lossy(&dup.stderr);
        assert!(msg.contains("already registered"), "{msg}");
        assert!(!msg.contains("panicked"));

        let client = json_of(
            &usercenter(&db)
                .args([
                    "client",
                    "create",
                    "--name",
                    "Canteen",
                    "--owner",
                    "li.lei@example.com",
                ])
                .args([
                    "--redirect-uri",
                    "https://canteen.example.com/cb",
                    "--redirect-uri",
                    "http://127.0.0.1/cb",
                ])
                .args([
                    "--grant-type",
                    "authorization_code",
                    "--grant-type",
                    "client_credential",
                ])
                .args(["--scope", "basic", "--scope", "develop"])
                .output()
                .unwrap(),
        );
        assert!(client["id"].as_i64().unwrap() > 0);
        let client_id = client["client_id"].as_str().unwrap().to_string();
        let secret = client["client_secret"].as_str().unwrap().to_string();
        assert!(secret.len() >= 40, "a high-entropy secret");
        assert_eq!(
            client["grant_types"],
            serde_json::json!(["authorization_code", "client_credentials"])
        );
        assert_eq!(
            client["approved_scopes"],
            serde_json::json!(["develop"]),
            "an admin's develop counts as approved"
        );
        assert_eq!(client["owner_id"], user["id"]);

        // Defaults of SPEC §1.
        let plain = json_of(
            &usercenter(&db)
                .args([
                    "client",
                    "create",
                    "--name",
                    "Plain",
                    "--redirect-uri",
                    "https://p.example.com/cb",
                ])
                .output()
                .unwrap(),
        );
        assert_eq!(
            plain["grant_types"],
            serde_json::json!(["authorization_code", "refresh_token"])
        );
        let scopes: Vec<&str> = plain["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(scopes.contains(&"openid") && scopes.contains(&"basic"));
        assert!(!scopes.contains(&"develop") && !scopes.contains(&"root"));

        // Bad client input is refused with a clear message.
        for (args, expect) in [
            (vec!["--redirect-uri", "javascript:alert(1)"], "javascript"),
            (
                vec![
                    "--redirect-uri",
                    "https://a.example.com/cb",
                    "--grant-type",
                    "magic",
                ],
                "grant type",
            ),
            (
                vec![
                    "--redirect-uri",
                    "https://a.example.com/cb",
                    "--scope",
                    "nope",
                ],
                "scope",
            ),
            (vec!["--grant-type", "authorization_code"], "redirect"),
        ] {
            let out = usercenter(&db)
                .args(["client", "create", "--name", "Bad"])
                .args(&args)
                .output()
                .unwrap();
            assert!(!out.status.success(), "{args:?} must fail");
            let msg = String::from_utf8_lossy(&out.stderr);
            assert!(msg.contains(expect), "{args:?}: {msg}");
        }

        // The server runs; kill -9 it; everything written is still there, what the
        // server itself wrote too.
        let (mut child, addr, _log) = spawn_server(&mut usercenter(&db));
        let health = reqwest::get(format!("{addr}/healthz")).await.unwrap();
        assert_eq!(health.status(), 200);
        let registered = reqwest::Client::new()
            .post(format!("{addr}/api/auth/register"))
            .json(&serde_json::json!({
                "username": "zhaoliu",
                "email": "zhao.liu@example.com",
                "password": "correct horse 3",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), 201);
        let registered: serde_json::Value = registered.json().await.unwrap();
        let later = json_of(
            &usercenter(&db)
                .args([
                    "user",
                    "create",
                    "--email",
                    "han.meimei@example.com",
                    "--password",
                    "correct horse 2",
                ])
                .output()
                .unwrap(),
        );
        signal(&child, "KILL");
        let _ = child.wait();

        let reset = json_of(
            &usercenter(&db)
                .args(["client", "reset-secret", &client_id])
                .output()
                .unwrap(),
        );
        let new_secret = reset["client_secret"].as_str().unwrap();
        assert_ne!(new_secret, secret);

        let app = usercenter::service::App::open(usercenter::Config {
            database_url: db.url.clone(),
            secret_key: Some("cd".repeat(32)),
            ..Default::default()
        })
        .await
        .unwrap();
        let stored = app
            .db
            .user_by_email("han.meimei@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.id, later["id"].as_i64().unwrap());
        let stored = app
            .db
            .user_by_email("zhao.liu@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.id, registered["id"].as_i64().unwrap());
        assert!(
            app.passwords
                .verify("correct horse 3", stored.password_hash.as_deref())
                .await
        );
        let stored = app
            .db
            .client_by_client_id(&client_id)
            .await
            .unwrap()
            .unwrap();
        let hash = stored.secret_hash.unwrap();
        assert!(
            !hash.contains(new_secret),
            "the secret is stored only as a hash"
        );
        assert!(
            app.key.verify_secret(new_secret, &hash),
            "the new secret works"
        );
        assert!(
            !app.key.verify_secret(&secret, &hash),
            "the old secret stops working"
        );
        app.db.close().await;
        db.drop_database().await;
    }
);

#[tokio::test]
async fn sigterm_finishes_and_logs_each_request_without_its_query() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (mut child, addr, log) = spawn_server(&mut usercenter(&db));
    let res = reqwest::get(format!("{addr}/healthz?access_token=SEKRIT-TOKEN"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
    // The child has exited, so its stderr ends and the reader hangs up.
    let lines: Vec<String> = log.iter().collect();
    let request = lines
        .iter()
        .find(|l| l.contains("path=/healthz"))
        .unwrap_or_else(|| panic!("no request line in {lines:?}"));
    assert!(
        request.contains("method=GET")
            && request.contains("status=200")
            && request.contains("latency_ms=")
    );
    assert!(
        !lines.iter().any(|l| l.contains("SEKRIT-TOKEN")),
        "a query is never logged"
    );
}

#[test]
fn bad_configuration_stops_the_start_with_one_clear_line() {
    let dir = TempDir::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let unreadable = dir.path().join("missing.toml");
    type Case<'a> = (Vec<(&'a str, String)>, Vec<String>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("USERCENTER_DATABASE_URL", "mysql://nope".into())],
            vec![],
            "USERCENTER_DATABASE_URL",
        ),
        (
            vec![
                (
                    "USERCENTER_DATABASE_URL",
                    "postgres://postgres@127.0.0.1:1/nope".into(),
                ),
                ("USERCENTER_SECRET_KEY", "ab".repeat(32)),
            ],
            vec![],
            "cannot connect",
        ),
        (
            vec![(
                "USERCENTER_DATABASE_URL",
                "postgres://postgres@127.0.0.1:1/nope".into(),
            )],
            vec![],
            "USERCENTER_SECRET_KEY is required",
        ),
        (
            vec![("USERCENTER_BIND", taken_addr.clone())],
            vec![],
            "cannot listen",
        ),
        (
            vec![],
            vec!["--config".into(), unreadable.display().to_string()],
            "missing.toml",
        ),
        (
            vec![("USERCENTER_SECRET_KEY", "short".into())],
            vec![],
            "USERCENTER_SECRET_KEY",
        ),
        (
            vec![("USERCENTER_REDIS_URL", "redis://127.0.0.1:1".into())],
            vec![],
            "USERCENTER_REDIS_URL",
        ),
        (
            vec![("USERCENTER_REDIS_URL", "nope://127.0.0.1".into())],
            vec![],
            "USERCENTER_REDIS_URL",
        ),
        (
            // https with no authority to trust: every message would fail later.
            vec![
                ("USERCENTER_SMS", "https://sms.example.com/send".into()),
                ("SSL_CERT_FILE", "/nonexistent/ca.pem".into()),
            ],
            vec![],
            "USERCENTER_SMS",
        ),
        (
            vec![(
                "USERCENTER_MAIL",
                "smtp://mail.example.com?tls=maybe".into(),
            )],
            vec![],
            "USERCENTER_MAIL",
        ),
    ];
    for (env, args, expect) in cases {
        let mut out = Command::new(BIN)
            .env_clear()
            .env(
                "USERCENTER_DATABASE_URL",
                format!("sqlite://{}", dir.path().join("db.sqlite").display()),
            )
            .envs(env.clone())
            .args(&args)
            .arg("serve")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A server that starts after all would never exit: stop it and fail.
        let deadline = Instant::now() + Duration::from_secs(30);
        while out.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = out.kill();
                panic!("{env:?} {args:?}: the server started instead of failing");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = out.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{env:?} {args:?} must fail");
        assert!(
            stderr.contains(expect),
            "{env:?}: expected {expect:?} in {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "{stderr}"
        );
        let last = stderr
            .lines()
            .filter(|l| l.starts_with("usercenter: "))
            .count();
        assert_eq!(last, 1, "one line naming the problem: {stderr}");
    }
    drop(taken);
}

#[tokio::test]
async fn postgres_and_redis_are_required_when_the_ci_says_so() {
    // .ci/run sets CI=true and must never silently skip the PostgreSQL and Redis halves.
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        assert!(
            postgres_url().is_some(),
            "CI must set USERCENTER_TEST_POSTGRES_URL"
        );
        assert!(
            crate::harness::redis_url().is_some(),
            "CI must set USERCENTER_TEST_REDIS_URL"
        );
    }
}

on_both!(
    admin_cli_commands_print_json_and_refuse_bad_input,
    |backend| {
        let db = TestDb::new(backend).await;
        let run = |args: &[&str]| usercenter(&db).args(args).output().unwrap();
        json_of(&run(&[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--password",
            "correct horse 9",
        ]));
        let s = json_of(&run(&["settings", "set", "allow_implicit", "true"]));
        assert_eq!(s["allow_implicit"], true);
        assert_eq!(
            json_of(&run(&["settings", "get"]))["access_token_ttl"],
            3600
        );
        assert!(
            !run(&["settings", "set", "access_token_ttl", "-5"])
                .status
                .success()
        );
        assert!(
            !run(&["settings", "set", "no_such_key", "1"])
                .status
                .success()
        );

        let scope = json_of(&run(&[
            "scope",
            "create",
            "pass:payment",
            "--path",
            "/api/pay",
            "--method",
            "post",
            "--display-name",
            "Pay",
        ]));
        assert_eq!(scope["method"], "POST");
        assert!(
            !run(&["scope", "create", "pass:payment"]).status.success(),
            "a duplicate"
        );

        json_of(&run(&["group", "create", "canteen"]));
        let g = json_of(&run(&[
            "group",
            "add",
            "canteen",
            "--user",
            "ops@example.com",
        ]));
        assert_eq!(g["members"].as_array().unwrap().len(), 1);
        assert!(
            !run(&["group", "add", "nope", "--user", "ops@example.com"])
                .status
                .success()
        );

        let card = json_of(&run(&[
            "card",
            "bind",
            "--card",
            "001",
            "--user",
            "ops@example.com",
        ]));
        assert_eq!(card["card"], "001");
        assert_eq!(
            json_of(&run(&["card", "lost", "--card", "001"]))["lost"],
            true
        );
        assert_eq!(
            json_of(&run(&["card", "found", "--card", "001"]))["lost"],
            false
        );
        assert!(!run(&["card", "lost", "--card", "999"]).status.success());
        assert!(
            !run(&[
                "card",
                "bind",
                "--card",
                "bad card!",
                "--user",
                "ops@example.com"
            ])
            .status
            .success()
        );

        let c = json_of(&run(&[
            "client",
            "create",
            "--name",
            "Svc",
            "--grant-type",
            "client_credentials",
            "--scope",
            "basic",
            "--token-policy",
            "reuse",
            "--access-ttl",
            "604800",
        ]));
        assert_eq!(c["token_policy"], "reuse");
        assert_eq!(c["access_ttl"], 604800);
        let id = c["client_id"].as_str().unwrap();
        let approved = json_of(&run(&["client", "approve-scope", id, "develop"]));
        assert_eq!(approved["approved_scopes"], serde_json::json!(["develop"]));
        assert!(
            !run(&["client", "approve-scope", id, "email"])
                .status
                .success()
        );
        let rotated = json_of(&run(&["keys", "rotate"]));
        assert_eq!(rotated["rotated"].as_array().unwrap().len(), 3);
        db.drop_database().await;
    }
);

#[tokio::test]
async fn the_configured_admin_is_created_once() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.admin_email = Some("root@example.com".into());
        c.admin_password = Some("a long admin password".into());
    })
    .await;
    let admin = s
        .app()
        .db
        .user_by_email("root@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(admin.is_admin);
    // A second start with another address does not add a second admin.
    let mut config = s.db.config();
    config.admin_email = Some("other.root@example.com".into());
    config.admin_password = Some("another long admin password".into());
    let again = usercenter::service::App::open(config).await.unwrap();
    again.ensure_admin().await.unwrap();
    again.db.close().await;
    let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin = 1")
        .fetch_one(s.app().db.pool())
        .await
        .unwrap();
    assert_eq!(admins, 1);
    assert!(
        s.app()
            .db
            .user_by_email("other.root@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let (http, _) = s.login("root@example.com", "a long admin password").await;
    assert_eq!(
        http.get(s.url("/admin")).send().await.unwrap().status(),
        200
    );
    s.stop().await;
}

/// SQLite's WAL is checkpointed in the background (src/store/checkpoint.rs): issued
/// tokens reach the database file itself, not only the write-ahead log, while the
/// server runs — a copy of the main file alone holds them.
#[tokio::test]
async fn sqlite_checkpoints_reach_the_database_file_while_serving() {
    let s = TestServer::start(Backend::Sqlite).await;
    let app =
        crate::oauth::make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    for _ in 0..20 {
        let res = crate::oauth::token(&s, &app, &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 200);
    }
    let main_file = s.db.dir.path().join("usercenter.db");
    let copy = s.db.dir.path().join("copy.db");
    let deadline = Instant::now() + Duration::from_secs(10);
    let count = loop {
        std::fs::copy(&main_file, &copy).unwrap();
        let conn = rusqlite::Connection::open(&copy).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM access_tokens", [], |r| r.get(0))
            .unwrap_or(0);
        drop(conn);
        let _ = std::fs::remove_file(&copy);
        if n >= 20 || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(count, 20, "the tokens stayed in the WAL");
    s.stop().await;
}
