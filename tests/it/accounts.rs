//! Issue 3: register, log in, sessions, password reset by e-mail, profile, groups.

use crate::harness::{Backend, TestServer, client, hidden, outbox, wait_outbox};
use crate::on_both;
use serde_json::{Value, json};

const PW: &str = "correct horse battery";

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

on_both!(register_api_validates_and_refuses_duplicates, |backend| {
    let s = TestServer::start(backend).await;
    let res = s
        .http
        .post(s.url("/api/auth/register"))
        .json(&json!({"username": "lilei", "email": "LiLei@Example.com", "password": PW, "phone": "13212345720"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let b = body(res).await;
    assert_eq!(b["username"], "lilei");
    assert_eq!(b["email"], "lilei@example.com");

    for (payload, status, error) in [
        (
            json!({"username": "other", "email": "lilei@example.com", "password": PW}),
            409,
            "email_taken",
        ),
        (
            json!({"username": "lilei", "email": "x@example.com", "password": PW}),
            409,
            "username_taken",
        ),
        (
            json!({"username": "weak", "email": "w@example.com", "password": "password123"}),
            400,
            "invalid_request",
        ),
        (
            json!({"username": "sam", "email": "not-an-email", "password": PW}),
            400,
            "invalid_request",
        ),
    ] {
        let res = s
            .http
            .post(s.url("/api/auth/register"))
            .json(&payload)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{payload}");
        let b = body(res).await;
        assert_eq!(b["error"], error, "{b}");
    }
    let weak = s
        .http
        .post(s.url("/api/auth/register"))
        .json(&json!({"username": "weak", "email": "w@example.com", "password": "weakpass"}))
        .send()
        .await
        .unwrap();
    // "weakpass" is long enough and not common: accepted. A password equal to the
    // username is not.
    assert_eq!(weak.status(), 201);
    let same = s
        .http
        .post(s.url("/api/auth/register"))
        .json(&json!({"username": "samesame1", "email": "s@example.com", "password": "samesame1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 400);
    assert!(body(same).await["fields"]["password"].is_string());

    // Wrong Content-Type is code 9.
    let res = s
        .http
        .post(s.url("/api/auth/register"))
        .body("username=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(body(res).await["error_code"], 9);

    // An admin switches registration off.
    s.app()
        .set_setting("allow_registration", "false")
        .await
        .unwrap();
    let res = s
        .http
        .post(s.url("/api/auth/register"))
        .json(&json!({"username": "late", "email": "late@example.com", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let page = s.http.get(s.url("/register")).send().await.unwrap();
    assert_eq!(page.status(), 403);
    s.stop().await;
});

on_both!(
    login_by_any_identifier_without_telling_which_part_was_wrong,
    |backend| {
        let s = TestServer::start(backend).await;
        let res = s
        .http
        .post(s.url("/api/auth/register"))
        .json(&json!({"username": "hanmeimei", "email": "han@example.com", "password": PW, "phone": "+86 139-0000-1111"}))
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), 201);
        let stored = s.app().user_by_login("hanmeimei").await.unwrap();
        assert_eq!(stored.unwrap().phone.as_deref(), Some("13900001111"));
        // The phone in any spelling names the account (docs/phones.md).
        for login in [
            "hanmeimei",
            "HAN@example.com",
            "13900001111",
            "+8613900001111",
            "139 0000 1111",
        ] {
            let (http, csrf) = s.login(login, PW).await;
            assert!(csrf.len() >= 20);
            let me = http.get(s.url("/api/auth/session")).send().await.unwrap();
            assert_eq!(me.status(), 200);
            assert_eq!(body(me).await["username"], "hanmeimei");
        }
        let wrong = client()
            .post(s.url("/api/auth/login"))
            .json(&json!({"login": "hanmeimei", "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        let unknown = client()
            .post(s.url("/api/auth/login"))
            .json(&json!({"login": "nobody", "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        assert_eq!(unknown.status(), 401);
        assert_eq!(
            body(wrong).await,
            body(unknown).await,
            "the same answer for both"
        );

        let entries = s
            .app()
            .db
            .audit_entries(Some("login_failed"), None, 10)
            .await
            .unwrap();
        assert_eq!(entries.len(), 2);
        assert!(
            !s.app()
                .db
                .audit_entries(Some("login"), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        s.stop().await;
    }
);

#[tokio::test]
async fn repeated_failures_are_throttled_per_account() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.register("target", "target@example.com", PW).await;
    let user = s.app().user_by_login("target").await.unwrap().unwrap();
    s.app()
        .db
        .take_phone(user.id, "13900002222", 0)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = client()
            .post(s.url("/api/auth/login"))
            .json(&json!({"login": "target", "password": "not it at all"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // One counter per spelling typed, a phone's spellings being one: five wrong
    // guesses by phone lock every spelling of it. The counter comes from the text
    // alone, so it tells nothing about which account, if any, a login names.
    let mut statuses = Vec::new();
    for login in [
        "13900002222",
        "+86 139 0000 2222",
        "0086-139-0000-2222",
        "8613900002222",
        "139 0000 2222",
        "(+86) 13900002222",
    ] {
        let res = client()
            .post(s.url("/api/auth/login"))
            .json(&json!({"login": login, "password": "not it either"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // No text locks an account it does not spell: not its id.
    let bystander = s.register("bystander", "bystander@example.com", PW).await;
    for _ in 0..6 {
        client()
            .post(s.url("/api/auth/login"))
            .json(&json!({"login": format!("#{bystander}"), "password": "guess"}))
            .send()
            .await
            .unwrap();
    }
    let res = client()
        .post(s.url("/api/auth/login"))
        .json(&json!({"login": "bystander", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the bystander is not locked");
    // Even the right password waits until the lock ends.
    let res = client()
        .post(s.url("/api/auth/login"))
        .json(&json!({"login": "target", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(
        body(res).await["error_description"]
            .as_str()
            .unwrap()
            .contains("seconds")
    );
    s.stop().await;
}

/// The lock tells nothing about whether an account exists: a login no account has is
/// answered and locked like one that has.
#[tokio::test]
async fn unknown_logins_are_answered_and_locked_like_known_ones() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.register("target", "target@example.com", PW).await;
    let mut answers = Vec::new();
    for login in ["target", "ghost@example.com"] {
        let mut seen = Vec::new();
        for _ in 0..6 {
            let res = client()
                .post(s.url("/api/auth/login"))
                .json(&json!({"login": login, "password": "not it at all"}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let b = body(res).await;
            // The lock's description counts its seconds down; the rest is compared.
            let description: String = b["error_description"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .collect();
            seen.push((status, b["error"].clone(), description));
        }
        let statuses: Vec<u16> = seen.iter().map(|(st, ..)| *st).collect();
        assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "{login}");
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1]);
    s.stop().await;
}

// SPEC §3: every pinned JSON route answers `?format=html` with the same data as a
// page, errors included; without it, JSON.
#[tokio::test]
async fn the_auth_and_account_routes_render_as_pages_on_request() {
    let s = TestServer::start(Backend::Sqlite).await;
    let http = client();
    let page = async |res: reqwest::Response, status: u16| {
        assert_eq!(res.status(), status);
        let kind = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/html"), "{kind}");
        res.text().await.unwrap()
    };
    let html = page(
        http.post(s.url("/api/auth/register?format=html"))
            .json(&json!({"username": "paged", "email": "paged@example.com", "password": PW}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert!(html.contains("paged@example.com"), "{html}");
    let html = page(
        http.post(s.url("/api/auth/login?format=html"))
            .json(&json!({"login": "paged", "password": PW}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(
        html.contains("csrf_token") && html.contains("paged"),
        "{html}"
    );
    let html = page(
        http.get(s.url("/api/auth/session?format=html"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(html.contains("paged"), "the login's cookie holds: {html}");
    let html = page(
        http.get(s.url("/api/account?format=html"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(html.contains("email_verified"), "{html}");
    let html = page(
        http.post(s.url("/api/auth/password/forgot?format=html"))
            .json(&json!({"email": "nobody@example.com"}))
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    assert!(html.contains("accepted"), "{html}");
    let res = http.get(s.url("/api/account")).send().await.unwrap();
    assert_eq!(body(res).await["username"], "paged");

    // Errors too, with their status and headers; a format it does not know is 400.
    let html = page(
        http.post(s.url("/api/auth/login?format=html"))
            .json(&json!({"login": "paged", "password": "wrong"}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert!(html.contains("invalid_credentials"), "{html}");
    let res = client()
        .get(s.url("/api/user?format=html"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    assert!(page(res, 401).await.contains("invalid_token"));
    let res = http
        .get(s.url("/api/account?format=xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(body(res).await["fields"]["format"], "must be json or html");
    s.stop().await;
}

/// The pages' policy allows scripts and styles from this server only, never inline:
/// every page names the one script and its stylesheets by hashed addresses, which are
/// served as JavaScript and CSS and kept by browsers; no page carries an inline
/// script, event handler, style element or style attribute.
#[tokio::test]
async fn pages_allow_no_inline_script_or_style_and_load_theirs_from_the_server() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.app()
        .create_user(usercenter::service::CreateUser {
            email: "scripts@example.com".into(),
            password: PW.into(),
            username: Some("scripts".into()),
            phone: None,
            is_admin: true,
        })
        .await
        .unwrap();
    let (session, _) = s.login("scripts", PW).await;
    let mut scripts = Vec::new();
    let mut sheets = Vec::new();
    // A page of each layout and stylesheet: signed out, the account's, the console's,
    // the admin's, the device's, and an API answer as a page.
    for (path, signed_in, status) in [
        ("/login", false, 200),
        ("/register", false, 200),
        ("/password/forgot", false, 200),
        ("/account", true, 200),
        ("/account/apps", true, 200),
        ("/account/authorizations", true, 200),
        ("/admin", true, 200),
        ("/admin/users", true, 200),
        ("/admin/clients", true, 200),
        ("/admin/scopes", true, 200),
        ("/admin/cards", true, 200),
        ("/device", true, 200),
        ("/api/user?format=html", false, 401),
    ] {
        let http = if signed_in { session.clone() } else { client() };
        let res = http.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        let directive = |name: &str| {
            csp.split(';')
                .map(str::trim)
                .find(|d| d.split(' ').next() == Some(name))
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(
            directive("script-src"),
            "script-src 'self'",
            "{path}: {csp}"
        );
        assert_eq!(directive("style-src"), "style-src 'self'", "{path}: {csp}");
        let html = res.text().await.unwrap();
        assert_eq!(html.matches("<script").count(), 1, "{path}: {html}");
        let tag_start = html.find("<script").unwrap();
        let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap() + 1];
        let src = tag
            .split("src=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("{path}: an inline script {tag}"));
        assert!(html[tag_start..].starts_with(&format!("<script src=\"{src}\" defer></script>")));
        for inline in [
            " onsubmit=",
            " onclick=",
            " onchange=",
            " onload=",
            " style=",
            "<style",
        ] {
            assert!(!html.contains(inline), "{path}: {inline}");
        }
        scripts.push(src.to_string());
        let links: Vec<String> = html
            .split("<link rel=\"stylesheet\" href=\"")
            .skip(1)
            .map(|r| r.split('"').next().unwrap().to_string())
            .collect();
        assert!(
            links.first().is_some_and(|l| l.starts_with("/assets/app.")),
            "{path}: every page's sheet first: {links:?}"
        );
        sheets.extend(links);
    }
    scripts.dedup();
    assert_eq!(scripts.len(), 1, "one script for every page: {scripts:?}");
    sheets.sort();
    sheets.dedup();
    assert!(sheets.len() >= 6, "{sheets:?}");
    for (src, kind) in [(&scripts[0], "js")]
        .into_iter()
        .chain(sheets.iter().map(|s| (s, "css")))
    {
        let hash = src
            .strip_prefix("/assets/")
            .and_then(|n| n.strip_suffix(&format!(".{kind}")))
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, h)| h);
        assert!(
            hash.is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit())),
            "{src}"
        );
        let res = client().get(s.url(src)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{src}");
        let content_type = match kind {
            "js" => "text/javascript; charset=utf-8",
            _ => "text/css; charset=utf-8",
        };
        assert_eq!(res.headers()["content-type"], content_type, "{src}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let text = res.text().await.unwrap();
        if kind == "js" {
            assert!(
                text.contains("form[data-confirm]") && text.contains("scan-start"),
                "{text}"
            );
        } else {
            assert!(text.contains('{') && text.contains('}'), "{src}: {text}");
        }
    }
    let every_page = sheets
        .iter()
        .find(|s| s.starts_with("/assets/app."))
        .unwrap();
    assert!(
        crate::harness::get_text(&client(), &s.url(every_page))
            .await
            .contains("--brand:"),
        "{every_page}"
    );
    for other in [
        "/assets/app.0123456789abcdef.js",
        "/assets/app.0123456789abcdef.css",
        "/assets/app.js",
        "/assets/app.css",
        "/assets/..%2FCargo.toml",
    ] {
        let res = client().get(s.url(other)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{other}");
    }
    s.stop().await;
}

// The login page's QR codes: 30 a minute per address.
#[tokio::test]
async fn scan_codes_are_limited_per_address() {
    let s = TestServer::start(Backend::Sqlite).await;
    let browser = client();
    let page = crate::harness::get_text(&browser, &s.url("/login")).await;
    let csrf = hidden(&page, "csrf_token");
    let mut statuses = Vec::new();
    for _ in 0..31 {
        let res = browser
            .post(s.url("/login/qr"))
            .form(&[("csrf_token", csrf.as_str()), ("return_to", "/account")])
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert!(statuses[..30].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses[30], 429);
    s.stop().await;
}

// Guesses sent at once are each counted before their password is checked: of ten
// wrong ones, five are checked and five refused.
on_both!(guesses_sent_at_once_are_each_counted, |backend| {
    let s = TestServer::start(backend).await;
    s.register("burst", "burst@example.com", PW).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..10 {
        let url = s.url("/api/auth/login");
        guesses.spawn(async move {
            let body = json!({"login": "burst", "password": format!("wrong guess {i}")});
            client()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut statuses = guesses.join_all().await;
    statuses.sort();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
    let res = client()
        .post(s.url("/api/auth/login"))
        .json(&json!({"login": "burst", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "locked");
    s.stop().await;
});

// SPEC §6: instances on one database and one Redis share their login counters, so
// that failures spread over them lock the account as on one instance.
on_both!(instances_with_one_redis_share_login_counters, |backend| {
    let Some(redis) = crate::harness::redis_url() else {
        eprintln!("USERCENTER_TEST_REDIS_URL is not set: not run against Redis");
        return;
    };
    // A key of their own: counters of other runs on the same Redis are not theirs.
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let a = TestServer::start_with(backend, |c| {
        c.redis_url = Some(redis.clone());
        c.secret_key = Some(secret.clone());
    })
    .await;
    let mut config = a.db.config();
    config.redis_url = Some(redis);
    config.secret_key = Some(secret);
    let b = usercenter::server::start(config).await.unwrap();
    let bases = [a.base.clone(), format!("http://{}", b.addr)];
    a.register("spread", "spread@example.com", PW).await;
    let login = async |base: &str, password: &str| {
        client()
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"login": "spread", "password": password}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(login(&bases[i % 2], "not it at all").await);
    }
    // Each instance saw three failures; the limit of five is counted over both.
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    assert_eq!(
        login(&bases[0], PW).await,
        429,
        "the lock holds on the other"
    );
    b.shutdown().await.unwrap();
    a.stop().await;
});

on_both!(
    logout_needs_the_csrf_header_and_ends_the_session,
    |backend| {
        let s = TestServer::start(backend).await;
        s.register("lucy", "lucy@example.com", PW).await;
        let (http, csrf) = s.login("lucy", PW).await;
        let res = http.post(s.url("/api/auth/logout")).send().await.unwrap();
        assert_eq!(res.status(), 403, "no X-CSRF-Token");
        let res = http
            .post(s.url("/api/auth/logout"))
            .header("X-CSRF-Token", "wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        let res = http
            .post(s.url("/api/auth/logout"))
            .header("X-CSRF-Token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        let res = http.get(s.url("/api/auth/session")).send().await.unwrap();
        assert_eq!(res.status(), 401);
        s.stop().await;
    }
);

on_both!(
    password_reset_by_mail_is_single_use_expiring_and_enumeration_safe,
    |backend| {
        let s = TestServer::start(backend).await;
        s.register("jim", "jim@example.com", PW).await;
        let (other_device, _) = s.login("jim", PW).await;

        let known = s
            .http
            .post(s.url("/api/auth/password/forgot"))
            .json(&json!({"email": "jim@example.com"}))
            .send()
            .await
            .unwrap();
        let unknown = s
            .http
            .post(s.url("/api/auth/password/forgot"))
            .json(&json!({"email": "nobody@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(known.status(), 202);
        assert_eq!(unknown.status(), 202);
        assert_eq!(body(known).await, body(unknown).await);
        let mails = wait_outbox(&s.mail_dir(), 1).await;
        assert_eq!(mails.len(), 1, "one mail, to the registered address only");
        assert_eq!(mails[0]["to"], "jim@example.com");
        let text = mails[0]["text"].as_str().unwrap();
        let link = text
            .split_whitespace()
            .find(|w| w.contains("/password/reset?token="))
            .unwrap();
        assert!(
            link.starts_with(&s.base),
            "the link uses the issuer: {link}"
        );
        let token = link.split("token=").nth(1).unwrap();

        let weak = s
            .http
            .post(s.url("/api/auth/password/reset"))
            .json(&json!({"token": token, "password": "short"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            weak.status(),
            400,
            "a weak password does not spend the token"
        );
        let res = s
            .http
            .post(s.url("/api/auth/password/reset"))
            .json(&json!({"token": token, "password": "brand new secret"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        let again = s
            .http
            .post(s.url("/api/auth/password/reset"))
            .json(&json!({"token": token, "password": "another new one"}))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 400);
        assert_eq!(body(again).await["error"], "invalid_token");

        // The reset ended every session; the old password is gone, the new one works.
        assert_eq!(
            other_device
                .get(s.url("/api/auth/session"))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
        let old = client()
            .post(s.url("/api/auth/login"))
            .json(&json!({"login": "jim", "password": PW}))
            .send()
            .await
            .unwrap();
        assert_eq!(old.status(), 401);
        s.login("jim", "brand new secret").await;

        // An expired link is refused.
        s.http
            .post(s.url("/api/auth/password/forgot"))
            .json(&json!({"email": "jim@example.com"}))
            .send()
            .await
            .unwrap();
        let mails = wait_outbox(&s.mail_dir(), 2).await;
        let text = mails[1]["text"].as_str().unwrap();
        let token = text
            .split("token=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        sqlx::query("UPDATE password_resets SET expires_at = 1")
            .execute(s.app().db.pool())
            .await
            .unwrap();
        let expired = s
            .http
            .post(s.url("/api/auth/password/reset"))
            .json(&json!({"token": token, "password": "brand new secret 2"}))
            .send()
            .await
            .unwrap();
        assert_eq!(expired.status(), 400);
        assert_eq!(body(expired).await["error"], "invalid_token");
        s.login("jim", "brand new secret").await;
        assert!(
            !s.app()
                .db
                .audit_entries(Some("password_reset"), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        s.stop().await;
    }
);

on_both!(forms_need_csrf_and_return_only_to_own_paths, |backend| {
    let s = TestServer::start(backend).await;
    s.register("lily", "lily@example.com", PW).await;
    // Without the CSRF field.
    let res = s
        .http
        .post(s.url("/login"))
        .form(&[("login", "lily"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A caller with a token gets no CSRF cookie; its empty CSRF field passes no form.
    for (header, query) in [(Some("Bearer x"), ""), (None, "?access_token=x")] {
        let mut req = client().post(s.url(&format!("/login{query}"))).form(&[
            ("csrf_token", ""),
            ("login", "lily"),
            ("password", PW),
        ]);
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        assert_eq!(
            req.send().await.unwrap().status(),
            403,
            "{header:?} {query}"
        );
    }
    // With it, and an attempt at an open redirect.
    let page = s
        .http
        .get(s.url("/login?return_to=//evil.test/x"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    let res = s
        .http
        .post(s.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("login", "lily"),
            ("password", PW),
            ("return_to", "//evil.test/x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("uc_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let account = s.http.get(s.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), 200);
    assert!(account.text().await.unwrap().contains("lily@example.com"));
    s.stop().await;
});

#[tokio::test]
async fn pages_speak_chinese_and_english() {
    let s = TestServer::start(Backend::Sqlite).await;
    let zh = client()
        .get(s.url("/login"))
        .header("Accept-Language", "zh-CN,zh;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(zh.contains("登录") && zh.contains("lang=\"zh-CN\""));
    let en = client()
        .get(s.url("/login"))
        .header("Accept-Language", "en-US")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("Sign in") && en.contains("lang=\"en\""));
    // The switch wins over the header and is remembered.
    let http = client();
    let switched = http
        .get(s.url("/login?lang=en"))
        .header("Accept-Language", "zh-CN")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(switched.contains("Sign in to your account"));
    let later = http
        .get(s.url("/password/forgot"))
        .header("Accept-Language", "zh-CN")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(later.contains("Reset your password"));

    // The server's own messages on a page, in the page's language.
    s.register("taken", "taken@example.com", PW).await;
    let zh = client();
    let page = zh
        .get(s.url("/register"))
        .header("Accept-Language", "zh-CN")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    let register = |email: &'static str| {
        let form = [
            ("csrf_token", csrf.clone()),
            ("username", "taken".into()),
            ("email", email.into()),
            ("password", "a good long secret".into()),
        ];
        let req = zh
            .post(s.url("/register"))
            .header("Accept-Language", "zh-CN")
            .form(&form);
        async move {
            let res = req.send().await.unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    let (status, page) = register("not-an-address").await;
    assert_eq!(status, 400);
    assert!(page.contains("不是有效的邮箱地址"), "{page}");
    assert!(!page.contains("is not a valid e-mail address"), "{page}");
    let (_, page) = register("other@example.com").await;
    assert!(page.contains("该用户名已被占用"), "{page}");
    // A reset link that is no good says so before a password is typed.
    let res = zh
        .get(s.url("/password/reset?token=not-a-link"))
        .header("Accept-Language", "zh-CN")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("重置链接无效"), "{page}");
    assert!(
        !page.contains("name=\"password\""),
        "no form for a dead link"
    );
    s.stop().await;
}

on_both!(profile_is_edited_and_identity_stored_encrypted, |backend| {
    let s = TestServer::start(backend).await;
    s.register("zhangsan", "zs@example.com", PW).await;
    let (http, csrf) = s.login("zhangsan", PW).await;
    let patch = json!({"nickname": "三", "id_card": "44092319900101987x", "real_name": "张三", "phone": "13212345720", "gender": 1, "birthdate": "1990-01-01", "province": "广东"});
    let res = http
        .patch(s.url("/api/account"))
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "X-CSRF-Token is required");
    let res = http
        .patch(s.url("/api/account"))
        .header("X-CSRF-Token", &csrf)
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let b = body(res).await;
    assert_eq!(b["nickname"], "三");
    assert_eq!(b["id_card"], "4409**********987X");
    assert_eq!(b["real_name"], "张*");
    assert_eq!(b["phone_masked"], "132*****720");

    for (field, value) in [
        ("birthdate", json!("yesterday")),
        ("birthdate", json!("2024-99-99")),
        ("birthdate", json!("2023-02-29")),
        ("certificate_type", json!(-7)),
        ("certificate_type", json!(4)),
    ] {
        let bad = http
            .patch(s.url("/api/account"))
            .header("X-CSRF-Token", &csrf)
            .json(&json!({ field: value }))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400, "{field} {value}");
        assert!(
            body(bad).await["fields"][field].is_string(),
            "{field} {value}"
        );
    }
    let kept = body(http.get(s.url("/api/account")).send().await.unwrap()).await;
    assert_eq!(kept["birthdate"], "1990-01-01");
    // Values stored before these checks do not stop a change of another field.
    sqlx::query("UPDATE users SET birthdate = '1990-02-30', certificate_type = 7")
        .execute(s.app().db.pool())
        .await
        .unwrap();
    let other = http
        .patch(s.url("/api/account"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"nickname": "三"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(body(other).await["birthdate"], "1990-02-30");
    let unknown = http
        .patch(s.url("/api/account"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"is_admin": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);

    let user = s.app().user_by_login("zhangsan").await.unwrap().unwrap();
    let stored = user.id_card_enc.clone().unwrap();
    assert!(
        !stored.contains("987X") && !stored.contains("4409"),
        "stored encrypted"
    );
    assert!(!user.real_name_enc.clone().unwrap().contains("张"));
    assert!(!user.is_admin);
    // A field left out of a PATCH stays.
    let res = http
        .patch(s.url("/api/account"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"city": "广州"}))
        .send()
        .await
        .unwrap();
    let b = body(res).await;
    assert_eq!(b["city"], "广州");
    assert_eq!(b["nickname"], "三");
    assert_eq!(
        client()
            .get(s.url("/api/account"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    s.stop().await;
});

on_both!(
    password_change_ends_other_sessions_and_groups_show,
    |backend| {
        let s = TestServer::start(backend).await;
        s.register("tom", "tom@example.com", PW).await;
        let (phone, _) = s.login("tom", PW).await;
        let (laptop, _) = s.login("tom", PW).await;
        let page = laptop
            .get(s.url("/account"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden(&page, "csrf_token");
        let res = laptop
            .post(s.url("/account/password"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("current_password", "not mine"),
                ("new_password", "a new secret 1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "the current password is checked");
        let res = laptop
            .post(s.url("/account/password"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("current_password", PW),
                ("new_password", "a new secret 1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(
            laptop
                .get(s.url("/api/auth/session"))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "this session stays"
        );
        assert_eq!(
            phone
                .get(s.url("/api/auth/session"))
                .send()
                .await
                .unwrap()
                .status(),
            401,
            "the others end"
        );
        assert!(
            !s.app()
                .db
                .audit_entries(Some("password_changed"), None, 10)
                .await
                .unwrap()
                .is_empty()
        );

        let now = usercenter::time::now();
        let g = s.app().db.create_group("canteen", "", now).await.unwrap();
        let tom = s.app().user_by_login("tom").await.unwrap().unwrap();
        s.app().db.add_to_group(g.id, tom.id, now).await.unwrap();
        let me = body(laptop.get(s.url("/api/account")).send().await.unwrap()).await;
        assert_eq!(me["groups"], json!(["canteen"]));
        assert!(
            laptop
                .get(s.url("/account"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains("canteen")
        );
        s.stop().await;
    }
);

on_both!(a_profile_save_keeps_a_phone_bound_meanwhile, |backend| {
    let s = TestServer::start(backend).await;
    s.register("pat", "pat@example.com", PW).await;
    // The account page read the user; an SMS login binds a phone before the save.
    let read = s.app().user_by_login("pat").await.unwrap().unwrap();
    let mut input = s.app().profile_input(&read);
    input.nickname = Some("Pat".into());
    let now = usercenter::time::now();
    s.app()
        .db
        .take_phone(read.id, "13900003333", now)
        .await
        .unwrap();
    s.app().update_profile(&read, input).await.unwrap();
    let saved = s.app().user_by_login("pat").await.unwrap().unwrap();
    assert_eq!(saved.nickname.as_deref(), Some("Pat"));
    assert_eq!(saved.phone.as_deref(), Some("13900003333"));
    assert!(saved.phone_verified, "the proven phone stays proven");
    // A phone typed into the form is written, to be proven again.
    let mut input = s.app().profile_input(&saved);
    input.phone = Some("13900004444".into());
    s.app().update_profile(&saved, input).await.unwrap();
    let saved = s.app().user_by_login("pat").await.unwrap().unwrap();
    assert_eq!(saved.phone.as_deref(), Some("13900004444"));
    assert!(!saved.phone_verified);

    // The account page: opened before a binding, saved after it, the phone untouched.
    s.register("quinn", "quinn@example.com", PW).await;
    let (http, _) = s.login("quinn", PW).await;
    let page = http
        .get(s.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    let shown = hidden(&page, "phone_shown");
    let quinn = s.app().user_by_login("quinn").await.unwrap().unwrap();
    s.app()
        .db
        .take_phone(quinn.id, "13900005555", now)
        .await
        .unwrap();
    let res = http
        .post(s.url("/account/profile"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("phone_shown", shown.as_str()),
            ("phone", shown.as_str()),
            ("nickname", "Q"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let saved = s.app().user_by_login("quinn").await.unwrap().unwrap();
    assert_eq!(saved.nickname.as_deref(), Some("Q"));
    assert_eq!(saved.phone.as_deref(), Some("13900005555"));
    assert!(saved.phone_verified);
    s.stop().await;
});

on_both!(
    email_change_needs_the_password_and_ends_links_sent_to_the_old_address,
    |backend| {
        let s = TestServer::start(backend).await;
        s.register("eve", "eve@example.com", PW).await;
        s.register("mal", "mal@example.com", PW).await;
        // A reset link goes to the address the account has now.
        let sent = s
            .http
            .post(s.url("/api/auth/password/forgot"))
            .json(&json!({"email": "eve@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 202);
        let mails = wait_outbox(&s.mail_dir(), 1).await;
        let text = mails[0]["text"].as_str().unwrap();
        let token = text
            .split("token=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();

        let (eve, _) = s.login("eve", PW).await;
        let page = eve
            .get(s.url("/account"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden(&page, "csrf_token");
        let email_of = |name: &'static str| {
            let app = s.app();
            async move {
                let user = app.user_by_login(name).await.unwrap().unwrap();
                (user.email.unwrap_or_default(), user.email_verified)
            }
        };
        let change = |csrf: &str, password: &str, email: &str| {
            eve.post(s.url("/account/email"))
                .form(&[
                    ("csrf_token", csrf),
                    ("current_password", password),
                    ("email", email),
                ])
                .send()
        };
        let forged = change("forged", PW, "eve@new.example").await.unwrap();
        assert_eq!(forged.status(), 403);
        let wrong = change(&csrf, "not mine", "eve@new.example").await.unwrap();
        assert_eq!(wrong.status(), 400, "the password is proven");
        let taken = change(&csrf, PW, "MAL@example.com").await.unwrap();
        assert_eq!(taken.status(), 400);
        assert!(
            taken.text().await.unwrap().contains("already registered"),
            "the page says why"
        );
        assert_eq!(email_of("eve").await.0, "eve@example.com");
        assert_eq!(email_of("mal").await.0, "mal@example.com");

        let res = change(&csrf, PW, " Eve@New.Example ").await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/account?notice=email_changed");
        assert_eq!(
            email_of("eve").await,
            ("eve@new.example".to_string(), false),
            "stored lower-cased, to be verified again"
        );

        // The link mailed to the old address no longer sets the password.
        let late = s
            .http
            .post(s.url("/api/auth/password/reset"))
            .json(&json!({"token": token, "password": "taken over 1234"}))
            .send()
            .await
            .unwrap();
        assert_eq!(late.status(), 400);
        assert_eq!(body(late).await["error"], "invalid_token");
        // Nor does one stored after the change (the mail goes out in the background):
        // it was mailed to an address the account has left.
        let now = usercenter::time::now();
        let eve = s.app().user_by_login("eve").await.unwrap().unwrap();
        let stored_late = "a-link-stored-after-the-change-0123456789";
        s.app()
            .db
            .create_password_reset(
                &s.app().key.hash_secret(stored_late),
                eve.id,
                "eve@example.com",
                now + 600,
                now,
            )
            .await
            .unwrap();
        let res = s
            .http
            .post(s.url("/api/auth/password/reset"))
            .json(&json!({"token": stored_late, "password": "taken over 1234"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        s.login("eve", PW).await;
        s.stop().await;
    }
);

#[tokio::test]
async fn reset_mail_goes_through_a_real_smtp_conversation() {
    let (addr, received) = crate::smtp::capture(crate::smtp::Mode::Plain);
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.mail = format!("smtp://user:pa%40ss@{addr}")
    })
    .await;
    s.register("kate", "kate@example.com", PW).await;
    let res = s
        .http
        .post(s.url("/api/auth/password/forgot"))
        .json(&json!({"email": "kate@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .unwrap()
        .unwrap();
    assert!(message.rcpt.contains("kate@example.com"));
    assert!(message.auth_seen, "the client authenticated");
    assert!(
        message.data.contains("/password/reset?token="),
        "{}",
        message.data
    );
    assert!(outbox(&s.mail_dir()).is_empty());
    s.stop().await;
}

// SPEC §4 "scan to log in": the login page's QR code, confirmed on a phone where the
// person is signed in, signs in that browser (and no other), once.
on_both!(
    scan_to_log_in_signs_in_the_browser_that_showed_the_code,
    |backend| {
        let s = TestServer::start(backend).await;
        s.register("scanner", "scanner@example.com", PW).await;
        let (phone, _) = s.login("scanner", PW).await;
        let browser = client();
        let login_page = crate::harness::get_text(&browser, &s.url("/login")).await;
        assert!(
            login_page.contains("scan-start"),
            "the login page offers it"
        );
        let csrf = hidden(&login_page, "csrf_token");
        let show_code = async |http: &reqwest::Client, csrf: &str| {
            let res = http
                .post(s.url("/login/qr"))
                .form(&[("csrf_token", csrf), ("return_to", "/account")])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            body(res).await
        };
        let poll = async |http: &reqwest::Client, id: &str| {
            let res = http
                .get(s.url(&format!("/login/qr/{id}")))
                .send()
                .await
                .unwrap();
            body(res).await
        };
        let forged = browser
            .post(s.url("/login/qr"))
            .form(&[("csrf_token", "forged"), ("return_to", "/account")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);

        let qr = show_code(&browser, &csrf).await;
        let id = qr["id"].as_str().unwrap().to_string();
        assert!(qr["svg"].as_str().unwrap().contains("<svg"));
        assert_eq!(qr["url"], format!("{}/qr/{id}", s.base));
        assert_eq!(poll(&browser, &id).await["state"], "pending");

        // The phone: signed out, to the login page; signed in, the question and its answer.
        let res = client()
            .get(s.url(&format!("/qr/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let page = phone
            .get(s.url(&format!("/qr/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("127.0.0.1") && page.contains("scanner"),
            "{page}"
        );
        let phone_csrf = hidden(&page, "csrf_token");
        let decide = async |id: &str, csrf: &str, decision: &str| {
            phone
                .post(s.url(&format!("/qr/{id}")))
                .form(&[("csrf_token", csrf), ("decision", decision)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        };
        assert_eq!(decide(&id, "forged", "confirm").await, 403);
        assert_eq!(poll(&browser, &id).await["state"], "pending");
        assert_eq!(decide(&id, &phone_csrf, "confirm").await, 200);

        // Another browser cannot take it; the one that showed it is signed in, once.
        let other = client();
        assert_eq!(poll(&other, &id).await["state"], "expired");
        let done = poll(&browser, &id).await;
        assert_eq!(
            (&done["state"], &done["to"]),
            (&json!("confirmed"), &json!("/account"))
        );
        let me = body(
            browser
                .get(s.url("/api/auth/session"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(me["username"], "scanner");
        assert_eq!(poll(&browser, &id).await["state"], "expired", "once");
        assert_eq!(
            body(other.get(s.url("/api/auth/session")).send().await.unwrap()).await["error"],
            "login_required"
        );

        // Cancelled on the phone: the browser is told so.
        let page = crate::harness::get_text(&other, &s.url("/login")).await;
        let other_csrf = hidden(&page, "csrf_token");
        let id = show_code(&other, &other_csrf).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(decide(&id, &phone_csrf, "cancel").await, 200);
        assert_eq!(poll(&other, &id).await["state"], "denied");
        assert_eq!(
            decide(&id, &phone_csrf, "confirm").await,
            404,
            "answered already"
        );
        s.stop().await;
    }
);

// Migration 13 gives phones stored before docs/phones.md their one spelling, and
// leaves a row alone when another account already holds that spelling.
on_both!(stored_phones_get_their_one_spelling, |backend| {
    let s = TestServer::start(backend).await;
    let db = &s.app().db;
    let stored = [
        ("a1", "+8613900003333", "13900003333"),
        ("a2", "008613900004444", "13900004444"),
        ("a3", "8613900005555", "13900005555"),
        ("a4", "0085212345678", "+85212345678"),
        ("a5", "13900006666", "13900006666"),
        ("a6", "+8613900006666", "+8613900006666"),
        ("a7", "+861012345678", "+861012345678"),
        ("a8", "13900007777", "13900007777"),
        ("a9", "008613900007777", "008613900007777"),
    ];
    for (name, phone, _) in stored {
        db.create_user(
            &usercenter::store::NewUser {
                username: name.into(),
                phone: Some(phone.into()),
                ..Default::default()
            },
            0,
        )
        .await
        .unwrap();
    }
    sqlx::raw_sql(include_str!("../../migrations/0013_phone_spellings.sql"))
        .execute(db.wpool())
        .await
        .unwrap();
    for (name, _, now) in stored {
        let user = db.user_by_login(name, "").await.unwrap().unwrap();
        assert_eq!(user.phone.as_deref(), Some(now), "{name}");
    }
    s.stop().await;
});

// A reset (account recovery) ends what the old password could have opened: the
// person's tokens at every app and the other reset links. One address gets at most
// five reset mails an hour, whoever asks; the answer stays the same.
on_both!(a_password_reset_ends_tokens_and_other_links, |backend| {
    let s = TestServer::start(backend).await;
    s.register("kay", "kay@example.com", PW).await;
    s.app()
        .set_setting("allow_password_grant", "true")
        .await
        .unwrap();
    let app = crate::oauth::make_client(&s, &["password"], &["basic"], false, |_| {}).await;
    let issued = crate::oauth::token(
        &s,
        &app,
        &[
            ("grant_type", "password"),
            ("username", "kay"),
            ("password", PW),
        ],
    )
    .await;
    let access = body(issued).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let user_api = async || {
        client()
            .get(s.url("/api/user"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(user_api().await, 200);

    for _ in 0..6 {
        let res = client()
            .post(s.url("/api/auth/password/forgot"))
            .json(&json!({"email": "KAY@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    let mails = wait_outbox(&s.mail_dir(), 5).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(outbox(&s.mail_dir()).len(), 5, "five mails an hour");
    let link = |i: usize| {
        mails[i]["text"]
            .as_str()
            .unwrap()
            .split("token=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let reset = async |token: String| {
        client()
            .post(s.url("/api/auth/password/reset"))
            .json(&json!({"token": token, "password": "a brand new secret"}))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(reset(link(0)).await, 204);
    assert_eq!(
        user_api().await,
        401,
        "the app's token ended with the reset"
    );
    assert_eq!(reset(link(1)).await, 400, "the other links ended too");
    s.stop().await;
});

// Behind https (the issuer's scheme), the cookies carry the __Host- prefix, so that
// the browser takes them only from this host over https (a sibling subdomain cannot
// plant a CSRF or session cookie), and pages ask for https from then on (HSTS).
#[tokio::test]
async fn cookies_are_host_only_and_transport_strict_behind_https() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.issuer = Some("https://id.example.com".into())
    })
    .await;
    s.register("tls", "tls@example.com", PW).await;
    let res = client().get(s.url("/login")).send().await.unwrap();
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.starts_with("__Host-uc_csrf=") && set.contains("Secure"),
        "{set}"
    );
    let csrf = set["__Host-uc_csrf=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let res = client()
        .post(s.url("/login"))
        .header("cookie", format!("__Host-uc_csrf={csrf}"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("login", "tls"),
            ("password", PW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-uc_session="))
        .expect("the session cookie, prefixed");
    let value = session["__Host-uc_session=".len()..]
        .split(';')
        .next()
        .unwrap();
    let whoami = async |cookie: String| {
        client()
            .get(s.url("/api/auth/session"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(whoami(format!("__Host-uc_session={value}")).await, 200);
    assert_eq!(
        whoami(format!("uc_session={value}")).await,
        401,
        "an unprefixed cookie is not this server's"
    );
    s.stop().await;
}

// Behind a trusted reverse proxy (USERCENTER_TRUSTED_PROXIES), the caller is the
// address the proxy forwards: one caller's failures do not lock out everyone who
// comes through the same proxy, and the audit log names the caller.
#[tokio::test]
async fn callers_behind_a_trusted_proxy_are_told_apart() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]
    })
    .await;
    s.register("behind", "behind@example.com", PW).await;
    let login = async |from: &str, login: &str, password: &str| {
        client()
            .post(s.url("/api/auth/login"))
            .header("x-forwarded-for", format!("6.6.6.6, {from}"))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await
            .unwrap()
            .status()
    };
    let mut statuses = Vec::new();
    for i in 0..21 {
        statuses.push(login("198.51.100.1", &format!("nobody{i}"), "wrong").await);
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[20], 429, "that caller is throttled");
    assert_eq!(
        login("198.51.100.2", "behind", PW).await,
        200,
        "another is not"
    );
    let entries = s
        .app()
        .db
        .audit_entries(Some("login"), None, 1)
        .await
        .unwrap();
    assert_eq!(entries[0].ip, "198.51.100.2");
    s.stop().await;
}

// Text holding a NUL character, which PostgreSQL cannot store, is a bad request on
// every endpoint that takes text before anyone signs in, never a 500; a reset asked
// for such an address is answered as always.
on_both!(
    a_nul_character_in_a_request_is_refused_not_a_server_error,
    |backend| {
        let s = TestServer::start(backend).await;
        let http = client();
        let refused = |status: u16, what: &str| {
            assert!(
                (400..500).contains(&status),
                "{what}: {status}, not a client error"
            );
        };
        for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
            let res = http
                .post(s.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&client_id=%00&client_secret=x&token=t")
                .send()
                .await
                .unwrap();
            refused(res.status().as_u16(), path);
        }
        let res = http
            .get(s.url("/oauth/authorize?client_id=%00&response_type=code"))
            .send()
            .await
            .unwrap();
        refused(res.status().as_u16(), "/oauth/authorize");
        let res = http
            .post(s.url("/api/auth/login"))
            .json(&json!({"login": "a\u{0}", "password": "x"}))
            .send()
            .await
            .unwrap();
        refused(res.status().as_u16(), "/api/auth/login");
        let res = http
            .post(s.url("/api/auth/password/forgot"))
            .json(&json!({"email": "a\u{0}@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        s.stop().await;
    }
);

// A failed login keeps what was typed in the audit log only as far as a login can be
// long: a body of megabytes is not a row of megabytes.
on_both!(a_failed_login_audits_at_most_a_logins_length, |backend| {
    let s = TestServer::start(backend).await;
    let typed = "x".repeat(100_000);
    let res = client()
        .post(s.url("/api/auth/login"))
        .json(&json!({"login": typed, "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let failed = s
        .app()
        .db
        .audit_entries(Some("login_failed"), None, 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].target, "x".repeat(256));
    s.stop().await;
});

// Reset mails: at most 30 requests an hour count for one caller, whatever the
// addresses, so a caller cannot have a reset mailed to every address it knows; the
// answer stays the same.
#[tokio::test]
async fn reset_requests_are_limited_per_caller() {
    let s = TestServer::start(Backend::Sqlite).await;
    for i in 0..7 {
        s.register(&format!("reader{i}"), &format!("reader{i}@example.com"), PW)
            .await;
    }
    let ask = |i: usize| {
        s.http
            .post(s.url("/api/auth/password/forgot"))
            .json(&json!({"email": format!("reader{i}@example.com")}))
            .send()
    };
    // Five for each of six addresses: every one mailed (five is an address's limit).
    for i in 0..6 {
        for _ in 0..5 {
            assert_eq!(ask(i).await.unwrap().status(), 202);
        }
    }
    assert_eq!(wait_outbox(&s.mail_dir(), 30).await.len(), 30);
    // The thirty-first, to an address asked for never before, is answered alike and
    // sends nothing.
    assert_eq!(ask(6).await.unwrap().status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mails = outbox(&s.mail_dir());
    assert_eq!(mails.len(), 30);
    assert!(mails.iter().all(|m| m["to"] != "reader6@example.com"));
    s.stop().await;
}
