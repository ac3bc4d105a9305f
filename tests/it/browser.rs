//! Issue 3 in a real browser: a person registers, signs out, forgets the password,
//! opens the mailed link, chooses a new password, signs in and edits the profile —
//! once in English and once in Chinese, in headless Chromium on a phone-sized
//! window, driven through chromedriver (WebDriver).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without
//! them the tests fail rather than skip. With `USERCENTER_SCREENSHOTS=DIR` set, every
//! page of the flow is saved into DIR as PNG (one file per screenful), to be looked at.

use crate::harness::{Backend, TempDir, TestServer, wait_outbox};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
            },
            Self::Zh => Texts {
                html_lang: "zh-CN",
                register_title: "创建你的账号",
                profile: "个人资料",
                sign_out: "退出登录",
                sign_out_title: "确定退出登录?",
                signed_out: "你已退出登录。",
                sign_in_title: "登录你的账号",
                forgot: "忘记密码?",
                forgot_title: "重置密码",
                forgot_sent: "如果该邮箱已注册,重置链接已发出,30 分钟内有效。",
                reset_title: "设置新密码",
                reset_done: "密码已修改,请使用新密码登录。",
                invalid_credentials: "账号或密码错误。",
                saved: "已保存。",
            },
        }
    }
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
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
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

/// Screenshots into `USERCENTER_SCREENSHOTS`, when set: `<lang>-<nn>-<page>.png`, and
/// `…-2.png`, `…-3.png` for the further screenfuls of a long page.
struct Shots {
    dir: Option<PathBuf>,
    lang: Lang,
    n: usize,
}

impl Shots {
    fn new(lang: Lang) -> Self {
        let dir = std::env::var_os("USERCENTER_SCREENSHOTS")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).unwrap();
        }
        Self { dir, lang, n: 0 }
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
            let name = format!("{}-{:02}-{page}{suffix}.png", self.lang.code(), self.n);
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
    let user = s.app().db.user_by_login(username).await.unwrap().unwrap();
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
