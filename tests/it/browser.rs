//! Issue 3 in a real browser: a person registers, signs out, forgets the password,
//! opens the mailed link, chooses a new password, signs in and edits the profile —
//! once in English and once in Chinese, in headless Chromium on a phone-sized
//! window, driven through chromedriver (WebDriver). Issue 4 likewise: an app sends
//! the person to `/oauth/authorize`, who signs in, approves the consent page and is
//! sent back with a code, which the app exchanges for tokens. Issue 5 likewise: one
//! person registers an app in the developer console (`/account/apps`), another
//! authorizes it and then revokes its access (`/account/authorizations`), after
//! which its tokens no longer work.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without
//! them the tests fail rather than skip. With `USERCENTER_SCREENSHOTS=DIR` set, every
//! page of the flow is saved into DIR as PNG (one file per screenful), to be looked at.

use crate::harness::{Backend, TempDir, TestServer, client, wait_outbox};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use usercenter::service::CreateClient;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The screen of a phone (an iPhone 12 to 14), in CSS pixels.
const PHONE: (u32, u32) = (390, 844);
/// How long a page may take to show what the test waits for.
const WAIT: Duration = Duration::from_secs(15);

const OLD_PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "purple staple 42";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    Zh,
}

/// The visible texts the flow checks, per language (as in `src/http/i18n.rs`).
struct Texts {
    html_lang: &'static str,
    register_title: &'static str,
    profile: &'static str,
    sign_out: &'static str,
    sign_out_title: &'static str,
    signed_out: &'static str,
    sign_in_title: &'static str,
    forgot: &'static str,
    forgot_title: &'static str,
    forgot_sent: &'static str,
    reset_title: &'static str,
    reset_done: &'static str,
    invalid_credentials: &'static str,
    saved: &'static str,
    /// The OAuth pages: the login page on the way to an app, then the consent page.
    sign_in_to: &'static str,
    consent_title: &'static str,
    consent_asks: &'static str,
    /// (title, description) of the scopes `openid`, `email` and `basic`.
    scope_openid: (&'static str, &'static str),
    scope_email: (&'static str, &'static str),
    scope_basic: (&'static str, &'static str),
    allow: &'static str,
    deny: &'static str,
    signed_in_as: &'static str,
    redirect_to: &'static str,
    /// The consoles: my apps, and the apps I authorized.
    my_apps: &'static str,
    create_app: &'static str,
    secret_once: &'static str,
    edit: &'static str,
    my_authorizations: &'static str,
    revoke_app: &'static str,
    authorization_revoked: &'static str,
    no_authorizations: &'static str,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
        }
    }

    fn texts(self) -> Texts {
        match self {
            Self::En => Texts {
                html_lang: "en",
                register_title: "Create your account",
                profile: "Profile",
                sign_out: "Sign out",
                sign_out_title: "Sign out?",
                signed_out: "You are signed out.",
                sign_in_title: "Sign in to your account",
                forgot: "Forgot your password?",
                forgot_title: "Reset your password",
                forgot_sent: "If an account uses that address, a reset link is on its way. It works for 30 minutes.",
                reset_title: "Choose a new password",
                reset_done: "Your password is changed. Sign in with the new one.",
                invalid_credentials: "Wrong account or password.",
                saved: "Saved.",
                sign_in_to: "to continue to",
                consent_title: "Authorize",
                consent_asks: "This application asks for permission to:",
                scope_openid: (
                    "Sign you in",
                    "{client_name} will know who you are ({user})",
                ),
                scope_email: (
                    "Your e-mail address",
                    "{client_name} will read the e-mail address of {user}",
                ),
                scope_basic: (
                    "Basic access",
                    "{client_name} will use the basic interfaces as {user}",
                ),
                allow: "Allow",
                deny: "Deny",
                signed_in_as: "Signed in as",
                redirect_to: "you will be sent back to",
                my_apps: "My apps",
                create_app: "Register an app",
                secret_once: "Copy the secret now: it is shown only this once.",
                edit: "Edit",
                my_authorizations: "Authorized apps",
                revoke_app: "Revoke access",
                authorization_revoked: "Access was revoked; the app's tokens stopped working.",
                no_authorizations: "You have not authorized any app.",
            },
            Self::Zh => Texts {
                html_lang: "zh-CN",
                register_title: "创建你的账号",
                profile: "个人资料",
                sign_out: "退出登录",
                sign_out_title: "确定退出登录？",
                signed_out: "你已退出登录。",
                sign_in_title: "登录你的账号",
                forgot: "忘记密码？",
                forgot_title: "重置密码",
                forgot_sent: "如果该邮箱已注册，重置链接已发出，30 分钟内有效。",
                reset_title: "设置新密码",
                reset_done: "密码已修改，请使用新密码登录。",
                invalid_credentials: "账号或密码错误。",
                saved: "已保存。",
                sign_in_to: "以继续使用",
                consent_title: "授权",
                consent_asks: "该应用请求以下权限：",
                scope_openid: ("使用你的账号登录", "{client_name} 将获知你的身份（{user}）"),
                scope_email: ("你的邮箱地址", "{client_name} 将读取 {user} 的邮箱地址"),
                scope_basic: ("基本权限", "{client_name} 将以 {user} 的身份使用基本接口"),
                allow: "允许",
                deny: "拒绝",
                signed_in_as: "当前账号",
                redirect_to: "授权后将返回",
                my_apps: "我的应用",
                create_app: "注册应用",
                secret_once: "请立即复制密钥：它只显示这一次。",
                edit: "编辑",
                my_authorizations: "已授权应用",
                revoke_app: "撤销授权",
                authorization_revoked: "已撤销授权，该应用的令牌已失效。",
                no_authorizations: "你还没有授权任何应用。",
            },
        }
    }
}

/// A loopback port where nothing listens (bound for a moment, then let go).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// chromedriver on a free port, in a process group of its own that the browser it
/// starts joins; the whole group is killed on drop, also when a test panics.
struct Driver {
    child: Child,
    url: String,
    /// Chromium's profile: fresh for every test.
    profile: TempDir,
}

impl Driver {
    fn start() -> Self {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "the browser tests need {CHROMIUM} and {CHROMEDRIVER}: install them with \
             `apt-get install chromium chromium-driver` (Debian; .ci/run does this)"
        );
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {CHROMEDRIVER} ({e}): install chromium and chromium-driver \
                 (`apt-get install chromium chromium-driver`)"
            )
        });
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{CHROMEDRIVER} exited at start: {status}");
            }
            assert!(
                started.elapsed() < WAIT,
                "{CHROMEDRIVER} does not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile: TempDir::new(),
        }
    }

    /// A new browser session: headless Chromium in a phone-sized window that asks
    /// for pages in `accept_language`.
    async fn browser(&self, accept_language: &str) -> Client {
        let user_data_dir = self.profile.path().join("chromium");
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            // Without these Chromium reaches out to the internet, which is refused here.
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            format!("--user-data-dir={}", user_data_dir.display()),
            format!("--window-size={},{}", PHONE.0, PHONE.1),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": args,
                "prefs": {"intl": {"accept_languages": accept_language}},
                // Headless Chromium keeps windows at least 500 px wide and takes the
                // height of a toolbar off the window size: the phone's screen comes
                // from device emulation (a mobile viewport, with touch).
                "mobileEmulation": {"deviceMetrics": {"width": PHONE.0, "height": PHONE.1, "pixelRatio": 1}},
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("no browser session from {CHROMEDRIVER}: {e}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group id is chromedriver's pid, not reaped yet, so it is still ours.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Screenshots into `USERCENTER_SCREENSHOTS`, when set: `<lang>-<nn>-<page>.png`
/// (`<lang>-<flow>-<nn>-<page>.png` for a flow other than the first), and `…-2.png`,
/// `…-3.png` for the further screenfuls of a long page.
struct Shots {
    dir: Option<PathBuf>,
    /// `<lang>-` or `<lang>-<flow>-`.
    prefix: String,
    n: usize,
}

impl Shots {
    fn new(lang: Lang) -> Self {
        Self::with_prefix(format!("{}-", lang.code()))
    }

    fn of_flow(lang: Lang, flow: &str) -> Self {
        Self::with_prefix(format!("{}-{flow}-", lang.code()))
    }

    fn with_prefix(prefix: String) -> Self {
        let dir = std::env::var_os("USERCENTER_SCREENSHOTS")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).unwrap();
        }
        Self { dir, prefix, n: 0 }
    }

    async fn take(&mut self, c: &Client, page: &str) {
        let Some(dir) = &self.dir else {
            return;
        };
        self.n += 1;
        for screen in 1..=8 {
            let suffix = if screen == 1 {
                String::new()
            } else {
                format!("-{screen}")
            };
            let name = format!("{}{:02}-{page}{suffix}.png", self.prefix, self.n);
            std::fs::write(dir.join(name), c.screenshot().await.unwrap()).unwrap();
            // Scroll one screenful on, if there is more below.
            let more = c
                .execute(
                    "const before = window.scrollY;\
                     window.scrollBy(0, window.innerHeight - 40);\
                     return window.scrollY > before;",
                    vec![],
                )
                .await
                .unwrap();
            if more != Value::Bool(true) {
                break;
            }
        }
        c.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
    }
}

/// Waits until the browser is at `want` (path and query).
async fn wait_at(c: &Client, want: &str) {
    let started = Instant::now();
    loop {
        let url = c.current_url().await.unwrap();
        let at = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        if at == want {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "expected to be at {want}, the browser is at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The visible text of the first element matching `css`, once it is there.
async fn text(c: &Client, css: &str) -> String {
    let element = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"));
    element.text().await.unwrap()
}

/// The value of the `<input>` with this id.
async fn value(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn fill(c: &Client, id: &str, value: &str) {
    let input = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id} on the page: {e}"));
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id} on the page: {e}"))
        .click()
        .await
        .unwrap();
}

/// Checks the page's language and that nothing is wider than the phone's screen.
async fn check_page(c: &Client, t: &Texts) {
    let lang = c
        .find(Locator::Css("html"))
        .await
        .unwrap()
        .attr("lang")
        .await
        .unwrap();
    assert_eq!(lang.as_deref(), Some(t.html_lang), "<html lang>");
    let widths = c
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        widths,
        json!([PHONE.0, PHONE.0]),
        "[window width, page width] at {}: the page should be exactly as wide as the phone's screen",
        c.current_url().await.unwrap()
    );
}

/// The whole flow in one language. English is picked with `?lang=en` on the first
/// page by a browser that asks for Chinese (the choice is remembered, also for the
/// mailed link); Chinese comes from the browser's `Accept-Language` alone.
async fn flow(lang: Lang) {
    let started = Instant::now();
    let t = lang.texts();
    let s = TestServer::start(Backend::Sqlite).await;
    let driver = Driver::start();
    let c = driver.browser("zh-CN,zh").await;
    let mut shots = Shots::new(lang);
    let (username, email, nickname) = match lang {
        Lang::En => ("lilei", "lilei@example.com", "Lei Lei"),
        Lang::Zh => ("hanmeimei", "hanmeimei@example.com", "梅梅"),
    };

    // Register: a new account is signed in straight away.
    let first = match lang {
        Lang::En => "/register?lang=en",
        Lang::Zh => "/register",
    };
    c.goto(&s.url(first)).await.unwrap();
    assert_eq!(text(&c, "h1").await, t.register_title);
    check_page(&c, &t).await;
    shots.take(&c, "register").await;
    fill(&c, "username", username).await;
    fill(&c, "email", email).await;
    fill(&c, "password", OLD_PASSWORD).await;
    click(&c, "register").await;
    wait_at(&c, "/account").await;
    assert_eq!(text(&c, "h1").await, username);
    assert_eq!(text(&c, "h1 + .sub").await, email);
    assert_eq!(text(&c, "h2").await, t.profile);
    check_page(&c, &t).await;
    shots.take(&c, "account").await;

    // Sign out, through the confirmation page.
    assert_eq!(text(&c, "#sign-out-link").await, t.sign_out);
    click(&c, "sign-out-link").await;
    wait_at(&c, "/logout").await;
    assert_eq!(text(&c, "h1").await, t.sign_out_title);
    assert_eq!(text(&c, "#sign-out").await, t.sign_out);
    check_page(&c, &t).await;
    shots.take(&c, "logout").await;
    click(&c, "sign-out").await;
    wait_at(&c, "/login?notice=signed_out").await;
    assert_eq!(text(&c, "h1").await, t.sign_in_title);
    assert_eq!(text(&c, ".alert.ok").await, t.signed_out);
    check_page(&c, &t).await;
    shots.take(&c, "login").await;

    // Forgot the password: the link on the login page, then the mail.
    c.find(Locator::LinkText(t.forgot))
        .await
        .unwrap_or_else(|e| panic!("no link {:?} on the login page: {e}", t.forgot))
        .click()
        .await
        .unwrap();
    wait_at(&c, "/password/forgot").await;
    assert_eq!(text(&c, "h1").await, t.forgot_title);
    check_page(&c, &t).await;
    shots.take(&c, "forgot").await;
    fill(&c, "email", email).await;
    click(&c, "send-link").await;
    assert_eq!(text(&c, ".alert.ok").await, t.forgot_sent);
    shots.take(&c, "forgot-sent").await;
    let mails = wait_outbox(&s.mail_dir(), 1).await;
    let mail = mails
        .iter()
        .find(|m| m["to"] == email)
        .unwrap_or_else(|| panic!("no mail to {email} in {mails:?}"));
    let link = mail["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.contains("/password/reset?token="))
        .unwrap_or_else(|| panic!("no reset link in {mail}"))
        .to_string();
    assert!(link.starts_with(&s.base), "{link}");

    // The link, opened in the same browser: a new password.
    c.goto(&link).await.unwrap();
    assert_eq!(text(&c, "h1").await, t.reset_title);
    check_page(&c, &t).await;
    shots.take(&c, "reset").await;
    fill(&c, "password", NEW_PASSWORD).await;
    click(&c, "set-password").await;
    wait_at(&c, "/login?notice=password_reset").await;
    assert_eq!(text(&c, ".alert.ok").await, t.reset_done);
    check_page(&c, &t).await;
    shots.take(&c, "login-after-reset").await;

    // The old password no longer works; the new one does.
    fill(&c, "login", username).await;
    fill(&c, "password", OLD_PASSWORD).await;
    click(&c, "sign-in").await;
    assert_eq!(text(&c, ".alert.error").await, t.invalid_credentials);
    assert_eq!(value(&c, "login").await, username, "the login is kept");
    check_page(&c, &t).await;
    shots.take(&c, "login-wrong-password").await;
    fill(&c, "login", email).await;
    fill(&c, "password", NEW_PASSWORD).await;
    click(&c, "sign-in").await;
    wait_at(&c, "/account").await;
    assert_eq!(text(&c, "h1").await, username);

    // Edit the nickname; it is saved.
    assert_eq!(value(&c, "nickname").await, "");
    fill(&c, "nickname", nickname).await;
    click(&c, "save-profile").await;
    wait_at(&c, "/account?notice=saved").await;
    assert_eq!(text(&c, ".alert.ok").await, t.saved);
    assert_eq!(value(&c, "nickname").await, nickname);
    check_page(&c, &t).await;
    shots.take(&c, "account-saved").await;
    c.goto(&s.url("/account")).await.unwrap();
    assert_eq!(text(&c, "h1").await, username);
    assert_eq!(value(&c, "nickname").await, nickname, "after a reload");
    let user = s.app().user_by_login(username).await.unwrap().unwrap();
    assert_eq!(user.nickname.as_deref(), Some(nickname));

    c.close().await.unwrap();
    drop(driver);
    s.stop().await;
    eprintln!(
        "{lang:?} flow took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_reset_password_and_edit_profile_in_english() {
    flow(Lang::En).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_reset_password_and_edit_profile_in_chinese() {
    flow(Lang::Zh).await;
}

/// The app of the OAuth flow.
const APP: &str = "Canteen";

/// Waits until the browser is at a URL that starts with `prefix`, and returns it.
async fn wait_at_url(c: &Client, prefix: &str) -> url::Url {
    let started = Instant::now();
    loop {
        let url = c.current_url().await.unwrap();
        if url.as_str().starts_with(prefix) {
            return url;
        }
        assert!(
            started.elapsed() < WAIT,
            "expected to be at {prefix}…, the browser is at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the consent page shows of one scope: title, description, and whether it has
/// a ticked box (`Some(true)`), an unticked one (`Some(false)`) or none (granted
/// anyway: `None`).
async fn consent_scopes(c: &Client) -> Vec<(String, String, Option<bool>)> {
    let mut shown = Vec::new();
    for li in c.find_all(Locator::Css(".scopes li")).await.unwrap() {
        let title = li.find(Locator::Css(".scope-name")).await.unwrap();
        let description = li.find(Locator::Css(".scope-desc")).await.unwrap();
        let ticked = match li
            .find_all(Locator::Css("input[type=checkbox]"))
            .await
            .unwrap()
            .first()
        {
            Some(b) => Some(b.prop("checked").await.unwrap().as_deref() == Some("true")),
            None => None,
        };
        shown.push((
            title.text().await.unwrap(),
            description.text().await.unwrap(),
            ticked,
        ));
    }
    shown
}

/// The authorization-code flow with PKCE as a person meets it. An app sends the browser
/// to `/oauth/authorize`; the person, not signed in yet, gets the login page naming the
/// app, signs in, gets the consent page, approves, and the browser is sent back to the
/// app with a code. The app (reqwest, outside the browser) exchanges the code for
/// tokens and reads `/oauth/userinfo`. The language is the browser's (Accept-Language).
async fn authorize_flow(lang: Lang) {
    let started = Instant::now();
    let t = lang.texts();
    let s = TestServer::start(Backend::Sqlite).await;
    // The app's callback: a loopback port where nothing listens. The browser cannot
    // load it, but its URL is the redirect, code and all.
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
    let created = s
        .app()
        .create_client(CreateClient {
            name: APP.into(),
            redirect_uris: vec![redirect.clone()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: vec![
                "openid".into(),
                "profile".into(),
                "email".into(),
                "basic".into(),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    let client_id = created.client.client_id;
    let secret = created
        .client_secret
        .expect("a confidential client has a secret");
    let (username, email) = match lang {
        Lang::En => ("lucy", "lucy@example.com"),
        Lang::Zh => ("lili", "lili@example.com"),
    };
    let user_id = s.register(username, email, OLD_PASSWORD).await;

    // What the app puts in the request: PKCE (S256), state and nonce.
    let verifier = usercenter::crypto::random_token(48);
    assert!((43..=128).contains(&verifier.len()), "RFC 7636 §4.1");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = usercenter::crypto::random_token(16);
    let nonce = usercenter::crypto::random_token(16);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "openid email")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish()
        // A space as %20, as apps usually write it (a '+' in a value is %2B).
        .replace('+', "%20");

    let driver = Driver::start();
    let c = driver
        .browser(match lang {
            Lang::En => "en-US,en",
            Lang::Zh => "zh-CN,zh",
        })
        .await;
    let mut shots = Shots::of_flow(lang, "oauth");

    // Not signed in: the login page, on the way to the app.
    c.goto(&s.url(&format!("/oauth/authorize?{query}")))
        .await
        .unwrap();
    assert_eq!(text(&c, "h1").await, t.sign_in_title);
    assert_eq!(
        text(&c, "h1 + .sub").await,
        format!("{} {APP}", t.sign_in_to)
    );
    assert_eq!(text(&c, "h1 + .sub strong").await, APP);
    check_page(&c, &t).await;
    shots.take(&c, "login-for-app").await;
    fill(&c, "login", username).await;
    fill(&c, "password", OLD_PASSWORD).await;
    click(&c, "sign-in").await;

    // The consent page: the app, what it asks for, who is signed in, where it goes.
    let approve = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("approve"))
        .await
        .unwrap_or_else(|e| panic!("no consent page after signing in: {e}"));
    assert_eq!(c.current_url().await.unwrap().path(), "/oauth/authorize");
    assert!(
        c.title()
            .await
            .unwrap()
            .starts_with(&format!("{} · ", t.consent_title)),
        "{}",
        c.title().await.unwrap()
    );
    assert_eq!(text(&c, "h1").await, APP);
    assert_eq!(text(&c, ".app-icon").await, "C");
    assert_eq!(text(&c, ".card > .sub").await, t.consent_asks);
    let line = |(title, description): (&str, &str), ticked| {
        let description = description
            .replace("{client_name}", APP)
            .replace("{user}", username);
        (title.to_string(), description, ticked)
    };
    assert_eq!(
        consent_scopes(&c).await,
        vec![
            // Always part of an OpenID Connect request: no box to untick.
            line(t.scope_openid, None),
            line(t.scope_email, Some(true)),
            // A default scope (seed 002), added to every request.
            line(t.scope_basic, None),
        ]
    );
    assert_eq!(text(&c, "#deny").await, t.deny);
    assert_eq!(approve.text().await.unwrap(), t.allow);
    assert_eq!(
        text(&c, ".who").await,
        format!(
            "{} {username} · {} 127.0.0.1",
            t.signed_in_as, t.redirect_to
        )
    );
    check_page(&c, &t).await;
    shots.take(&c, "consent").await;
    approve.click().await.unwrap();

    // Back at the app (which is not there): the code, the state, the issuer.
    let back = wait_at_url(&c, &format!("{redirect}?")).await;
    let params: std::collections::HashMap<String, String> =
        back.query_pairs().into_owned().collect();
    assert_eq!(params.get("error"), None, "{back}");
    assert_eq!(params.get("state"), Some(&state), "{back}");
    assert_eq!(params.get("iss"), Some(&s.base), "RFC 9207: {back}");
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {back}"));

    // The app exchanges the code, authenticating with its secret (HTTP Basic).
    let exchange = || {
        client()
            .post(s.url("/oauth/token"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect.as_str()),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
    };
    let res = exchange().await.unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    for key in ["access_token", "id_token", "refresh_token"] {
        assert!(
            tokens[key].as_str().is_some_and(|v| !v.is_empty()),
            "no {key} in {tokens}"
        );
    }
    assert!(
        tokens["token_type"]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case("bearer")),
        "{tokens}"
    );
    let mut scope: Vec<&str> = tokens["scope"].as_str().unwrap().split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["basic", "email", "openid"], "{tokens}");
    // The ID token is for this app and this request (its signature is checked in
    // tests/it/oauth.rs).
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let id: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(id["iss"], json!(s.base), "{id}");
    assert_eq!(id["sub"], json!(user_id.to_string()), "{id}");
    assert_eq!(id["nonce"], json!(nonce), "{id}");
    assert!(
        id["aud"] == json!(client_id) || id["aud"] == json!([client_id]),
        "{id}"
    );
    // The access token reads the person's claims.
    let userinfo = || {
        client()
            .get(s.url("/oauth/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
    };
    let res = userinfo().await.unwrap();
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["sub"], json!(user_id.to_string()), "{info}");
    assert_eq!(info["email"], json!(email), "{info}");

    // A code works once; used again, the tokens issued from it are revoked too
    // (RFC 6749 §4.1.2).
    let again = exchange().await.unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(userinfo().await.unwrap().status(), 401, "a revoked token");

    c.close().await.unwrap();
    drop(driver);
    s.stop().await;
    eprintln!(
        "{lang:?} OAuth flow took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_approve_an_app_in_english() {
    authorize_flow(Lang::En).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_approve_an_app_in_chinese() {
    authorize_flow(Lang::Zh).await;
}

/// The app registered in the developer console.
const CONSOLE_APP: &str = "Bookshelf";

/// The values of the ticked checkboxes called `name` on the page, in page order.
async fn ticked(c: &Client, name: &str) -> Vec<String> {
    let values = c
        .execute(
            "return [...document.querySelectorAll(`input[type=checkbox][name=\"${arguments[0]}\"]:checked`)]\
               .map(i => i.value);",
            vec![json!(name)],
        )
        .await
        .unwrap();
    serde_json::from_value(values).unwrap()
}

/// The words of a space-separated scope, sorted.
fn sorted_scope(scope: &str) -> Vec<String> {
    let mut words: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    words.sort_unstable();
    words
}

/// Issue 5 as people meet it. A developer signs in through the login page, registers
/// an app at `/account/apps` with the form's default scopes and grant types, copies
/// the client_id and the secret shown once, looks at the app's edit page and signs
/// out. Another person authorizes the app through `/oauth/authorize` (login, consent);
/// the app (reqwest) exchanges the code for tokens with the secret from the console.
/// That person then finds the app at `/account/authorizations` with the scopes granted
/// and one token, and revokes its access: the page says so and lists no app, and the
/// access token is inactive at `/oauth/introspect` and refused by `/oauth/userinfo`.
async fn console_flow(lang: Lang) {
    let started = Instant::now();
    let t = lang.texts();
    let s = TestServer::start(Backend::Sqlite).await;
    let (developer, person) = match lang {
        Lang::En => ("hanna", "bruno"),
        Lang::Zh => ("xiaoming", "xiaohong"),
    };
    s.register(developer, &format!("{developer}@example.com"), OLD_PASSWORD)
        .await;
    let person_id = s
        .register(person, &format!("{person}@example.com"), OLD_PASSWORD)
        .await;
    // The app's callback: a loopback port where nothing listens (as in the OAuth flow).
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());

    let driver = Driver::start();
    let c = driver
        .browser(match lang {
            Lang::En => "en-US,en",
            Lang::Zh => "zh-CN,zh",
        })
        .await;
    let mut shots = Shots::of_flow(lang, "console");

    // The console needs a signed-in person: the login page first, then back.
    c.goto(&s.url("/account/apps")).await.unwrap();
    wait_at(&c, "/login?return_to=%2Faccount%2Fapps").await;
    assert_eq!(text(&c, "h1").await, t.sign_in_title);
    fill(&c, "login", developer).await;
    fill(&c, "password", OLD_PASSWORD).await;
    click(&c, "sign-in").await;
    wait_at(&c, "/account/apps").await;
    assert_eq!(text(&c, "h1").await, t.my_apps);
    check_page(&c, &t).await;
    shots.take(&c, "apps-empty").await;

    // Register an app: the form is in a <details> (open already while there is no
    // app); the default scopes and grant types are ticked.
    assert_eq!(text(&c, "details > summary").await, t.create_app);
    let open = || async {
        c.execute("return document.querySelector('details').open;", vec![])
            .await
            .unwrap()
            == Value::Bool(true)
    };
    if !open().await {
        c.find(Locator::Css("details > summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    assert!(open().await, "the app form is shown");
    fill(&c, "app-name", CONSOLE_APP).await;
    fill(&c, "app-redirects", &redirect).await;
    let mut scopes = ticked(&c, "scopes").await;
    scopes.sort_unstable();
    assert_eq!(
        scopes,
        ["basic", "email", "openid", "profile"],
        "default scopes"
    );
    assert_eq!(
        ticked(&c, "grant_types").await,
        ["authorization_code", "refresh_token"],
        "default grant types"
    );
    assert_eq!(
        ticked(&c, "public").await,
        Vec::<String>::new(),
        "confidential"
    );
    click(&c, "save-app").await;

    // The new app's client_id and secret, shown this once; the app is in the list.
    let client_id = text(&c, "#client-id").await;
    let secret = text(&c, "#client-secret").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/account/apps");
    assert_eq!(text(&c, "#new-secret strong").await, t.secret_once);
    assert!(!client_id.is_empty(), "a client_id");
    assert!(
        secret.len() >= 20 && !secret.contains(char::is_whitespace),
        "a secret: {secret:?}"
    );
    assert!(
        c.find_all(Locator::Css(".alert.error"))
            .await
            .unwrap()
            .is_empty()
    );
    let links = c
        .find_all(Locator::Css(".list a[href^='/account/apps/']"))
        .await
        .unwrap();
    assert!(!links.is_empty(), "the app is listed");
    assert_eq!(links[0].text().await.unwrap(), CONSOLE_APP);
    let href = links[0].attr("href").await.unwrap().unwrap();
    let pk: i64 = href
        .strip_prefix("/account/apps/")
        .and_then(|pk| pk.parse().ok())
        .unwrap_or_else(|| panic!("no app id in {href}"));
    assert_eq!(text(&c, ".list code").await, client_id);
    assert_eq!(text(&c, ".list li .meta:nth-child(3)").await, redirect);
    check_page(&c, &t).await;
    shots.take(&c, "apps-created").await;

    // The app's edit page: its settings, and no secret any more.
    c.find(Locator::LinkText(t.edit))
        .await
        .unwrap_or_else(|e| panic!("no link {:?} on the apps page: {e}", t.edit))
        .click()
        .await
        .unwrap();
    wait_at(&c, &format!("/account/apps/{pk}")).await;
    assert_eq!(text(&c, "h1").await, CONSOLE_APP);
    assert_eq!(text(&c, "h1 + .sub code").await, client_id);
    assert_eq!(value(&c, "app-name").await, CONSOLE_APP);
    assert_eq!(value(&c, "app-redirects").await, redirect);
    let mut scopes = ticked(&c, "scopes").await;
    scopes.sort_unstable();
    assert_eq!(scopes, ["basic", "email", "openid", "profile"]);
    assert_eq!(
        ticked(&c, "grant_types").await,
        ["authorization_code", "refresh_token"]
    );
    assert!(
        c.find_all(Locator::Id("client-secret"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !c.source().await.unwrap().contains(&secret),
        "the secret is shown once"
    );
    check_page(&c, &t).await;
    shots.take(&c, "app-edit").await;

    // The developer signs out.
    c.goto(&s.url("/logout")).await.unwrap();
    assert_eq!(text(&c, "h1").await, t.sign_out_title);
    click(&c, "sign-out").await;
    wait_at(&c, "/login?notice=signed_out").await;

    // Another person authorizes the app: login page, consent page, back to the app.
    let verifier = usercenter::crypto::random_token(48);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = usercenter::crypto::random_token(16);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish()
        .replace('+', "%20");
    c.goto(&s.url(&format!("/oauth/authorize?{query}")))
        .await
        .unwrap();
    assert_eq!(text(&c, "h1").await, t.sign_in_title);
    assert_eq!(text(&c, "h1 + .sub strong").await, CONSOLE_APP);
    fill(&c, "login", person).await;
    fill(&c, "password", OLD_PASSWORD).await;
    click(&c, "sign-in").await;
    let approve = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("approve"))
        .await
        .unwrap_or_else(|e| panic!("no consent page after signing in: {e}"));
    assert_eq!(text(&c, "h1").await, CONSOLE_APP);
    assert!(
        text(&c, ".who").await.contains(person),
        "the consent page names who is signed in"
    );
    check_page(&c, &t).await;
    shots.take(&c, "consent").await;
    approve.click().await.unwrap();
    let back = wait_at_url(&c, &format!("{redirect}?")).await;
    let params: std::collections::HashMap<String, String> =
        back.query_pairs().into_owned().collect();
    assert_eq!(params.get("error"), None, "{back}");
    assert_eq!(params.get("state"), Some(&state), "{back}");
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {back}"));

    // The app exchanges the code with the secret from the console (HTTP Basic).
    let res = client()
        .post(s.url("/oauth/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {tokens}"))
        .to_string();
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {tokens}"))
        .to_string();
    let granted = sorted_scope(tokens["scope"].as_str().unwrap());
    assert_eq!(granted, ["basic", "email", "openid", "profile"], "{tokens}");
    let userinfo = || {
        client()
            .get(s.url("/oauth/userinfo"))
            .bearer_auth(&access)
            .send()
    };
    let res = userinfo().await.unwrap();
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["sub"], json!(person_id.to_string()), "{info}");
    // The app introspects with its own credentials.
    let introspect = |token: String| {
        let (client_id, secret) = (client_id.clone(), secret.clone());
        let url = s.url("/oauth/introspect");
        async move {
            let res = client()
                .post(url)
                .basic_auth(client_id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let before = introspect(access.clone()).await;
    assert_eq!(before["active"], true, "{before}");
    assert_eq!(before["client_id"], json!(client_id), "{before}");

    // The person's authorized apps: this one, with the scopes granted and one token.
    c.goto(&s.url("/account/authorizations")).await.unwrap();
    assert_eq!(text(&c, "h1").await, t.my_authorizations);
    let blocks = c.find_all(Locator::Css(".auth")).await.unwrap();
    assert_eq!(blocks.len(), 1, "one authorized app");
    let mut block = None;
    for b in blocks {
        if b.find(Locator::Css("h2"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            == CONSOLE_APP
        {
            block = Some(b);
        }
    }
    let block = block.unwrap_or_else(|| panic!("{CONSOLE_APP} is not listed"));
    assert_eq!(
        block.attr("id").await.unwrap().as_deref(),
        Some(format!("authorization-{pk}").as_str())
    );
    let mut shown_scopes = Vec::new();
    for input in block
        .find_all(Locator::Css("input[type=checkbox][name=scope]"))
        .await
        .unwrap()
    {
        assert_eq!(
            input.prop("checked").await.unwrap().as_deref(),
            Some("true")
        );
        shown_scopes.push(input.prop("value").await.unwrap().unwrap_or_default());
    }
    shown_scopes.sort_unstable();
    assert_eq!(shown_scopes, granted, "the scopes granted");
    let mut token_rows = Vec::new();
    for row in block.find_all(Locator::Css("li.token-row")).await.unwrap() {
        let id = row.attr("id").await.unwrap().unwrap_or_default();
        let kind = id.rsplit_once('-').map(|(k, _)| k.to_string());
        let scope = row
            .find(Locator::Css("span.meta"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        token_rows.push((kind, sorted_scope(&scope)));
    }
    // The app's refresh token is listed beside its access token: it can mint more.
    assert_eq!(
        token_rows,
        [
            (Some("refresh_token".to_string()), granted.clone()),
            (Some("access_token".to_string()), granted.clone()),
        ],
        "an access and a refresh token"
    );
    let revoke = block
        .find(Locator::Css("button[id^='revoke-']"))
        .await
        .unwrap_or_else(|e| panic!("no revoke button for {CONSOLE_APP}: {e}"));
    assert_eq!(
        revoke.attr("id").await.unwrap().as_deref(),
        Some(format!("revoke-{pk}").as_str())
    );
    assert_eq!(revoke.text().await.unwrap(), t.revoke_app);
    check_page(&c, &t).await;
    shots.take(&c, "authorizations").await;

    // Revoke: the page says so and lists the app no more.
    revoke.click().await.unwrap();
    wait_at(&c, "/account/authorizations?notice=authorization_revoked").await;
    assert_eq!(text(&c, ".alert.ok").await, t.authorization_revoked);
    assert_eq!(text(&c, "#no-authorizations").await, t.no_authorizations);
    assert!(c.find_all(Locator::Css(".auth")).await.unwrap().is_empty());
    check_page(&c, &t).await;
    shots.take(&c, "authorizations-revoked").await;

    // The tokens stopped working.
    assert_eq!(introspect(access.clone()).await, json!({"active": false}));
    assert_eq!(introspect(refresh).await, json!({"active": false}));
    assert_eq!(userinfo().await.unwrap().status(), 401, "a revoked token");

    c.close().await.unwrap();
    drop(driver);
    s.stop().await;
    eprintln!(
        "{lang:?} console flow took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_an_app_authorize_it_and_revoke_access_in_english() {
    console_flow(Lang::En).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_an_app_authorize_it_and_revoke_access_in_chinese() {
    console_flow(Lang::Zh).await;
}

/// SPEC §4's "scan to log in" in a real browser: the login page shows the QR code when
/// asked, the person confirms on a phone where they are signed in (here a second HTTP
/// client), and the page, polling, signs in and goes on to the account page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_to_log_in_from_the_login_page() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.register("scanner", "scanner@example.com", OLD_PASSWORD)
        .await;
    let (phone, _) = s.login("scanner", OLD_PASSWORD).await;
    let driver = Driver::start();
    let c = driver.browser("en").await;
    let mut shots = Shots::of_flow(Lang::En, "scan");
    c.goto(&s.url("/login?return_to=%2Faccount")).await.unwrap();
    click(&c, "scan-start").await;
    let code = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#scan-code svg"))
        .await
        .unwrap();
    assert!(code.is_displayed().await.unwrap(), "the QR code shows");
    shots.take(&c, "login-qr").await;
    let url = c
        .find(Locator::Id("scan-code"))
        .await
        .unwrap()
        .attr("data-url")
        .await
        .unwrap()
        .expect("the code's address");
    let page = phone.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Sign it in"), "{page}");
    let csrf = crate::harness::hidden(&page, "csrf_token");
    let res = phone
        .post(&url)
        .form(&[("csrf_token", csrf.as_str()), ("decision", "confirm")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    wait_at(&c, "/account").await;
    assert_eq!(text(&c, "h1").await, "scanner");
    shots.take(&c, "signed-in").await;
    c.close().await.unwrap();
    drop(driver);
    s.stop().await;
}

/// A native app's redirect URI has its own scheme (RFC 8252 §7.1). After the person
/// signs in and approves, the browser is sent there; nothing on the pages' Content
/// Security Policy may stop that redirect (browsers check `form-action` on the
/// redirects a form's answer makes, and no source list names an app's scheme).
#[tokio::test]
async fn a_native_app_is_sent_its_code_through_its_own_scheme() {
    let s = TestServer::start(Backend::Sqlite).await;
    let created = s
        .app()
        .create_client(CreateClient {
            name: APP.into(),
            redirect_uris: vec!["com.example.canteen:/oauth/cb".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["openid".into(), "basic".into()],
            is_public: true,
            ..Default::default()
        })
        .await
        .unwrap();
    s.register("native", "native@example.com", OLD_PASSWORD)
        .await;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(
        b"a verifier of forty-three characters or more",
    ));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &created.client.client_id)
        .append_pair("redirect_uri", "com.example.canteen:/oauth/cb")
        .append_pair("scope", "openid")
        .append_pair("state", "st")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let driver = Driver::start();
    let c = driver.browser("en").await;
    c.goto(&s.url(&format!("/oauth/authorize?{query}")))
        .await
        .unwrap();
    fill(&c, "login", "native").await;
    fill(&c, "password", OLD_PASSWORD).await;
    click(&c, "sign-in").await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Id("approve"))
        .await
        .unwrap();
    // Whatever the page's policy refuses is recorded where the test can read it.
    record_refusals(&c).await;
    click(&c, "approve").await;
    // The browser hands the app's scheme to the system (nothing here handles it), so
    // the page stays; the server answered the approval with the redirect.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        c.current_url().await.unwrap().path(),
        "/oauth/authorize",
        "still the consent page, whose listener is read next"
    );
    let refused = refusals(&c).await;
    assert_eq!(refused, json!([]), "the redirect to the app was refused");
    let issued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM authorization_codes")
        .fetch_one(s.app().db.pool())
        .await
        .unwrap();
    assert_eq!(issued, 1, "the approval made a code");
    c.close().await.unwrap();
    drop(driver);
    s.stop().await;
}

/// The pages allow no inline script (`script-src 'self'`), so their one script is a
/// file of this server's: in a real browser it must load and act. The language switch
/// keeps the rest of the address, and deleting an app asks first (in the page's
/// language): cancelled, the app stays; confirmed, it goes. Nothing is refused.
#[tokio::test]
async fn the_pages_script_is_served_and_runs_under_a_policy_without_inline_script() {
    let s = TestServer::start(Backend::Sqlite).await;
    let owner = s
        .register("scripted", "scripted@example.com", OLD_PASSWORD)
        .await;
    let created = s
        .app()
        .create_client(CreateClient {
            name: APP.into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["openid".into()],
            owner_id: Some(owner),
            ..Default::default()
        })
        .await
        .unwrap();
    let driver = Driver::start();
    let c = driver.browser("zh").await;
    let edit = format!("/account/apps/{}", created.client.id);
    c.goto(&s.url(&format!("/login?return_to={}", urlencoding(&edit))))
        .await
        .unwrap();
    record_refusals(&c).await;
    let english = c
        .find(Locator::Css("a[data-lang=en]"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(
        english.as_deref(),
        Some(format!("/login?return_to={}&lang=en", urlencoding(&edit)).as_str()),
        "the switch keeps where to return"
    );
    let refused = refusals(&c).await;
    assert_eq!(
        refused,
        json!([]),
        "the login page: the policy refused something"
    );
    // The stylesheets load under the policy and apply: every page's (the page's
    // background), and the login page's own (the scan section's alignment).
    assert_eq!(
        computed(&c, "body", "backgroundColor").await,
        "rgb(245, 246, 250)"
    );
    assert_eq!(computed(&c, ".scan", "textAlign").await, "center");
    fill(&c, "login", "scripted").await;
    fill(&c, "password", OLD_PASSWORD).await;
    click(&c, "sign-in").await;
    wait_at(&c, &edit).await;
    assert_eq!(computed(&c, ".danger-zone", "display").await, "flex");
    record_refusals(&c).await;
    click(&c, "delete-app").await;
    assert_eq!(
        c.get_alert_text().await.unwrap(),
        "删除此应用？它的令牌将立即失效。"
    );
    c.dismiss_alert().await.unwrap();
    let page = c.source().await.unwrap();
    assert!(
        page.contains("id=\"delete-app\""),
        "cancelled, the page stays"
    );
    assert!(
        s.app()
            .db
            .client_by_id(created.client.id)
            .await
            .unwrap()
            .is_some(),
        "cancelled, the app stays"
    );
    let refused = refusals(&c).await;
    assert_eq!(
        refused,
        json!([]),
        "the app's page: the policy refused something"
    );
    click(&c, "delete-app").await;
    c.accept_alert().await.unwrap();
    wait_at(&c, "/account/apps").await;
    assert!(
        s.app()
            .db
            .client_by_id(created.client.id)
            .await
            .unwrap()
            .is_none(),
        "confirmed, the app is deleted"
    );
    c.close().await.unwrap();
    drop(driver);
    s.stop().await;
}

/// The computed value of a style `property` of the first element `css` selects.
async fn computed(c: &Client, css: &str, property: &str) -> String {
    c.execute(
        "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]];",
        vec![json!(css), json!(property)],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// What the page's Content Security Policy refuses is recorded: from now on, and what
/// it refused while the page loaded (the reports the browser keeps, `buffered`).
async fn record_refusals(c: &Client) {
    c.execute(
        "window.refused = []; \
         document.addEventListener('securitypolicyviolation', \
           e => window.refused.push(e.violatedDirective + ' ' + e.blockedURI)); \
         window.reports = new ReportingObserver(rs => rs.forEach(r => \
           window.refused.push(r.body.effectiveDirective + ' ' + r.body.blockedURL + ' (loading)')), \
           {types: ['csp-violation'], buffered: true}); \
         window.reports.observe();",
        vec![],
    )
    .await
    .unwrap();
}

/// What the policy refused on this page, as [`record_refusals`] records it.
async fn refusals(c: &Client) -> Value {
    c.execute(
        "window.reports.takeRecords().forEach(r => \
           window.refused.push(r.body.effectiveDirective + ' ' + r.body.blockedURL + ' (loading)')); \
         return window.refused;",
        vec![],
    )
    .await
    .unwrap()
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
