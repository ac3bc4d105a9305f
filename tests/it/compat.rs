//! The compatibility surfaces of SPEC §5: each seed's clients work unchanged.

use crate::harness::{TestServer, client, hidden_fields};
use crate::oauth::{App, make_client};
use crate::on_both;
use serde_json::{Value, json};

const PW: &str = "correct horse battery";
const CB: &str = "https://app.example.com/cb";

/// A post to seed 001's `/oauth2/token`: its status and JSON body.
async fn seed001(s: &TestServer, body: Body<'_>) -> (u16, Value) {
    let req = client().post(s.url("/oauth2/token"));
    let req = match body {
        Body::Form(pairs) => req.form(pairs),
        Body::Json(value) => req.json(&value),
        Body::Text(text) => req
            .header("content-type", "text/plain")
            .body(text.to_string()),
    };
    let res = req.send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    (res.status().as_u16(), res.json().await.unwrap())
}

enum Body<'a> {
    Form(&'a [(&'a str, &'a str)]),
    Json(Value),
    Text(&'a str),
}

/// The seed's client credentials request, as a form.
fn credentials<'a>(app: &'a App, scope: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("grant_type", "client_credential"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.secret.as_deref().unwrap()),
        ("scope", scope),
    ]
}

/// `{"success": false, "error": {msg, code, message}}`: the msg and code.
fn seed_error(body: &Value) -> (String, u64) {
    assert_eq!(body["success"], false, "{body}");
    let e = &body["error"];
    assert!(!e["message"].as_str().unwrap().is_empty(), "{body}");
    (
        e["msg"].as_str().unwrap().to_string(),
        e["code"].as_u64().unwrap(),
    )
}

// Seed 001: client_credential answers with a refresh token, the refresh needs only
// the refresh token and answers the same one again (a person's rotates), and every
// answer is in the seed's envelope.
on_both!(seed_001_token_endpoint_in_its_envelope, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;

    let (status, body) = seed001(&s, Body::Form(&credentials(&app, "basic"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "basic");
    assert_eq!(body["token_type"], "bearer", "as the seed spells it");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());

    // `scope=basic`, as the seed writes it, from a client that does not list the
    // default scope.
    let reader = make_client(&s, &["client_credentials"], &["read"], false, |_| {}).await;
    let (status, body) = seed001(&s, Body::Form(&credentials(&reader, "basic"))).await;
    assert_eq!((status, &body["scope"]), (200, &json!("basic")), "{body}");

    // The same as JSON, with the seed's default scope left out.
    let (status, body) = seed001(
        &s,
        Body::Json(json!({
            "grant_type": "client_credential",
            "client_id": app.client_id,
            "client_secret": app.secret,
        })),
    )
    .await;
    assert_eq!(
        (status, &body["success"], &body["scope"]),
        (200, &json!(true), &json!("basic"))
    );

    // A refresh with the refresh token alone, as the seed sends it: the same refresh
    // token comes back (the seed's example shows one value in both answers), and it
    // refreshes again, as a client that keeps the first one does.
    let first = body["refresh_token"].as_str().unwrap().to_string();
    let introspect = async |token: &str| -> Value {
        client()
            .post(s.url("/oauth/introspect"))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let mut access = Vec::new();
    for round in 0..2 {
        let (status, refreshed) = seed001(
            &s,
            Body::Json(json!({"grant_type": "refresh_token", "refresh_token": first})),
        )
        .await;
        assert_eq!(status, 200, "round {round}: {refreshed}");
        assert_eq!(refreshed["success"], true);
        assert_eq!(refreshed["refresh_token"], first.as_str(), "not rotated");
        assert_eq!(refreshed["scope"], "basic");
        let token = refreshed["access_token"].as_str().unwrap().to_string();
        let active = introspect(&token).await;
        assert_eq!(active["active"], true);
        assert_eq!(active["client_id"], app.client_id.as_str());
        access.push(token);
    }
    assert_ne!(access[0], access[1]);
    // Revoking the refresh token (RFC 7009) ends it and the access tokens it gave.
    let res = client()
        .post(s.url("/oauth/revoke"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("token", first.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for token in &access {
        assert_eq!(introspect(token).await["active"], false);
    }
    let (status, body) = seed001(
        &s,
        Body::Form(&[("grant_type", "refresh_token"), ("refresh_token", &first)]),
    )
    .await;
    assert_eq!(
        (status, seed_error(&body)),
        (400, ("INVALID_REFRESH_TOKEN".into(), 15))
    );

    // Credentials that are sent must be the token's client's.
    let other = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    let (_, body) = seed001(&s, Body::Form(&credentials(&app, "basic"))).await;
    let token = body["refresh_token"].as_str().unwrap();
    let (_, body) = seed001(
        &s,
        Body::Form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", &other.client_id),
            ("client_secret", other.secret.as_deref().unwrap()),
        ]),
    )
    .await;
    assert_eq!(seed_error(&body).1, 15);

    // A person's refresh token is refreshed only with its client's credentials.
    s.register("p001", "p001@example.com", PW).await;
    s.app()
        .set_setting("allow_password_grant", "true")
        .await
        .unwrap();
    let web = make_client(
        &s,
        &["password", "refresh_token"],
        &["basic"],
        false,
        |_| {},
    )
    .await;
    let res = crate::oauth::token(
        &s,
        &web,
        &[
            ("grant_type", "password"),
            ("username", "p001"),
            ("password", PW),
        ],
    )
    .await;
    let person: Value = res.json().await.unwrap();
    let (status, body) = seed001(
        &s,
        Body::Form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", person["refresh_token"].as_str().unwrap()),
        ]),
    )
    .await;
    assert_eq!(
        (status, seed_error(&body)),
        (401, ("INVALID_CLIENT_ID".into(), 5))
    );
    // With them, it rotates as on `/oauth/token`, and the spent one revokes its family.
    let spent = person["refresh_token"].as_str().unwrap();
    let with_credentials = |token: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", token.to_string()),
            ("client_id", web.client_id.clone()),
            ("client_secret", web.secret.clone().unwrap()),
        ]
    };
    let form = with_credentials(spent);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, rotated) = seed001(&s, Body::Form(&form)).await;
    assert_eq!(status, 200, "{rotated}");
    let next = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(next, spent, "a person's refresh token rotates");
    let (status, body) = seed001(&s, Body::Form(&form)).await;
    assert_eq!(
        (status, seed_error(&body)),
        (400, ("INVALID_REFRESH_TOKEN".into(), 15))
    );
    let form = with_credentials(next);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, body) = seed001(&s, Body::Form(&form)).await;
    assert_eq!(seed_error(&body).1, 15, "the family is revoked");

    // The seed's error codes.
    let wrong = [
        ("grant_type", "client_credential"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", "not the secret"),
    ];
    let (status, body) = seed001(&s, Body::Form(&wrong)).await;
    assert_eq!(
        (status, seed_error(&body)),
        (401, ("INVALID_CLIENT_ID".into(), 5))
    );
    assert_eq!(
        body["error"]["message"],
        "客户端验证失败,如错误的client_id/client_secret。"
    );
    let (status, body) = seed001(&s, Body::Text("grant_type=client_credential")).await;
    assert_eq!(
        (status, seed_error(&body)),
        (400, ("INVALID_CONTENT_TYPE".into(), 9))
    );
    let (_, body) = seed001(&s, Body::Form(&credentials(&app, "root"))).await;
    assert_eq!(
        seed_error(&body),
        ("INSUFFICIENT_SCOPE".into(), 14),
        "root not approved"
    );
    let (_, body) = seed001(
        &s,
        Body::Form(&[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ]),
    )
    .await;
    assert_eq!(seed_error(&body), ("UNSUPPORTED_GRANT_TYPE".into(), 11));
    s.stop().await;
});

// Seed 001's daily quota: beyond it, code 1 with QUOTA_EXCEEDED here, and
// quota_exceeded on /oauth/token; other clients are not counted against it.
on_both!(
    a_daily_token_quota_is_kept_on_every_token_endpoint,
    |backend| {
        let s = TestServer::start(backend).await;
        let limited = make_client(&s, &["client_credentials"], &["basic"], false, |c| {
            c.daily_quota = Some(2);
        })
        .await;
        let free = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        for _ in 0..2 {
            let (status, body) = seed001(&s, Body::Form(&credentials(&limited, "basic"))).await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, body) = seed001(&s, Body::Form(&credentials(&limited, "basic"))).await;
        assert_eq!(
            (status, seed_error(&body)),
            (429, ("QUOTA_EXCEEDED".into(), 1))
        );
        let res = client()
            .post(s.url("/oauth/token"))
            .basic_auth(&limited.client_id, limited.secret.as_deref())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 429);
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            (&body["error"], &body["error_code"]),
            (&json!("quota_exceeded"), &json!(1))
        );
        let (status, _) = seed001(&s, Body::Form(&credentials(&free, "basic"))).await;
        assert_eq!(status, 200);
        s.stop().await;
    }
);

// Seed 003: its clients use the OAuth endpoints under /api/tcc-user-center (without
// `state`), keep the same 7-day token while it is valid (the `reuse` policy), and read
// the profile at /client-api/userCenter/info with the token in CLIENT-TOKEN.
on_both!(seed_003_prefix_and_profile_in_its_shape, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(
        &s,
        &["authorization_code"],
        &["read", "email"],
        false,
        |c| {
            c.token_policy = Some("reuse".into());
            c.access_ttl = Some(7 * 86_400);
        },
    )
    .await;
    s.register("tcc", "tcc@example.com", PW).await;
    let (http, csrf) = s.login("tcc", PW).await;
    let res = http
        .patch(s.url("/api/account"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"id_card": "44092319900101987x", "real_name": "张三", "phone": "13212345720", "gender": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // code → token under the seed's prefix, twice: the same token while it is valid.
    let token_for = async |scope: &str| {
        let query = [
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", scope),
        ];
        let res = http
            .get(s.url("/api/tcc-user-center/oauth/authorize"))
            .query(&query)
            .send()
            .await
            .unwrap();
        let location = if res.status() == 303 {
            crate::oauth::location(&res)
        } else {
            let page = res.text().await.unwrap();
            let mut form = hidden_fields(&page);
            form.push(("scope".into(), scope.into()));
            form.push(("decision".into(), "approve".into()));
            let res = http
                .post(s.url("/oauth/authorize"))
                .form(&form)
                .send()
                .await
                .unwrap();
            crate::oauth::location(&res)
        };
        let code = crate::oauth::params_of(&location)["code"].clone();
        let res = client()
            .post(s.url("/api/tcc-user-center/oauth/token"))
            .form(&[
                ("code", code.as_str()),
                ("client_id", app.client_id.as_str()),
                ("grant_type", "authorization_code"),
                ("client_secret", app.secret.as_deref().unwrap()),
                ("redirect_uri", CB),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["token_type"], "bearer", "as the seed spells it");
        let left = body["expires_in"].as_i64().unwrap();
        assert!(
            left > 6 * 86_400 && left <= 7 * 86_400,
            "seven days: {body}"
        );
        body["access_token"].as_str().unwrap().to_string()
    };
    // The seed's clients ask for `scope=read`.
    let token = token_for("read").await;
    assert_eq!(token_for("read").await, token, "reused while valid");

    let info = async |header: Option<&str>| {
        let mut req = client().get(s.url("/client-api/userCenter/info"));
        if let Some(token) = header {
            req = req.header("CLIENT-TOKEN", token);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    let (status, body) = info(Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], 200);
    assert_eq!(body["desc"], "操作成功");
    let data = &body["data"];
    assert_eq!(data["mobilePhone"], "132*****720");
    assert_eq!(
        data["nickName"], "132*****720",
        "the masked phone stands in"
    );
    assert_eq!(data["encryptIdCard"], "4409**********987X");
    assert_eq!(data["encryptRealName"], "张*");
    assert_eq!(data["gender"], 1);
    assert_eq!(data["verifyTag"], 0);
    for field in [
        "headPic",
        "province",
        "city",
        "area",
        "certificateType",
        "birthdate",
    ] {
        assert!(data.get(field).is_some(), "{field} is present: {data}");
    }

    let (status, body) = info(None).await;
    assert_eq!(
        (status, &body["code"], &body["data"]),
        (401, &json!(401), &Value::Null)
    );
    let (status, _) = info(Some("not-a-token")).await;
    assert_eq!(status, 401);
    let email_only = token_for("email").await;
    let (status, body) = info(Some(&email_only)).await;
    assert_eq!(
        (status, &body["code"]),
        (403, &json!(403)),
        "email does not guard it"
    );
    s.stop().await;
});

/// A post to seed 004's `/oauth/v2/token` by `app` (client_secret_post).
async fn v2_token(s: &TestServer, app: &App, form: &[(&str, &str)]) -> (u16, Value) {
    let mut form = form.to_vec();
    form.push(("client_id", &app.client_id));
    form.push(("client_secret", app.secret.as_deref().unwrap()));
    let res = client()
        .post(s.url("/oauth/v2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

// Seed 004's physical card: `offline_cert` with `code=card/<number>` gives the card's
// user a token with `roles` (card, and root for an admin), `card`, `sub`; a lost card
// gets `st: "lost"` and a token that grants nothing; 30 presentations a minute.
on_both!(seed_004_card_grant_and_its_token_answers, |backend| {
    let s = TestServer::start(backend).await;
    let terminal = make_client(
        &s,
        &["offline_cert", "client_credentials", "refresh_token"],
        &["basic", "user.read", "openid"],
        false,
        |_| {},
    )
    .await;
    let holder = s.register("cardholder", "card@example.com", PW).await;
    let admin = s
        .app()
        .create_user(usercenter::service::CreateUser {
            email: "boss@example.com".into(),
            password: PW.into(),
            username: Some("boss".into()),
            phone: None,
            is_admin: true,
        })
        .await
        .unwrap();
    let db = &s.app().db;
    db.admin_bind_card("001", holder, 1).await.unwrap();
    db.admin_bind_card("002", admin.id, 1).await.unwrap();

    let card = |number: &'static str| [("grant_type", "offline_cert"), ("code", number)];
    let (status, body) = v2_token(&s, &terminal, &card("card/001")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["roles"], "card");
    assert_eq!(body["card"], "001");
    assert_eq!(body["sub"], holder.to_string());
    assert!(body.get("st").is_none(), "a card in use has no st: {body}");
    assert_eq!(
        body["scope"], "basic user.read openid",
        "openid stays, as the seed's answer shows"
    );
    assert!(body["id_token"].is_string());
    assert_eq!(body["token_type"], "bearer", "as the seed spells it");
    assert!(body["refresh_token"].is_string());
    let user = client()
        .get(s.url("/api/user"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(user["username"], "cardholder");

    let (_, body) = v2_token(&s, &terminal, &card("card/002")).await;
    assert_eq!(body["roles"], "root card");

    // Lost: st, and a token without any scope.
    db.admin_set_card_lost("001", true, 2).await.unwrap();
    let (status, body) = v2_token(&s, &terminal, &card("card/001")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["st"], "lost");
    assert_eq!(body["scope"], "");
    assert!(body.get("refresh_token").is_none());
    let res = client()
        .get(s.url("/api/user"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a lost card's token grants nothing");

    // Unknown cards and other codes.
    for code in ["card/404", "001", "card/"] {
        let (status, body) = v2_token(&s, &terminal, &card(code)).await;
        assert_eq!(
            (status, &body["error_code"]),
            (400, &json!(8)),
            "{code}: {body}"
        );
    }

    // Client credentials on /oauth/v2: the client is the subject.
    let (_, body) = v2_token(&s, &terminal, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (&body["sub"], &body["roles"]),
        (&json!(terminal.client_id), &json!("client"))
    );
    // Introspection at the seed's check_token.
    let active = client()
        .post(s.url("/oauth/v2/check_token"))
        .form(&[
            ("token", body["access_token"].as_str().unwrap()),
            ("client_id", &terminal.client_id),
            ("client_secret", terminal.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(active["active"], true);

    // 30 presentations of a card in 60 s (two and one spent above, with 002's), then 429.
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(v2_token(&s, &terminal, &card("card/002")).await.0);
    }
    assert!(statuses[..29].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses[29], 429);
    s.stop().await;
});

// SPEC §4: a person reports their own card lost on /account (a CSRF-protected form),
// terminals see it at once, and they report it found again; another's card is not theirs.
on_both!(a_person_reports_their_card_lost_and_found, |backend| {
    let s = TestServer::start(backend).await;
    let terminal = make_client(&s, &["offline_cert"], &["basic"], false, |_| {}).await;
    let holder = s.register("owner", "owner@example.com", PW).await;
    let other = s.register("other", "other@example.com", PW).await;
    s.app().db.admin_bind_card("A-1", holder, 1).await.unwrap();
    s.app().db.admin_bind_card("B-2", other, 1).await.unwrap();
    let (http, _) = s.login("owner", PW).await;
    let page = crate::harness::get_text(&http, &s.url("/account")).await;
    assert!(page.contains("A-1") && !page.contains("B-2"), "{page}");
    let csrf = crate::harness::hidden(&page, "csrf_token");
    let st = async || {
        let (status, body) = v2_token(
            &s,
            &terminal,
            &[("grant_type", "offline_cert"), ("code", "card/A-1")],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body.get("st").cloned()
    };
    assert_eq!(st().await, None);

    let report = async |card: &str, action: &str, csrf: &str| {
        http.post(s.url("/account/cards"))
            .form(&[("csrf_token", csrf), ("card", card), ("action", action)])
            .send()
            .await
            .unwrap()
    };
    assert_eq!(report("A-1", "lost", "forged").await.status(), 403);
    assert_eq!(st().await, None, "a forged form changes nothing");
    let res = report("A-1", "lost", &csrf).await;
    assert_eq!(res.status(), 303);
    assert_eq!(st().await, Some(json!("lost")));
    let page = crate::harness::get_text(&http, &s.url("/account?notice=card_updated")).await;
    assert!(
        page.contains("Found it"),
        "the page offers to report it found"
    );
    assert_eq!(report("A-1", "found", &csrf).await.status(), 303);
    assert_eq!(st().await, None);

    let res = report("B-2", "lost", &csrf).await;
    assert_eq!(res.status(), 400, "not their card");
    assert_eq!(s.app().db.card("B-2").await.unwrap(), Some((other, false)));
    s.stop().await;
});

// Seed 004's QR login: the phone (a person's token) gets a code for a session id of its
// own, a terminal redeems it once for that person's token, and only that person sees
// the session's state.
on_both!(seed_004_qr_code_for_a_session, |backend| {
    let s = TestServer::start(backend).await;
    let terminal = make_client(
        &s,
        &["offline_cert", "authorization_code", "client_credentials"],
        &["basic", "user.read", "profile"],
        false,
        |_| {},
    )
    .await;
    // The people's tokens come from their cards, the quickest way for a test: with
    // `basic` only, fewer scopes than the terminal may have.
    let mut tokens = Vec::new();
    for (name, card) in [("scanner", "C-1"), ("bystander", "C-2")] {
        let id = s.register(name, &format!("{name}@example.com"), PW).await;
        s.app().db.admin_bind_card(card, id, 1).await.unwrap();
        let code = format!("card/{card}");
        let (_, body) = v2_token(
            &s,
            &terminal,
            &[
                ("grant_type", "offline_cert"),
                ("code", code.as_str()),
                ("scope", "basic"),
            ],
        )
        .await;
        assert_eq!(body["scope"], "basic");
        tokens.push((id, body["access_token"].as_str().unwrap().to_string()));
    }
    let (scanner, phone) = tokens[0].clone();
    let (_, bystander) = tokens[1].clone();
    let get = async |path: &str, token: &str| {
        let res = client()
            .get(s.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    let (status, body) = get("/oauth/v2/session/kiosk-7f3a/code", &phone).await;
    assert_eq!(status, 200, "{body}");
    let code = body["code"].as_str().unwrap().to_string();
    assert!(!code.contains('.') && !code.starts_with("card/"));
    let (status, _) = get("/oauth/v2/session/kiosk-7f3a/code", &phone).await;
    assert_eq!(status, 409, "the session id is taken");
    assert_eq!(
        get("/oauth/v2/session/kiosk-7f3a/state", &phone).await.1,
        json!({"code": "unused"})
    );
    assert_eq!(
        get("/oauth/v2/session/kiosk-7f3a/state", &bystander)
            .await
            .0,
        404,
        "another person's session"
    );

    let redeem = async || {
        v2_token(
            &s,
            &terminal,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
            ],
        )
        .await
    };
    let (status, body) = redeem().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], scanner.to_string());
    assert_eq!(
        body["scope"], "basic",
        "no more than the phone's token holds"
    );
    assert_eq!(
        get("/oauth/v2/session/kiosk-7f3a/state", &phone).await.1,
        json!({"code": "used"})
    );
    let (status, body) = redeem().await;
    assert_eq!(
        (status, &body["error_code"]),
        (400, &json!(8)),
        "single use"
    );

    // A client's own token is not a person's.
    let (_, body) = v2_token(&s, &terminal, &[("grant_type", "client_credentials")]).await;
    let (status, _) = get(
        "/oauth/v2/session/other/code",
        body["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    s.stop().await;
});

// Seed 004's SMS login: a client's token sends a code to a phone (through the
// USERCENTER_SMS folder), and `<phone>.<code>` at the token endpoint logs the phone's
// holder in, a new account when none holds it; a person's token binds a phone, moving
// it from another account only with phone_conflict=replace.
on_both!(seed_004_sms_codes_log_in_and_bind_phones, |backend| {
    let s = TestServer::start(backend).await;
    let terminal = make_client(
        &s,
        &["client_credentials", "authorization_code", "offline_cert"],
        &["basic", "user.read"],
        false,
        |_| {},
    )
    .await;
    let other_app = make_client(&s, &["authorization_code"], &["basic"], false, |_| {}).await;
    let (_, body) = v2_token(&s, &terminal, &[("grant_type", "client_credentials")]).await;
    let client_token = body["access_token"].as_str().unwrap().to_string();
    let sms_dir = s.db.dir.path().join("outbox/sms");
    let send = async |token: &str, query: &[(&str, &str)]| {
        let res = client()
            .get(s.url("/oauth/v2/code"))
            .bearer_auth(token)
            .query(query)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    };
    let last_code = |phone: &str| {
        let sent = crate::harness::outbox(&sms_dir);
        let sms = sent
            .iter()
            .rev()
            .find(|m| m["phone"] == phone)
            .unwrap()
            .clone();
        sms["code"].as_str().unwrap().to_string()
    };
    let redeem = async |app: &App, code: String| {
        v2_token(
            &s,
            app,
            &[("grant_type", "authorization_code"), ("code", &code)],
        )
        .await
    };

    // A login by a phone no account holds: a new account.
    let phone = "13800000001";
    assert_eq!(
        send(
            &client_token,
            &[("phone", phone), ("abort", "if_not_exists")]
        )
        .await
        .0,
        404,
        "phone_not_found"
    );
    let (status, body) = send(&client_token, &[("phone", phone), ("title", "【食堂】")]).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let sent = crate::harness::wait_outbox(&sms_dir, 1).await;
    assert!(sent[0]["text"].as_str().unwrap().starts_with("【食堂】"));
    let code = last_code(phone);
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        send(&client_token, &[("phone", phone)]).await.0,
        429,
        "one a minute"
    );
    for spelling in ["+86 138 0000 0001", "008613800000001", "86-138-0000-0001"] {
        assert_eq!(
            send(&client_token, &[("phone", spelling)]).await.0,
            429,
            "one a minute, however the phone is spelled: {spelling}"
        );
    }
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) = redeem(&other_app, format!("{phone}.{code}")).await;
    assert_eq!(
        (status, &body["error_code"]),
        (400, &json!(8)),
        "another client's code"
    );
    let (status, _) = redeem(&terminal, format!("{phone}.{wrong}")).await;
    assert_eq!(status, 400);
    let (status, body) = redeem(&terminal, format!("+86{phone}.{code}")).await;
    assert_eq!(status, 200, "{body}");
    let holder = s.app().db.user_by_phone(phone).await.unwrap().unwrap();
    assert_eq!(body["sub"], holder.id.to_string());
    assert!(holder.phone_verified && holder.email.is_none());
    let (status, _) = redeem(&terminal, format!("{phone}.{code}")).await;
    assert_eq!(status, 400, "single use");
    assert_eq!(
        send(&client_token, &[("phone", phone), ("abort", "if_exists")])
            .await
            .0,
        409,
        "phone_exists"
    );

    // Five wrong tries end a code.
    let phone2 = "13800000002";
    assert_eq!(send(&client_token, &[("phone", phone2)]).await.0, 200);
    let code2 = last_code(phone2);
    let wrong2 = if code2 == "000000" {
        "111111"
    } else {
        "000000"
    };
    // Ten at once: each is counted, so the right code comes too late.
    let mut tries = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let form = [
            ("grant_type", "authorization_code".to_string()),
            ("code", format!("{phone2}.{wrong2}")),
            ("client_id", terminal.client_id.clone()),
            ("client_secret", terminal.secret.clone().unwrap()),
        ];
        let url = s.url("/oauth/v2/token");
        tries.spawn(async move {
            client()
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = tries.join_next().await {
        assert_eq!(status.unwrap(), 400);
    }
    let counted: i64 = sqlx::query_scalar("SELECT tries FROM sms_codes WHERE phone = $1")
        .bind(phone2)
        .fetch_one(s.app().db.pool())
        .await
        .unwrap();
    assert_eq!(
        counted, 5,
        "five tries were compared, the other five refused unseen"
    );
    assert_eq!(redeem(&terminal, format!("{phone2}.{code2}")).await.0, 400);
    // Four wrong, then the right one.
    let phone3 = "13800000003";
    assert_eq!(send(&client_token, &[("phone", phone3)]).await.0, 200);
    let code3 = last_code(phone3);
    let wrong3 = if code3 == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..4 {
        assert_eq!(redeem(&terminal, format!("{phone3}.{wrong3}")).await.0, 400);
    }
    assert_eq!(redeem(&terminal, format!("{phone3}.{code3}")).await.0, 200);

    // A phone put in a profile without proof logs nobody in.
    let res = client()
        .post(s.url("/api/auth/register"))
        .json(&json!({"username": "typo", "email": "typo@example.com", "password": PW, "phone": "13700000007"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        send(&client_token, &[("phone", "13700000007")]).await.0,
        200
    );
    let (status, body) = redeem(
        &terminal,
        format!("13700000007.{}", last_code("13700000007")),
    )
    .await;
    assert_eq!((status, &body["error_code"]), (400, &json!(3)), "{body}");

    // A person binds a phone another account holds: refused, then moved with replace.
    let res = client()
        .post(s.url("/api/auth/register"))
        .json(&json!({"username": "oldowner", "email": "old@example.com", "password": PW, "phone": "13900000009"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let binder = s.register("binder", "binder@example.com", PW).await;
    s.app().db.admin_bind_card("P-1", binder, 1).await.unwrap();
    let (_, body) = v2_token(
        &s,
        &terminal,
        &[("grant_type", "offline_cert"), ("code", "card/P-1")],
    )
    .await;
    let person_token = body["access_token"].as_str().unwrap().to_string();
    let (status, body) = send(&person_token, &[("phone", "13900000009")]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("phone_conflict"));
    let query = [("phone", "13900000009"), ("phone_conflict", "replace")];
    assert_eq!(send(&person_token, &query).await.0, 200);
    let (status, body) = redeem(
        &terminal,
        format!("13900000009.{}", last_code("13900000009")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], binder.to_string());
    let now_holder = s
        .app()
        .db
        .user_by_phone("13900000009")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now_holder.id, binder);
    s.stop().await;
});

// USERCENTER_SMS as an http:// webhook: each message is POSTed as JSON.
#[tokio::test]
async fn sms_go_to_a_webhook_when_configured() {
    use axum::routing::post;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Option<String>, Value)>();
    let hook = axum::Router::new()
        // A gateway that redirects has not taken the message: not followed.
        .route(
            "/moved",
            post(|| async { axum::response::Redirect::temporary("/sms") }),
        )
        .route(
            "/sms",
            post(
                move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                    let tx = tx.clone();
                    async move {
                        let auth = headers
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_string());
                        let _ = tx.send((auth, body));
                        "ok"
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, hook).await });
    let s = TestServer::start_with(crate::harness::Backend::Sqlite, |c| {
        // The URL's user part goes as Basic credentials.
        c.sms = format!("http://gateway:se%40cret@{hook_addr}/sms");
    })
    .await;
    let terminal = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    let (_, body) = v2_token(&s, &terminal, &[("grant_type", "client_credentials")]).await;
    let res = client()
        .post(s.url("/oauth/v2/code"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .form(&[("phone", "+8613800000003")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (auth, sms) = rx.recv().await.unwrap();
    // base64 of "gateway:se@cret"
    assert_eq!(auth.as_deref(), Some("Basic Z2F0ZXdheTpzZUBjcmV0"));
    assert_eq!(
        sms["phone"], "13800000003",
        "the phone in its one spelling (docs/phones.md)"
    );
    assert_eq!(sms["code"].as_str().unwrap().len(), 6);
    assert!(
        !s.db.dir.path().join("outbox/sms").exists(),
        "not in the folder"
    );
    s.stop().await;

    let s = TestServer::start_with(crate::harness::Backend::Sqlite, |c| {
        c.sms = format!("http://{hook_addr}/moved");
    })
    .await;
    let terminal = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    let (_, body) = v2_token(&s, &terminal, &[("grant_type", "client_credentials")]).await;
    let res = client()
        .post(s.url("/oauth/v2/code"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .form(&[("phone", "+8613800000004")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503, "a redirect is not a delivery");
    assert!(rx.try_recv().is_err(), "the redirect was not followed");
    s.stop().await;
}

// A proven phone changed in the profile is no longer proven: the new number logs
// nobody in by SMS until the account binds it (else an account could take over the
// SMS logins of any number its holder types in).
on_both!(a_phone_changed_in_the_profile_is_not_proven, |backend| {
    let s = TestServer::start(backend).await;
    let terminal = make_client(
        &s,
        &["client_credentials", "authorization_code"],
        &["basic"],
        false,
        |_| {},
    )
    .await;
    let user = s
        .app()
        .create_user(usercenter::service::CreateUser {
            email: "proven@example.com".into(),
            password: PW.into(),
            username: Some("proven".into()),
            phone: None,
            is_admin: false,
        })
        .await
        .unwrap();
    s.app()
        .db
        .take_phone(user.id, "13600000001", 1)
        .await
        .unwrap();
    let (http, csrf) = s.login("proven", PW).await;
    let patch = async |phone: &str| {
        let res = http
            .patch(s.url("/api/account"))
            .header("X-CSRF-Token", &csrf)
            .json(&json!({"phone": phone}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        s.app()
            .db
            .user_by_id(user.id)
            .await
            .unwrap()
            .unwrap()
            .phone_verified
    };
    assert!(patch("13600000001").await, "the same number stays proven");
    assert!(!patch("13600000002").await, "another number is not");
    let (_, body) = v2_token(&s, &terminal, &[("grant_type", "client_credentials")]).await;
    let res = client()
        .get(s.url("/oauth/v2/code"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .query(&[("phone", "13600000002")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let sent = crate::harness::outbox(&s.db.dir.path().join("outbox/sms"));
    let code = sent.last().unwrap()["code"].as_str().unwrap().to_string();
    let (status, body) = v2_token(
        &s,
        &terminal,
        &[
            ("grant_type", "authorization_code"),
            ("code", &format!("13600000002.{code}")),
        ],
    )
    .await;
    assert_eq!((status, &body["error_code"]), (400, &json!(3)), "{body}");
    s.stop().await;
});

// A client sends at most 60 codes a minute, whatever the phones, unless an operator
// gave it its own rate.
on_both!(sms_codes_are_limited_per_client, |backend| {
    let s = TestServer::start(backend).await;
    // The statuses of `n` codes sent by `app` to as many phones starting with `prefix`.
    let send_codes = async |app: &App, prefix: &str, n: usize| {
        let (_, body) = v2_token(&s, app, &[("grant_type", "client_credentials")]).await;
        let token = body["access_token"].as_str().unwrap().to_string();
        let mut statuses = Vec::new();
        for i in 0..n {
            let res = client()
                .post(s.url("/oauth/v2/code"))
                .bearer_auth(&token)
                .form(&[("phone", format!("{prefix}{i:08}"))])
                .send()
                .await
                .unwrap();
            statuses.push(res.status().as_u16());
        }
        statuses
    };
    let terminal = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    let statuses = send_codes(&terminal, "135", 61).await;
    assert!(statuses[..60].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses[60], 429);

    // An operator may set a client's own rate (usercenter client create --sms-per-minute).
    let kiosk = make_client(&s, &["client_credentials"], &["basic"], false, |c| {
        c.sms_per_minute = Some(2)
    })
    .await;
    assert_eq!(send_codes(&kiosk, "136", 3).await, [200, 200, 429]);
    s.stop().await;
});

// A card terminal gets any card holder's token, and an SMS code proves a phone (and,
// bound, opens an account): both are an operator's grants. An app its owner
// registered uses offline_cert once an admin approves it, and sends codes once an
// operator allows it, not even with a person's token before; an operator's app counts
// each `abort` probe against its rate.
on_both!(cards_and_sms_are_an_operators_grants, |backend| {
    let s = TestServer::start(backend).await;
    s.register("dev", "dev@example.com", PW).await;
    let (http, csrf) = s.login("dev", PW).await;
    let register = async |grants: &[&str]| {
        let res = http
            .post(s.url("/api/apps/"))
            .header("X-CSRF-Token", &csrf)
            .json(&json!({"name": "Mine", "redirect_uris": ["https://dev.example.com/cb"], "grant_types": grants, "scopes": ["basic"]}))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    // offline_cert is registered (SPEC §1 names it), and waits for an admin.
    let (status, terminal) = register(&["offline_cert", "client_credentials"]).await;
    assert_eq!(status, 201, "{terminal}");
    assert_eq!(terminal["requested_scopes"], json!(["offline_cert"]));
    let terminal = App {
        client_id: terminal["client_id"].as_str().unwrap().into(),
        secret: terminal["client_secret"].as_str().map(str::to_string),
    };
    let card = [("grant_type", "offline_cert"), ("code", "card/001")];
    let (status, body) = v2_token(&s, &terminal, &card).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("unauthorized_client")),
        "{body}"
    );
    let out = crate::foundation::usercenter(&s.db)
        .env("USERCENTER_SECRET_KEY", "ab".repeat(32))
        .args([
            "client",
            "approve-scope",
            &terminal.client_id,
            "offline_cert",
        ])
        .output()
        .unwrap();
    let approved = crate::foundation::json_of(&out);
    assert_eq!(approved["approved_scopes"], json!(["offline_cert"]));
    assert!(
        !approved["scopes"].to_string().contains("offline_cert"),
        "no scope"
    );
    let (status, body) = v2_token(&s, &terminal, &card).await;
    assert_eq!(
        (status, &body["error_code"]),
        (400, &json!(8)),
        "approved: {body}"
    );

    let (status, mine) = register(&["client_credentials", "authorization_code"]).await;
    assert_eq!(status, 201, "{mine}");
    let mine = App {
        client_id: mine["client_id"].as_str().unwrap().into(),
        secret: mine["client_secret"].as_str().map(str::to_string),
    };
    let (_, body) = v2_token(&s, &mine, &[("grant_type", "client_credentials")]).await;
    let res = client()
        .get(s.url("/oauth/v2/code"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .query(&[("phone", "13700000001")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    assert!(crate::harness::outbox(&s.db.dir.path().join("outbox/sms")).is_empty());
    // An operator may let it: `usercenter client sms-rate CLIENT_ID N`.
    let out = crate::foundation::usercenter(&s.db)
        .env("USERCENTER_SECRET_KEY", "ab".repeat(32))
        .args(["client", "sms-rate", &mine.client_id, "5"])
        .output()
        .unwrap();
    assert_eq!(crate::foundation::json_of(&out)["sms_per_minute"], 5);
    let (_, body) = v2_token(&s, &mine, &[("grant_type", "client_credentials")]).await;
    let res = client()
        .get(s.url("/oauth/v2/code"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .query(&[("phone", "13700000001")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let kiosk = make_client(&s, &["client_credentials"], &["basic"], false, |c| {
        c.sms_per_minute = Some(2)
    })
    .await;
    let (_, body) = v2_token(&s, &kiosk, &[("grant_type", "client_credentials")]).await;
    let token = body["access_token"].as_str().unwrap().to_string();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = client()
            .get(s.url("/oauth/v2/code"))
            .bearer_auth(&token)
            .query(&[("phone", "13700000002"), ("abort", "if_not_exists")])
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses,
        [404, 404, 429],
        "probes count against the app's rate"
    );
    s.stop().await;
});

// The seeds' platforms (Spring Security OAuth, Apache Oltu) read a token request's
// query as well as its body, and their clients send either: their paths do too. The
// canonical /oauth/token reads the body only (RFC 6749 §3.2).
on_both!(
    token_parameters_in_the_query_on_the_seeds_paths,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        let secret = app.secret.clone().unwrap();
        let query = [
            ("grant_type", "client_credentials"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", secret.as_str()),
        ];
        let post = async |path: &str, query: &[(&str, &str)]| {
            let res = client()
                .post(s.url(path))
                .query(query)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        };
        for path in ["/api/tcc-user-center/oauth/token", "/oauth/v2/token"] {
            let (status, body) = post(path, &query).await;
            assert_eq!(status, 200, "{path}: {body}");
            assert_eq!(body["token_type"], "bearer");
        }
        let (status, body) = post("/oauth/token", &query).await;
        assert_eq!((status, &body["error_code"]), (400, &json!(9)), "{body}");

        // Seed 001: the form's Content-Type with the parameters in the query.
        let res = client()
            .post(s.url("/oauth2/token"))
            .query(&[
                ("grant_type", "client_credential"),
                ("client_id", app.client_id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["success"], true, "{body}");
        // A name in the query and the body is refused as repeated.
        let res = client()
            .post(s.url("/oauth/v2/token"))
            .query(&[("grant_type", "client_credentials")])
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", app.client_id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);

        // Seed 004's check_token by GET, as the Spring endpoint answered it.
        let token = body["access_token"].as_str().unwrap();
        let res = client()
            .get(s.url("/oauth/v2/check_token"))
            .basic_auth(&app.client_id, Some(&secret))
            .query(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["active"], true);
        s.stop().await;
    }
);

// Migration 14: apps that people registered themselves (the audit log shows it) send
// no SMS codes and their offline_cert waits for an admin; an operator's apps keep both.
on_both!(self_registered_apps_lose_the_operators_grants, |backend| {
    let s = TestServer::start(backend).await;
    let db = &s.app().db;
    let mut ids = Vec::new();
    for (client_id, by_owner) in [("self-made", true), ("operators", false)] {
        let c = db
            .create_client(
                &usercenter::store::NewClient {
                    client_id: client_id.into(),
                    name: client_id.into(),
                    grant_types: vec!["client_credentials".into(), "offline_cert".into()],
                    token_format: "opaque".into(),
                    token_policy: "independent".into(),
                    id_token_alg: "RS256".into(),
                    ..Default::default()
                },
                0,
            )
            .await
            .unwrap();
        if by_owner {
            db.audit(Some(1), "app_created", client_id, "", "", 0)
                .await
                .unwrap();
        }
        ids.push(c.id);
    }
    let sql = include_str!("../../migrations/0014_client_sms_rate.sql");
    let update = &sql[sql.find("UPDATE").unwrap()..];
    sqlx::raw_sql(update).execute(db.wpool()).await.unwrap();
    let mine = db.client_by_id(ids[0]).await.unwrap().unwrap();
    assert_eq!(mine.requested_scopes, ["offline_cert"]);
    assert!(mine.approved_scopes.is_empty());
    assert_eq!(mine.sms_per_minute, Some(0));
    let theirs = db.client_by_id(ids[1]).await.unwrap().unwrap();
    assert_eq!(theirs.approved_scopes, ["offline_cert"]);
    assert_eq!(theirs.sms_per_minute, None);
    s.stop().await;
});
