//! The shared test harness: a real server on a free port with a fresh database,
//! on SQLite and (when `USERCENTER_TEST_POSTGRES_URL` is set) on PostgreSQL.

use std::path::{Path, PathBuf};
use usercenter::Config;
use usercenter::server::Running;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("USERCENTER_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The Redis tests use, if any (`.ci/run` sets it).
pub fn redis_url() -> Option<String> {
    std::env::var("USERCENTER_TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// A fresh folder under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "usercenter-test-{}",
            usercenter::crypto::random_token(9)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh database for one test.
pub struct TestDb {
    pub url: String,
    /// Set on PostgreSQL: the database to drop at the end.
    pg_name: Option<(String, String)>,
    pub dir: TempDir,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let dir = TempDir::new();
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.path().join("usercenter.db").display()),
                pg_name: None,
                dir,
            },
            Backend::Postgres => {
                let base = postgres_url().expect("USERCENTER_TEST_POSTGRES_URL");
                let name = format!("uc_test_{}", hex_suffix());
                let url = with_database(&base, &name);
                // The server creates the database on start; the harness drops it.
                Self {
                    url,
                    pg_name: Some((base, name)),
                    dir,
                }
            }
        }
    }

    pub fn config(&self) -> Config {
        Config {
            bind: "127.0.0.1:0".into(),
            issuer: None,
            database_url: self.url.clone(),
            redis_url: None,
            mail: self.dir.path().join("outbox/mail").display().to_string(),
            sms: self.dir.path().join("outbox/sms").display().to_string(),
            admin_email: None,
            admin_password: None,
            secret_key: Some("ab".repeat(32)),
            trusted_proxies: Vec::new(),
        }
    }

    /// Drops a PostgreSQL test database.
    pub async fn drop_database(&self) {
        if let Some((base, name)) = &self.pg_name {
            sqlx::any::install_default_drivers();
            if let Ok(mut conn) =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&with_database(base, "postgres"))
                    .await
            {
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

fn hex_suffix() -> String {
    usercenter::crypto::random_token(8)
        .to_lowercase()
        .replace(['-', '_'], "x")
}

/// The same server URL with another database name.
pub fn with_database(base: &str, name: &str) -> String {
    let mut url = url::Url::parse(base).expect("a postgres:// URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A running server and an HTTP client that keeps cookies.
pub struct TestServer {
    pub running: Running,
    pub db: TestDb,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new(backend).await;
        let mut config = db.config();
        adjust(&mut config);
        let running = usercenter::server::start(config)
            .await
            .expect("server starts");
        let base = format!("http://{}", running.addr);
        Self {
            running,
            db,
            base,
            http: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn app(&self) -> &usercenter::service::App {
        &self.running.app
    }

    /// Stops the server and drops its database.
    pub async fn stop(self) {
        let Self { running, db, .. } = self;
        running.shutdown().await.expect("clean shutdown");
        db.drop_database().await;
    }
}

/// An HTTP client that keeps cookies and does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Defines `NAME::sqlite` and `NAME::postgres` from one async body taking a
/// [`Backend`]. The PostgreSQL variant needs `USERCENTER_TEST_POSTGRES_URL`; `.ci/run`
/// always sets it, and without it the variant says so and passes.
#[macro_export]
macro_rules! on_both {
    ($name:ident, |$backend:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: $crate::harness::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::harness::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::harness::postgres_url().is_none() {
                    eprintln!("USERCENTER_TEST_POSTGRES_URL is not set: not run on PostgreSQL");
                    return;
                }
                run($crate::harness::Backend::Postgres).await;
            }
        }
    };
}

/// The JSON messages in an outbox folder, oldest first.
pub fn outbox(dir: &Path) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// Waits up to 5 s for an outbox to hold `n` messages (mail is sent in the background).
pub async fn wait_outbox(dir: &Path, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..100 {
        let mails = outbox(dir);
        if mails.len() >= n {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    outbox(dir)
}

/// The value of a hidden form field in an HTML page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in the page"))
        + marker.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// The body of a GET of `url` by `http`, as text.
pub async fn get_text(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Every hidden field of a page's forms, in order, as a browser would post them.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| {
        let marker = format!("{name}=\"");
        tag.find(&marker).map(|at| {
            tag[at + marker.len()..]
                .split('"')
                .next()
                .unwrap_or("")
                .to_string()
        })
    };
    html.split("<input ")
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap_or(""))
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value")?)))
        .collect()
}

impl TestServer {
    /// A second store on the server's database, opened as another process (the
    /// command line) opens it: its changes reach the server only through the database.
    pub async fn store_elsewhere(&self) -> usercenter::store::Db {
        let url = usercenter::store::DatabaseUrl::parse(&self.db.url).unwrap();
        usercenter::store::Db::open(&url).await.unwrap()
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.db.dir.path().join("outbox/mail")
    }

    /// Registers through the JSON API and returns the user's id.
    pub async fn register(&self, username: &str, email: &str, password: &str) -> i64 {
        let res = client()
            .post(self.url("/api/auth/register"))
            .json(&serde_json::json!({"username": username, "email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "register {username}");
        res.json::<serde_json::Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    /// A fresh cookie-keeping client logged in through the JSON API, with its CSRF token.
    pub async fn login(&self, login: &str, password: &str) -> (reqwest::Client, String) {
        let http = client();
        let res = http
            .post(self.url("/api/auth/login"))
            .json(&serde_json::json!({"login": login, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login {login}");
        let body: serde_json::Value = res.json().await.unwrap();
        (http, body["csrf_token"].as_str().unwrap().to_string())
    }
}
