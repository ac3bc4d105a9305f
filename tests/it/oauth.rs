//! Issue 4: the authorization server — grants, consent, OpenID Connect, introspection,
//! revocation — and the security properties of RFC 9700.

use crate::harness::{Backend, TestServer, client, hidden, hidden_fields};
use crate::on_both;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use usercenter::service::CreateClient;

const PW: &str = "correct horse battery";
const CB: &str = "https://app.example.com/cb";

pub struct App {
    pub client_id: String,
    pub secret: Option<String>,
}

/// An app as an operator registers it (`usercenter client create`): it may use
/// every grant, `offline_cert` and SMS codes included.
pub async fn make_client(
    s: &TestServer,
    grants: &[&str],
    scopes: &[&str],
    public: bool,
    adjust: impl FnOnce(&mut CreateClient),
) -> App {
    let mut input = CreateClient {
        name: "Canteen App".into(),
        redirect_uris: vec![CB.into(), "http://127.0.0.1/native".into()],
        grant_types: grants.iter().map(|g| g.to_string()).collect(),
        scopes: scopes.iter().map(|g| g.to_string()).collect(),
        is_public: public,
        by_admin: true,
        ..Default::default()
    };
    adjust(&mut input);
    let created = s.app().create_client(input).await.unwrap();
    App {
        client_id: created.client.client_id,
        secret: created.client_secret,
    }
}

/// Asserts that a token request was refused as a bad authorization code (code 8).
pub async fn refused_code(res: reqwest::Response, why: &str) {
    assert_eq!(res.status(), 400, "{why}");
    let e = json(res).await;
    assert_eq!(e["error"], "invalid_grant", "{why}: {e}");
    assert_eq!(e["error_code"], 8, "{why}: {e}");
    assert!(e.get("access_token").is_none(), "{why}: {e}");
}

/// The row id (`pk`) of `app`'s client.
pub async fn client_pk(s: &TestServer, app: &App) -> i64 {
    s.app()
        .db
        .client_by_client_id(&app.client_id)
        .await
        .unwrap()
        .unwrap()
        .id
}

pub fn pkce() -> (String, String) {
    let verifier = usercenter::crypto::random_token(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The query (or fragment) parameters of a redirect.
pub fn params_of(location: &str) -> std::collections::HashMap<String, String> {
    let part = location
        .split_once('#')
        .map(|x| x.1)
        .or_else(|| location.split_once('?').map(|x| x.1))
        .unwrap_or("");
    url::form_urlencoded::parse(part.as_bytes())
        .into_owned()
        .collect()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Walks /oauth/authorize for a logged-in browser, approving consent when asked;
/// returns the final redirect to the client.
pub async fn authorize(s: &TestServer, http: &reqwest::Client, query: &[(&str, &str)]) -> String {
    let res = http
        .get(s.url("/oauth/authorize"))
        .query(query)
        .send()
        .await
        .unwrap();
    if res.status() == 303 {
        return location(&res);
    }
    assert_eq!(res.status(), 200, "expected the consent page");
    let html = res.text().await.unwrap();
    assert!(html.contains("name=\"decision\""), "{html}");
    let mut form: Vec<(String, String)> = Vec::new();
    for (k, _) in query {
        if *k != "scope" {
            form.push((k.to_string(), hidden(&html, k)));
        }
    }
    for (k, v) in query {
        if *k == "scope" {
            for sc in v.split_whitespace() {
                form.push(("scope".into(), sc.into()));
            }
        }
    }
    form.push(("csrf_token".into(), hidden(&html, "csrf_token")));
    form.push(("decision".into(), "approve".into()));
    let res = http
        .post(s.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    location(&res)
}

pub async fn token(s: &TestServer, app: &App, form: &[(&str, &str)]) -> reqwest::Response {
    let mut req = client().post(s.url("/oauth/token"));
    match &app.secret {
        Some(secret) => req = req.basic_auth(&app.client_id, Some(secret)),
        None => {
            let mut f: Vec<(&str, &str)> = form.to_vec();
            f.push(("client_id", &app.client_id));
            return req.form(&f).send().await.unwrap();
        }
    }
    req.form(form).send().await.unwrap()
}

/// The server's OpenID Connect discovery document.
async fn discovery(s: &TestServer) -> Value {
    json(
        client()
            .get(s.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn json(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

/// A user logged in through the JSON API, and their browser.
async fn person(s: &TestServer, name: &str) -> reqwest::Client {
    s.register(name, &format!("{name}@example.com"), PW).await;
    s.login(name, PW).await.0
}

async fn code_for(
    s: &TestServer,
    http: &reqwest::Client,
    app: &App,
    scope: &str,
    challenge: &str,
) -> String {
    let loc = authorize(
        s,
        http,
        &[
            ("response_type", "code"),
            ("client_id", &app.client_id),
            ("redirect_uri", CB),
            ("scope", scope),
            ("state", "xyz"),
            ("nonce", "n-0S6"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert!(loc.starts_with(CB), "{loc}");
    let p = params_of(&loc);
    assert_eq!(p["state"], "xyz");
    assert_eq!(p["iss"], s.base, "RFC 9207");
    p["code"].clone()
}

/// Redeems a code with a PKCE verifier; the response.
async fn redeem(s: &TestServer, app: &App, code: &str, verifier: &str) -> reqwest::Response {
    token(
        s,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Redeems a code with its PKCE verifier; the token response.
async fn exchange(s: &TestServer, app: &App, code: &str, verifier: &str) -> Value {
    json(redeem(s, app, code, verifier).await).await
}

/// Moves a code's row from its ordered key to its bare keyed hash, as codes issued
/// before they were ordered were stored.
async fn to_bare_key(s: &TestServer, code: String) -> String {
    let key = &s.app().key;
    let moved = sqlx::query("UPDATE authorization_codes SET code_hash = $1 WHERE code_hash = $2")
        .bind(key.hash_secret(&code))
        .bind(key.hash_token(&code))
        .execute(s.app().db.pool())
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 1, "stored under the ordered key");
    code
}

pub async fn introspect_with(s: &TestServer, app: &App, token: &str) -> Value {
    introspect(s, app, token).await
}

/// Introspection of `token` by a caller with HTTP Basic credentials, whatever answers.
async fn introspect_as(
    s: &TestServer,
    client_id: &str,
    secret: Option<&str>,
    token: &str,
) -> reqwest::Response {
    client()
        .post(s.url("/oauth/introspect"))
        .basic_auth(client_id, secret)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

async fn introspect(s: &TestServer, app: &App, token: &str) -> Value {
    let res = introspect_as(s, &app.client_id, app.secret.as_deref(), token).await;
    assert_eq!(res.status(), 200);
    json(res).await
}

on_both!(code_flow_with_pkce_consent_tokens_and_userinfo, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(
        &s,
        &["authorization_code", "refresh_token"],
        &["openid", "profile", "email", "basic"],
        false,
        |_| {},
    )
    .await;
    let http = person(&s, "alice").await;

    // No session: the login page, which comes back to the request.
    let res = client()
        .get(s.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("name=\"login\"") && html.contains("Canteen App"));
    assert!(hidden(&html, "return_to").starts_with("/oauth/authorize?"));

    // The consent page names the app and fills the scope descriptions.
    let (verifier, challenge) = pkce();
    let consent = http
        .get(s.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "openid email"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(consent.headers()["referrer-policy"], "no-referrer");
    let page = consent.text().await.unwrap();
    assert!(
        page.contains("Canteen App will read the e-mail address of alice"),
        "{page}"
    );

    let code = code_for(&s, &http, &app, "openid email", &challenge).await;
    assert!(!code.contains('.') && !code.starts_with("card/"));
    let res = token(
        &s,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let t = json(res).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert!(t["refresh_token"].is_string() && t["id_token"].is_string());
    assert_eq!(
        t["scope"], "openid email basic",
        "the default scope is added"
    );

    let info = json(
        client()
            .get(s.url("/oauth/userinfo"))
            .bearer_auth(t["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["username"], "alice");
    assert!(info.get("real_name").is_none(), "profile was not granted");
    // The token may come in a POST's form body (RFC 6750 §2.2), but not twice.
    let access = t["access_token"].as_str().unwrap();
    let res = client()
        .post(s.url("/oauth/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await, info);
    let res = client()
        .post(s.url("/oauth/userinfo"))
        .bearer_auth(access)
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // No token at all: a challenge without an error (RFC 6750 §3.1).
    let res = client().get(s.url("/oauth/userinfo")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"usercenter\""
    );
    let res = client()
        .get(s.url("/oauth/userinfo"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // A second authorization within the consent skips the page.
    let (_, challenge2) = pkce();
    let res = http
        .get(s.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "openid"),
            ("code_challenge", challenge2.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(params_of(&location(&res)).contains_key("code"));
    // A scope the consent did not cover asks again, and so does another app.
    let stranger = make_client(
        &s,
        &["authorization_code"],
        &["openid", "email"],
        false,
        |_| {},
    )
    .await;
    for (who, scope) in [(&app, "openid profile"), (&stranger, "openid")] {
        let res = http
            .get(s.url("/oauth/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", who.client_id.as_str()),
                ("redirect_uri", CB),
                ("scope", scope),
                ("code_challenge", challenge2.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scope}");
        assert!(
            res.text().await.unwrap().contains("name=\"decision\""),
            "the consent page for {scope}"
        );
    }
    // …unless prompt=consent.
    let res = http
        .get(s.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "openid"),
            ("prompt", "consent"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // The code is single-use; its replay revokes what it gave.
    let again = token(
        &s,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(again.status(), 400);
    let e = json(again).await;
    assert_eq!(e["error"], "invalid_grant");
    assert_eq!(e["error_code"], 8);
    assert_eq!(
        introspect(&s, &app, t["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        introspect(&s, &app, t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
    s.stop().await;
});

on_both!(
    redirect_uris_match_exactly_and_bad_ones_are_never_redirected,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(
            &s,
            &["authorization_code"],
            &["openid", "basic"],
            false,
            |_| {},
        )
        .await;
        let http = person(&s, "bob").await;
        for bad in [
            "https://app.example.com.evil.test/cb",
            "https://APP.example.com/cb",
            "https://app.example.com/cb/..;/x",
            "https://app.example.com/cb/../x",
            "https://evil.test@app.example.com/cb",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#f",
            "http://127.0.0.1:5555/native2",
        ] {
            let res = http
                .get(s.url("/oauth/authorize"))
                .query(&[
                    ("response_type", "code"),
                    ("client_id", app.client_id.as_str()),
                    ("redirect_uri", bad),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{bad}");
            assert!(
                res.headers().get("location").is_none(),
                "{bad} must not be redirected to"
            );
        }
        let res = http
            .get(s.url("/oauth/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", "nope"),
                ("redirect_uri", CB),
            ])
            .send()
            .await
            .unwrap();
        assert!(res.headers().get("location").is_none());
        assert!(res.status().is_client_error());

        // A loopback redirect may change its port (RFC 8252 §7.3).
        let loc = authorize(
            &s,
            &http,
            &[
                ("response_type", "code"),
                ("client_id", &app.client_id),
                ("redirect_uri", "http://127.0.0.1:43210/native"),
                ("scope", "basic"),
            ],
        )
        .await;
        assert!(
            loc.starts_with("http://127.0.0.1:43210/native?code="),
            "{loc}"
        );

        // After the client and URI are good, errors go back with state and iss.
        let res = http
            .get(s.url("/oauth/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", app.client_id.as_str()),
                ("redirect_uri", CB),
                ("scope", "root"),
                ("state", "s1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let p = params_of(&location(&res));
        assert_eq!(p["error"], "invalid_scope");
        assert_eq!(p["state"], "s1");
        assert_eq!(p["iss"], s.base);

        // The code is bound to the redirect URI it was issued for.
        let loc = authorize(
            &s,
            &http,
            &[
                ("response_type", "code"),
                ("client_id", &app.client_id),
                ("redirect_uri", CB),
                ("scope", "basic"),
            ],
        )
        .await;
        let code = params_of(&loc)["code"].clone();
        let res = token(
            &s,
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1/native"),
            ],
        )
        .await;
        refused_code(res, "another redirect_uri").await;
        // The same kind of code with its own redirect URI is good…
        let code_for_cb = |http: reqwest::Client| {
            let query = [
                ("response_type", "code"),
                ("client_id", app.client_id.as_str()),
                ("redirect_uri", CB),
                ("scope", "basic"),
            ];
            let s = &s;
            async move { params_of(&authorize(s, &http, &query).await)["code"].clone() }
        };
        let code = code_for_cb(http.clone()).await;
        let good = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CB),
        ];
        assert_eq!(token(&s, &app, &good).await.status(), 200);
        // …but only for the client it was issued to.
        let other = make_client(&s, &["authorization_code"], &["basic"], false, |_| {}).await;
        let code = code_for_cb(http.clone()).await;
        let stolen = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CB),
        ];
        refused_code(token(&s, &other, &stolen).await, "another client").await;
        s.stop().await;
    }
);

on_both!(pkce_is_enforced, |backend| {
    let s = TestServer::start(backend).await;
    let public = make_client(
        &s,
        &["authorization_code", "refresh_token"],
        &["openid", "basic"],
        true,
        |_| {},
    )
    .await;
    let confidential = make_client(
        &s,
        &["authorization_code"],
        &["openid", "basic"],
        false,
        |_| {},
    )
    .await;
    let http = person(&s, "carol").await;
    let base = |c: &App| {
        vec![
            ("response_type", "code".to_string()),
            ("client_id", c.client_id.clone()),
            ("redirect_uri", CB.to_string()),
            ("scope", "basic".to_string()),
        ]
    };

    let res = http
        .get(s.url("/oauth/authorize"))
        .query(&base(&public))
        .send()
        .await
        .unwrap();
    assert_eq!(
        params_of(&location(&res))["error"],
        "invalid_request",
        "a public client without PKCE"
    );
    let mut plain = base(&public);
    plain.push(("code_challenge", "x".repeat(43)));
    plain.push(("code_challenge_method", "plain".into()));
    let res = http
        .get(s.url("/oauth/authorize"))
        .query(&plain)
        .send()
        .await
        .unwrap();
    assert_eq!(
        params_of(&location(&res))["error"],
        "invalid_request",
        "plain is refused"
    );

    let (verifier, challenge) = pkce();
    let code = code_for(&s, &http, &public, "basic", &challenge).await;
    let wrong = token(
        &s,
        &public,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &pkce().0),
        ],
    )
    .await;
    refused_code(wrong, "a wrong verifier").await;
    let code = code_for(&s, &http, &public, "basic", &challenge).await;
    let missing = token(
        &s,
        &public,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
        ],
    )
    .await;
    refused_code(missing, "no verifier").await;
    let code = code_for(&s, &http, &public, "basic", &challenge).await;
    let ok = token(
        &s,
        &public,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        ok.status(),
        200,
        "a public client authenticates with its id and the verifier"
    );

    // A verifier for a code issued without a challenge is refused (downgrade).
    let loc = authorize(
        &s,
        &http,
        &[
            ("response_type", "code"),
            ("client_id", &confidential.client_id),
            ("redirect_uri", CB),
            ("scope", "basic"),
        ],
    )
    .await;
    let code = params_of(&loc)["code"].clone();
    let res = token(
        &s,
        &confidential,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    refused_code(res, "a verifier without a challenge").await;
    s.stop().await;
});

on_both!(
    two_parallel_redemptions_of_one_code_leave_no_live_token,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(&s, &["authorization_code"], &["basic"], false, |_| {}).await;
        let http = person(&s, "dave").await;
        let (verifier, challenge) = pkce();
        let code = code_for(&s, &http, &app, "basic", &challenge).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CB),
            ("code_verifier", verifier.as_str()),
        ];
        let (a, b) = tokio::join!(token(&s, &app, &form), token(&s, &app, &form));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        // The second is a replay: it is refused, and it revokes what the first got,
        // however the two interleaved; the first is refused too if it learns of the
        // replay before it answers.
        assert!(
            statuses == [200, 400] || statuses == [400, 400],
            "{statuses:?}"
        );
        for res in [a, b] {
            if res.status() == 200 {
                let t = json(res).await;
                let at = t["access_token"].as_str().unwrap();
                assert_eq!(introspect(&s, &app, at).await["active"], false);
            } else {
                assert_eq!(json(res).await["error_code"], 8);
            }
        }
        s.stop().await;
    }
);

on_both!(
    parallel_uses_of_one_refresh_token_leave_no_live_member,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(
            &s,
            &["authorization_code", "refresh_token"],
            &["basic"],
            false,
            |_| {},
        )
        .await;
        let http = person(&s, "rita").await;
        for _ in 0..5 {
            let (verifier, challenge) = pkce();
            let code = code_for(&s, &http, &app, "basic", &challenge).await;
            let t = exchange(&s, &app, &code, &verifier).await;
            let r = t["refresh_token"].as_str().unwrap().to_string();
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", r.as_str()),
            ];
            // Six at once: on PostgreSQL the losers wait for the winner's row lock.
            let (a, b, c, d, e, f) = tokio::join!(
                token(&s, &app, &form),
                token(&s, &app, &form),
                token(&s, &app, &form),
                token(&s, &app, &form),
                token(&s, &app, &form),
                token(&s, &app, &form)
            );
            let mut issued = Vec::new();
            for res in [a, b, c, d, e, f] {
                if res.status() == 200 {
                    issued.push(json(res).await);
                } else {
                    assert_eq!(res.status(), 400);
                }
            }
            // One rotation at most (none when a loser revoked the family between
            // the winner's rotation and its new member on SQLite); the presented
            // token is dead either way.
            assert!(issued.len() <= 1, "one refresh token, one rotation");
            assert_eq!(introspect(&s, &app, &r).await["active"], false);
            // A reuse was detected, so whatever the one success got is dead too,
            // however the requests interleaved.
            for t in issued {
                let again = token(
                    &s,
                    &app,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", t["refresh_token"].as_str().unwrap()),
                    ],
                )
                .await;
                assert_eq!(again.status(), 400, "the new member died with its family");
                assert_eq!(
                    introspect(&s, &app, t["access_token"].as_str().unwrap()).await["active"],
                    false
                );
            }
        }
        s.stop().await;
    }
);

on_both!(tokens_stored_under_the_bare_hash_keep_working, |backend| {
    // Tokens issued before ordered keys (crypto::hash_token) were stored under
    // the bare keyed hash; they stay valid, revocable and refreshable.
    let s = TestServer::start(backend).await;
    let app = make_client(
        &s,
        &["authorization_code", "refresh_token"],
        &["basic"],
        false,
        |_| {},
    )
    .await;
    let http = person(&s, "lena").await;
    let (verifier, challenge) = pkce();
    let code = code_for(&s, &http, &app, "basic", &challenge).await;
    let t = exchange(&s, &app, &code, &verifier).await;
    let (access, refresh) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    let key = &s.app().key;
    for (table, token) in [("access_tokens", access), ("refresh_tokens", refresh)] {
        assert!(key.hash_token(token).ends_with(&key.hash_secret(token)));
        let moved = sqlx::query(&format!(
            "UPDATE {table} SET token_hash = $1 WHERE token_hash = $2"
        ))
        .bind(key.hash_secret(token))
        .bind(key.hash_token(token))
        .execute(s.app().db.pool())
        .await
        .unwrap();
        assert_eq!(moved.rows_affected(), 1, "stored under the ordered key");
    }
    assert_eq!(introspect(&s, &app, access).await["active"], true);
    let refreshed = token(
        &s,
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let res = s
        .http
        .post(s.url("/oauth/revoke"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(&s, &app, access).await["active"], false);
    s.stop().await;
});

on_both!(
    codes_are_stored_under_ordered_keys_and_bare_ones_still_redeem,
    |backend| {
        // A code is stored under its ordered key (crypto::hash_token), so that new codes
        // are appended to the index; one issued before was stored under the bare keyed
        // hash, and is redeemed once all the same, its replay revoking what it gave.
        let s = TestServer::start(backend).await;
        let app = make_client(
            &s,
            &["authorization_code", "refresh_token"],
            &["basic"],
            false,
            |_| {},
        )
        .await;
        let http = person(&s, "mira").await;

        let (verifier, challenge) = pkce();
        let code = to_bare_key(&s, code_for(&s, &http, &app, "basic", &challenge).await).await;
        let t = exchange(&s, &app, &code, &verifier).await;
        let access = t["access_token"].as_str().unwrap();
        assert_eq!(introspect(&s, &app, access).await["active"], true);
        let again = redeem(&s, &app, &code, &verifier).await;
        assert_eq!(again.status(), 400);
        assert_eq!(json(again).await["error"], "invalid_grant");
        assert_eq!(introspect(&s, &app, access).await["active"], false);
        let refresh = t["refresh_token"].as_str().unwrap();
        assert_eq!(introspect(&s, &app, refresh).await["active"], false);

        // A bare-keyed code with the wrong verifier is refused like any other.
        let (_, challenge) = pkce();
        let code = to_bare_key(&s, code_for(&s, &http, &app, "basic", &challenge).await).await;
        let wrong = redeem(&s, &app, &code, &verifier).await;
        assert_eq!(wrong.status(), 400);
        s.stop().await;
    }
);

on_both!(refresh_rotation_detects_reuse_and_never_widens, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(
        &s,
        &["authorization_code", "refresh_token"],
        &["openid", "email", "basic"],
        false,
        |_| {},
    )
    .await;
    let other = make_client(
        &s,
        &["authorization_code", "refresh_token"],
        &["openid", "email", "basic"],
        false,
        |_| {},
    )
    .await;
    let http = person(&s, "erin").await;
    let (verifier, challenge) = pkce();
    let code = code_for(&s, &http, &app, "openid email", &challenge).await;
    let t = exchange(&s, &app, &code, &verifier).await;
    let r1 = t["refresh_token"].as_str().unwrap().to_string();

    let wrong_client = token(
        &s,
        &other,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(wrong_client.status(), 400);
    let wider = token(
        &s,
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("scope", "openid email profile"),
        ],
    )
    .await;
    assert_eq!(json(wider).await["error"], "invalid_scope");

    let t2 = json(
        token(
            &s,
            &app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("scope", "openid"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t2["scope"], "openid", "a refresh may narrow");
    let r2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    // The next refresh token keeps the presented one's scope (RFC 6749 §6).
    let t3 = json(
        token(
            &s,
            &app,
            &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
        )
        .await,
    )
    .await;
    assert_eq!(t3["scope"], t["scope"], "{t3}");
    let r3 = t3["refresh_token"].as_str().unwrap().to_string();
    let described = introspect(&s, &app, &r3).await;
    assert_eq!(described["active"], true);
    assert!(
        described.get("token_type").is_none(),
        "a refresh token is no token type (RFC 7662 §2.2): {described}"
    );
    // The rotated token presented again: refused, and the family is revoked.
    let replay = token(
        &s,
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(replay.status(), 400);
    assert_eq!(json(replay).await["error_code"], 15);
    let after = token(
        &s,
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &r3)],
    )
    .await;
    assert_eq!(after.status(), 400, "the newer member dies with the family");
    for t in [&t2, &t3] {
        assert_eq!(
            introspect(&s, &app, t["access_token"].as_str().unwrap()).await["active"],
            false
        );
    }
    s.stop().await;
});

on_both!(
    client_credentials_password_and_implicit_follow_the_settings,
    |backend| {
        let s = TestServer::start(backend).await;
        let svc = make_client(
            &s,
            &[
                "client_credentials",
                "password",
                "implicit",
                "refresh_token",
            ],
            &["basic", "develop", "openid"],
            false,
            // Registered by its owner: develop waits for an admin's approval.
            |c| c.by_admin = false,
        )
        .await;
        s.register("frank", "frank@example.com", PW).await;

        let res = token(&s, &svc, &[("grant_type", "client_credential")]).await;
        assert_eq!(res.status(), 200);
        let t = json(res).await;
        assert!(t.get("refresh_token").is_none(), "RFC 6749 §4.4.3");
        assert_eq!(t["scope"], "basic");
        let res = token(
            &s,
            &svc,
            &[("grant_type", "client_credentials"), ("scope", "develop")],
        )
        .await;
        assert_eq!(res.status(), 400, "develop needs an admin's approval");
        assert_eq!(json(res).await["error_code"], 14);
        let res = token(
            &s,
            &svc,
            &[("grant_type", "client_credentials"), ("scope", "email")],
        )
        .await;
        assert_eq!(json(res).await["error"], "invalid_scope");
        let res = token(
            &s,
            &svc,
            &[("grant_type", "authorization_code"), ("code", "x")],
        )
        .await;
        assert_eq!(
            json(res).await["error"],
            "unauthorized_client",
            "not registered for this grant"
        );

        // Password grant: off by default, then on.
        let res = token(
            &s,
            &svc,
            &[
                ("grant_type", "password"),
                ("username", "frank"),
                ("password", PW),
            ],
        )
        .await;
        assert_eq!(json(res).await["error"], "unsupported_grant_type");
        s.app()
            .set_setting("allow_password_grant", "true")
            .await
            .unwrap();
        let res = token(
            &s,
            &svc,
            &[
                ("grant_type", "password"),
                ("username", "frank"),
                ("password", "wrong one"),
            ],
        )
        .await;
        assert_eq!(json(res).await["error_code"], 10);
        let res = token(
            &s,
            &svc,
            &[
                ("grant_type", "password"),
                ("username", "frank"),
                ("password", PW),
                ("scope", "openid"),
            ],
        )
        .await;
        assert_eq!(res.status(), 200);
        let t = json(res).await;
        assert!(t["refresh_token"].is_string() && t["id_token"].is_string());

        // Implicit: off by default, then on, in the fragment.
        let http = s.login("frank", PW).await.0;
        let q = [
            ("response_type", "token"),
            ("client_id", svc.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "basic"),
            ("state", "st"),
        ];
        let res = http
            .get(s.url("/oauth/authorize"))
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(
            params_of(&location(&res))["error"],
            "unsupported_response_type"
        );
        s.app().set_setting("allow_implicit", "true").await.unwrap();
        let loc = authorize(&s, &http, &q).await;
        assert!(loc.starts_with(&format!("{CB}#access_token=")), "{loc}");
        assert!(!params_of(&loc).contains_key("refresh_token"));

        // Bad client authentication.
        let res = client()
            .post(s.url("/oauth/token"))
            .basic_auth(&svc.client_id, Some("wrong"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert!(res.headers().get("www-authenticate").is_some());
        assert_eq!(json(res).await["error_code"], 5);
        let res = client()
            .post(s.url("/oauth/token"))
            .basic_auth(&svc.client_id, svc.secret.as_ref())
            .json(&json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap();
        assert_eq!(json(res).await["error_code"], 9, "wrong Content-Type");
        s.stop().await;
    }
);

on_both!(prompt_and_max_age, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(
        &s,
        &["authorization_code"],
        &["openid", "basic"],
        false,
        |_| {},
    )
    .await;
    let q = |extra: (&'static str, &'static str)| {
        vec![
            ("response_type", "code".to_string()),
            ("client_id", app.client_id.clone()),
            ("redirect_uri", CB.to_string()),
            ("scope", "openid".to_string()),
            ("nonce", "n".to_string()),
            (extra.0, extra.1.to_string()),
        ]
    };
    let res = client()
        .get(s.url("/oauth/authorize"))
        .query(&q(("prompt", "none")))
        .send()
        .await
        .unwrap();
    assert_eq!(params_of(&location(&res))["error"], "login_required");
    let http = person(&s, "gina").await;
    let res = http
        .get(s.url("/oauth/authorize"))
        .query(&q(("prompt", "none")))
        .send()
        .await
        .unwrap();
    assert_eq!(params_of(&location(&res))["error"], "consent_required");
    let res = http
        .get(s.url("/oauth/authorize"))
        .query(&q(("prompt", "login")))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("name=\"login\""), "prompt=login asks again");
    assert!(!hidden(&html, "return_to").contains("prompt=login"));
    let res = http
        .get(s.url("/oauth/authorize"))
        .query(&q(("prompt", "select_account")))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains("name=\"login\""),
        "select_account: the login page, where another account can be chosen"
    );
    assert!(!hidden(&html, "return_to").contains("select_account"));
    // What is not supported is refused, not silently dropped (OIDC Core §6, §7.2.1).
    for (param, error) in [
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
        ("registration", "registration_not_supported"),
    ] {
        let res = http
            .get(s.url("/oauth/authorize"))
            .query(&q((param, "eyJhbGciOiJub25lIn0.e30.")))
            .send()
            .await
            .unwrap();
        assert_eq!(params_of(&location(&res))["error"], error);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = http
        .get(s.url("/oauth/authorize"))
        .query(&q(("max_age", "0")))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains("name=\"login\""),
        "max_age forces a fresh login"
    );
    let back = hidden(&html, "return_to");
    assert!(
        back.contains("nonce=n") && !back.contains("max_age"),
        "once signed in, the person is not asked again: {back}"
    );

    // A person slower than max_age on the consent page is not sent round again.
    let (fresh, _) = s.login("gina", PW).await;
    let res = fresh
        .get(s.url("/oauth/authorize"))
        .query(&q(("max_age", "1")))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("name=\"decision\""), "{html}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let mut form: Vec<(&str, String)> = [
        "response_type",
        "client_id",
        "redirect_uri",
        "nonce",
        "max_age",
    ]
    .into_iter()
    .map(|k| (k, hidden(&html, k)))
    .collect();
    form.push(("requested_scope", hidden(&html, "requested_scope")));
    form.push(("csrf_token", hidden(&html, "csrf_token")));
    form.push(("decision", "approve".into()));
    let res = fresh
        .post(s.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(params_of(&location(&res)).contains_key("code"));
    s.stop().await;
});

// Introspection reads the token's client and user narrow (their ids, names and
// flags): a disabled user's or client's token is inactive at once.
on_both!(
    introspection_sees_a_disabled_user_or_client_at_once,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(
            &s,
            &["authorization_code", "client_credentials"],
            &["openid", "basic"],
            false,
            |_| {},
        )
        .await;
        let caller = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        let http = person(&s, "dora").await;
        let (verifier, challenge) = pkce();
        let code = code_for(&s, &http, &app, "openid", &challenge).await;
        let user_token = exchange(&s, &app, &code, &verifier).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let app_token = json(token(&s, &app, &[("grant_type", "client_credentials")]).await).await
            ["access_token"]
            .as_str()
            .unwrap()
            .to_string();

        let i = introspect(&s, &caller, &user_token).await;
        assert_eq!(i["active"], true);
        assert_eq!(i["username"], "dora");
        assert_eq!(i["client_id"], app.client_id);
        let user_id: i64 = i["sub"].as_str().unwrap().parse().unwrap();
        let db = &s.app().db;
        let now = usercenter::time::now();
        db.admin_set_user_disabled(user_id, true, now)
            .await
            .unwrap();
        assert_eq!(
            introspect(&s, &caller, &user_token).await,
            json!({"active": false})
        );
        let i = introspect(&s, &caller, &app_token).await;
        assert_eq!(i["active"], true, "the app's own token stands for no user");
        assert_eq!(i["sub"], app.client_id);
        assert!(i.get("username").is_none());

        let client_pk = client_pk(&s, &app).await;
        db.admin_set_client_disabled(client_pk, true, now)
            .await
            .unwrap();
        assert_eq!(
            introspect(&s, &caller, &app_token).await,
            json!({"active": false})
        );
        // A disabled client cannot introspect either, with its right secret.
        let res = introspect_as(&s, &app.client_id, app.secret.as_deref(), &app_token).await;
        assert_eq!(res.status(), 401);
        assert_eq!(json(res).await["error"], "invalid_client");
        s.stop().await;
    }
);

on_both!(introspection_and_revocation, |backend| {
    let s = TestServer::start(backend).await;
    let a = make_client(
        &s,
        &["client_credentials", "authorization_code", "refresh_token"],
        &["basic", "openid"],
        false,
        |_| {},
    )
    .await;
    let b = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    let ta =
        json(token(&s, &a, &[("grant_type", "client_credentials")]).await).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();

    let res = client()
        .post(s.url("/oauth/introspect"))
        .form(&[("token", ta.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "introspection needs client authentication"
    );
    // The caller and the token are read together: a valid token does not make up
    // for a wrong secret, nor for a public client's missing one.
    let res = introspect_as(&s, &b.client_id, Some("wrong"), &ta).await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["error"], "invalid_client");
    let public = make_client(&s, &["authorization_code"], &["basic"], true, |_| {}).await;
    let res = client()
        .post(s.url("/oauth/introspect"))
        .form(&[
            ("client_id", public.client_id.as_str()),
            ("token", ta.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let i = introspect(&s, &b, &ta).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], a.client_id);
    assert_eq!(
        introspect(&s, &b, "not-a-token").await,
        json!({"active": false})
    );

    // Another client cannot revoke it; unknown tokens revoke with 200.
    let res = client()
        .post(s.url("/oauth/revoke"))
        .basic_auth(&b.client_id, b.secret.as_ref())
        .form(&[("token", ta.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(&s, &b, &ta).await["active"], true);
    let res = client()
        .post(s.url("/oauth/revoke"))
        .basic_auth(&a.client_id, a.secret.as_ref())
        .form(&[("token", "unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client()
        .post(s.url("/oauth/check_token"))
        .basic_auth(&a.client_id, a.secret.as_ref())
        .form(&[("token", ta.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await["active"], true, "the check_token alias");
    let res = client()
        .post(s.url("/oauth/revoke"))
        .basic_auth(&a.client_id, a.secret.as_ref())
        .form(&[("token", ta.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(&s, &b, &ta).await, json!({"active": false}));

    // Revoking a refresh token revokes the access tokens issued from it.
    let http = person(&s, "hank").await;
    let (verifier, challenge) = pkce();
    let code = code_for(&s, &http, &a, "openid", &challenge).await;
    let t = exchange(&s, &a, &code, &verifier).await;
    let access = t["access_token"].as_str().unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&s, &b, access).await["active"], true);
    let res = client()
        .post(s.url("/oauth/revoke"))
        .basic_auth(&a.client_id, a.secret.as_ref())
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(&s, &b, access).await["active"], false);
    assert_eq!(introspect(&s, &a, refresh).await["active"], false);
    let res = token(
        &s,
        &a,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_grant");
    s.stop().await;
});

on_both!(
    a_password_reset_spends_codes_and_stops_logins_that_checked_the_old_password,
    |backend| {
        let s = TestServer::start(backend).await;
        s.app()
            .set_setting("allow_password_grant", "true")
            .await
            .unwrap();
        let app = make_client(
            &s,
            &["authorization_code", "password"],
            &["basic"],
            false,
            |_| {},
        )
        .await;
        let http = person(&s, "ruth").await;
        let (verifier, challenge) = pkce();
        let code = code_for(&s, &http, &app, "basic", &challenge).await;
        // A login that has checked the password, read before the reset.
        let before = s.app().user_by_login("ruth").await.unwrap().unwrap();

        client()
            .post(s.url("/api/auth/password/forgot"))
            .json(&json!({"email": "ruth@example.com"}))
            .send()
            .await
            .unwrap();
        let mails = crate::harness::wait_outbox(&s.mail_dir(), 1).await;
        let text = mails[0]["text"].as_str().unwrap();
        let link = text.split("token=").nth(1).unwrap();
        let link = link.split_whitespace().next().unwrap();
        let res = client()
            .post(s.url("/api/auth/password/reset"))
            .json(&json!({"token": link, "password": "a brand new secret"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);

        // The code issued to the old session gives nothing…
        refused_code(
            redeem(&s, &app, &code, &verifier).await,
            "a code from before",
        )
        .await;
        // …and the login that checked the old password opens no session.
        let who = usercenter::service::Requester {
            ip: "127.0.0.1".into(),
            user_agent: String::new(),
        };
        assert!(s.app().open_session(before.clone(), &who).await.is_err());
        let sessions = s
            .app()
            .db
            .sessions_of(before.id, usercenter::time::now())
            .await
            .unwrap();
        assert!(sessions.is_empty(), "{} sessions", sessions.len());
        let after = s.app().user_by_login("ruth").await.unwrap().unwrap();
        assert!(s.app().open_session(after, &who).await.is_ok());
        // The new password works for the password grant.
        let res = token(
            &s,
            &app,
            &[
                ("grant_type", "password"),
                ("username", "ruth"),
                ("password", "a brand new secret"),
            ],
        )
        .await;
        assert_eq!(res.status(), 200);
        s.stop().await;
    }
);

on_both!(
    confidential_clients_prove_their_secret_in_either_place,
    |backend| {
        let s = TestServer::start(backend).await;
        s.app()
            .set_setting("allow_password_grant", "true")
            .await
            .unwrap();
        s.register("owen", "owen@example.com", PW).await;
        let app = make_client(
            &s,
            &["client_credentials", "password"],
            &["basic"],
            false,
            |_| {},
        )
        .await;
        let secret = app.secret.clone().unwrap();
        let post = |form: Vec<(&'static str, String)>| {
            client().post(s.url("/oauth/token")).form(&form).send()
        };
        let grant = ("grant_type", "client_credentials".to_string());
        let id = ("client_id", app.client_id.clone());
        for (why, form) in [
            ("only its id", vec![grant.clone(), id.clone()]),
            (
                "a wrong secret",
                vec![grant.clone(), id.clone(), ("client_secret", "nope".into())],
            ),
        ] {
            let res = post(form).await.unwrap();
            assert_eq!(res.status(), 401, "{why}");
            assert!(res.headers().contains_key("www-authenticate"), "{why}");
            let e = json(res).await;
            assert_eq!(
                (e["error"].as_str(), e["error_code"].as_u64()),
                (Some("invalid_client"), Some(5)),
                "{why}"
            );
        }
        // client_secret_post (RFC 6749 §2.3.1).
        let res = post(vec![grant, id, ("client_secret", secret)])
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(json(res).await["access_token"].is_string());

        // The password grant answers an unknown user as it answers a wrong password.
        let mut answers = Vec::new();
        for username in ["owen", "nobody-at-all"] {
            let res = token(
                &s,
                &app,
                &[
                    ("grant_type", "password"),
                    ("username", username),
                    ("password", "not the password"),
                ],
            )
            .await;
            assert_eq!(res.status(), 400, "{username}");
            answers.push(json(res).await);
        }
        assert_eq!(answers[0]["error_code"], 10);
        assert_eq!(answers[0], answers[1]);
        s.stop().await;
    }
);

on_both!(
    authorization_requests_follow_the_admins_settings,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(&s, &["authorization_code"], &["basic"], false, |_| {}).await;
        let http = person(&s, "sam").await;
        let ask = |redirect_uri: Option<&'static str>, state: Option<&'static str>| {
            let mut query = vec![
                ("response_type", "code"),
                ("client_id", app.client_id.as_str()),
                ("scope", "basic"),
            ];
            query.extend(redirect_uri.map(|r| ("redirect_uri", r)));
            query.extend(state.map(|st| ("state", st)));
            http.get(s.url("/oauth/authorize")).query(&query).send()
        };
        // Consent once, so that the answers below are the request's own.
        authorize(
            &s,
            &http,
            &[
                ("response_type", "code"),
                ("client_id", &app.client_id),
                ("redirect_uri", CB),
                ("scope", "basic"),
            ],
        )
        .await;
        // Two URIs are registered: the request must name one, and is not redirected.
        let res = ask(None, Some("s")).await.unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.headers().get("location").is_none());

        // require_state: a request without state goes back with invalid_request.
        assert_eq!(ask(Some(CB), None).await.unwrap().status(), 303);
        s.app().set_setting("require_state", "true").await.unwrap();
        let res = ask(Some(CB), None).await.unwrap();
        assert_eq!(res.status(), 303);
        let p = params_of(&location(&res));
        assert_eq!(p["error"], "invalid_request");
        assert!(!p.contains_key("code"));

        // Exact matching off: a path under a registered URI is accepted, and only that.
        let deeper = "https://app.example.com/cb/deeper";
        let res = ask(Some(deeper), Some("s")).await.unwrap();
        assert_eq!(res.status(), 400, "exact by default");
        s.app()
            .set_setting("exact_redirect_uri", "false")
            .await
            .unwrap();
        let res = ask(Some(deeper), Some("s")).await.unwrap();
        assert_eq!(res.status(), 303);
        let loc = location(&res);
        assert!(loc.starts_with(&format!("{deeper}?")), "{loc}");
        assert!(params_of(&loc).contains_key("code"));
        for bad in [
            "https://app.example.com/cbx",
            "https://app.example.com/cb/../admin",
            "https://app.example.com/cb/x?code=planted",
        ] {
            let res = ask(Some(bad), Some("s")).await.unwrap();
            assert_eq!(res.status(), 400, "{bad}");
            assert!(res.headers().get("location").is_none(), "{bad}");
        }
        s.stop().await;
    }
);

on_both!(disabled_users_and_deleted_clients_stop_at_once, |backend| {
    let s = TestServer::start(backend).await;
    let a = make_client(
        &s,
        &["password", "client_credentials"],
        &["openid", "basic"],
        false,
        |_| {},
    )
    .await;
    let b = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    s.app()
        .set_setting("allow_password_grant", "true")
        .await
        .unwrap();
    s.register("ivan", "ivan@example.com", PW).await;
    let t = json(
        token(
            &s,
            &a,
            &[
                ("grant_type", "password"),
                ("username", "ivan"),
                ("password", PW),
                ("scope", "openid"),
            ],
        )
        .await,
    )
    .await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(introspect(&s, &b, at).await["active"], true);
    sqlx::query("UPDATE users SET disabled = 1 WHERE username = 'ivan'")
        .execute(s.app().db.pool())
        .await
        .unwrap();
    assert_eq!(introspect(&s, &b, at).await["active"], false);
    let res = client()
        .get(s.url("/oauth/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let ct =
        json(token(&s, &a, &[("grant_type", "client_credentials")]).await).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
    assert_eq!(introspect(&s, &b, &ct).await["active"], true);
    sqlx::query("DELETE FROM clients WHERE client_id = $1")
        .bind(&a.client_id)
        .execute(s.app().db.pool())
        .await
        .unwrap();
    assert_eq!(introspect(&s, &b, &ct).await["active"], false);
    s.stop().await;
});

/// Verifies a JWT against the server's JWKS and returns header and claims.
async fn verify_with_jwks(
    s: &TestServer,
    jwt: &str,
    audience: &str,
) -> (jsonwebtoken::Header, Value) {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet = client()
        .get(s.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = header.kid.clone().expect("a kid");
    let jwk = jwks.find(&kid).expect("the kid is in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[audience]);
    v.set_issuer(&[s.base.as_str()]);
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &v).unwrap();
    (header, data.claims)
}

on_both!(
    id_tokens_and_jwt_access_tokens_verify_against_the_jwks,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(
            &s,
            &["authorization_code"],
            &["openid", "basic"],
            false,
            |c| c.token_format = Some("jwt".into()),
        )
        .await;
        let http = person(&s, "judy").await;
        let (verifier, challenge) = pkce();
        let code = code_for(&s, &http, &app, "openid", &challenge).await;
        let t = exchange(&s, &app, &code, &verifier).await;
        let id_token = t["id_token"].as_str().unwrap();
        let access = t["access_token"].as_str().unwrap();
        let (h, c) = verify_with_jwks(&s, id_token, &app.client_id).await;
        assert_eq!(h.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(c["nonce"], "n-0S6");
        assert_eq!(c["aud"], app.client_id);
        assert!(c["auth_time"].as_i64().unwrap() > 0);
        let at_hash = URL_SAFE_NO_PAD.encode(&Sha256::digest(access.as_bytes())[..16]);
        assert_eq!(c["at_hash"], at_hash);

        let (h, c) = verify_with_jwks(&s, access, &s.base).await;
        assert_eq!(h.typ.as_deref(), Some("at+jwt"), "RFC 9068");
        assert_eq!(c["client_id"], app.client_id);
        // The JWT access token works as a bearer token; the ID token does not.
        assert_eq!(
            client()
                .get(s.url("/oauth/userinfo"))
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let res = client()
            .get(s.url("/oauth/userinfo"))
            .bearer_auth(id_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert!(
            res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );

        // Discovery names exactly these endpoints and RFC 9207 support.
        let d = json(
            client()
                .get(s.url("/.well-known/openid-configuration"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(d["issuer"], s.base);
        assert_eq!(d["token_endpoint"], format!("{}/oauth/token", s.base));
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert!(
            d.get("registration_endpoint").is_none(),
            "dynamic registration is off by default"
        );
        let m = json(
            client()
                .get(s.url("/.well-known/oauth-authorization-server"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(m["issuer"], s.base);
        s.stop().await;
    }
);

#[tokio::test]
async fn key_rotation_keeps_old_tokens_verifiable() {
    let s = TestServer::start(Backend::Sqlite).await;
    let app = make_client(&s, &["client_credentials"], &["basic"], false, |c| {
        c.token_format = Some("jwt".into())
    })
    .await;
    let before =
        json(token(&s, &app, &[("grant_type", "client_credentials")]).await).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();
    let kids = async || {
        let set = json(client().get(s.url("/oauth/jwks")).send().await.unwrap()).await;
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let published = kids().await;
    // Rotated as another instance, or `usercenter keys rotate`, does: behind this
    // server's back. Its published set shows the new keys at once.
    let rotated = usercenter::jose::rotate(&s.app().db, &s.app().key, usercenter::time::now())
        .await
        .unwrap();
    let now_published = kids().await;
    assert!(
        rotated.iter().all(|k| now_published.contains(k))
            && published.iter().all(|k| now_published.contains(k)),
        "{rotated:?} {now_published:?}"
    );
    let after =
        json(token(&s, &app, &[("grant_type", "client_credentials")]).await).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
    let new_kid = jsonwebtoken::decode_header(&after).unwrap().kid.unwrap();
    assert_ne!(old_kid, new_kid, "the new key signs");
    verify_with_jwks(&s, &before, &s.base).await;
    verify_with_jwks(&s, &after, &s.base).await;
    s.stop().await;
}

#[tokio::test]
async fn consent_needs_its_csrf_token() {
    let s = TestServer::start(Backend::Sqlite).await;
    let app = make_client(&s, &["authorization_code"], &["basic"], false, |_| {}).await;
    let http = person(&s, "kim").await;
    let form = [
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", CB),
        ("scope", "basic"),
        ("decision", "approve"),
        ("csrf_token", "forged"),
    ];
    let res = http
        .post(s.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("location").is_none());
    // A token for one request does not approve another (other state).
    let page = http
        .get(s.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "basic"),
            ("state", "a"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    let res = http
        .post(s.url("/oauth/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "basic"),
            ("state", "b"),
            ("decision", "approve"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Deny goes back with access_denied.
    let res = http
        .post(s.url("/oauth/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "basic"),
            ("state", "a"),
            ("decision", "deny"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(params_of(&location(&res))["error"], "access_denied");
    let _ = STANDARD.encode("x");
    s.stop().await;
}

/// SPEC §2: the consent form posts `decision=approve` and may narrow `scope`. The page's
/// own fields (its hidden ones and the ticked boxes) grant what was ticked of what was
/// asked, with `openid` and the default scopes always; nothing posted widens the grant.
#[tokio::test]
async fn consent_grants_the_ticked_scopes_of_the_request_and_never_more() {
    let s = TestServer::start(Backend::Sqlite).await;
    let app = make_client(
        &s,
        &["authorization_code"],
        &["openid", "profile", "email", "phone", "basic"],
        false,
        |_| {},
    )
    .await;
    let (verifier, challenge) = pkce();
    let q = [
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", CB),
        ("scope", "openid profile email"),
        ("state", "n1"),
        ("nonce", "n1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // A fresh consent page for the request, approved with its hidden fields and the
    // boxes TICKED, or with no scope field at all (None); the scope of the tokens.
    let granted = async |name: &str, ticked: Option<&[&str]>| {
        let http = person(&s, name).await;
        let page = http
            .get(s.url("/oauth/authorize"))
            .query(&q)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut form = hidden_fields(&page);
        match ticked {
            Some(ticked) => form.extend(ticked.iter().map(|t| ("scope".into(), t.to_string()))),
            None => form.retain(|(k, _)| k != "scope"),
        }
        form.push(("decision".into(), "approve".into()));
        let res = http
            .post(s.url("/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{name}");
        let code = params_of(&location(&res))["code"].clone();
        let body = json(redeem(&s, &app, &code, &verifier).await).await;
        let mut scope: Vec<String> = body["scope"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {body}"))
            .split(' ')
            .map(str::to_string)
            .collect();
        scope.sort();
        assert_eq!(
            body["id_token"].is_string(),
            scope.iter().any(|s| s == "openid"),
            "{name}"
        );
        scope.join(" ")
    };
    assert_eq!(
        granted("cn_all", Some(&["profile", "email"])).await,
        "basic email openid profile",
        "every box ticked"
    );
    assert_eq!(
        granted("cn_one", Some(&["email"])).await,
        "basic email openid",
        "profile unticked"
    );
    assert_eq!(
        granted("cn_none", Some(&[])).await,
        "basic openid",
        "every box unticked: openid and the default scope stay"
    );
    assert_eq!(
        granted("cn_wider", Some(&["email", "phone"])).await,
        "basic email openid",
        "a scope the request did not ask for is not added"
    );
    assert_eq!(
        granted("cn_bare", None).await,
        "basic email openid profile",
        "without the page's scope fields, the request's scope stands"
    );
    s.stop().await;
}

/// Makes every insert into `table` fail, as a full disk or a lost database would.
async fn refuse_inserts(s: &TestServer, backend: Backend, table: &str) {
    let statements = match backend {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )],
        Backend::Postgres => vec![
            "CREATE OR REPLACE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
                .to_string(),
            format!(
                "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION refuse_insert()"
            ),
        ],
    };
    for sql in &statements {
        sqlx::raw_sql(sql).execute(s.app().db.pool()).await.unwrap();
    }
}

async fn allow_inserts(s: &TestServer, backend: Backend, table: &str) {
    let sql = match backend {
        Backend::Sqlite => format!("DROP TRIGGER refuse_{table}"),
        Backend::Postgres => format!("DROP TRIGGER refuse_{table} ON {table}"),
    };
    sqlx::raw_sql(&sql)
        .execute(s.app().db.pool())
        .await
        .unwrap();
}

// SPEC §2's error table: a token or code that cannot be stored is a server_error with
// seed 001's code 12 (access token), 13 (code) or 16 (refresh token), never a token
// that was not stored; once the database takes writes again, so does the server.
on_both!(
    a_credential_that_cannot_be_stored_is_a_server_error_with_its_code,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(
            &s,
            &["authorization_code", "refresh_token", "client_credentials"],
            &["basic"],
            false,
            |_| {},
        )
        .await;
        let refused = |code: u8| {
            move |res: reqwest::Response| async move {
                assert_eq!(res.status(), 500);
                let body = json(res).await;
                assert_eq!(body["error"], "server_error", "{body}");
                assert_eq!(body["error_code"], code, "{body}");
                assert!(body.get("access_token").is_none());
            }
        };

        refuse_inserts(&s, backend, "access_tokens").await;
        refused(12)(token(&s, &app, &[("grant_type", "client_credentials")]).await).await;
        allow_inserts(&s, backend, "access_tokens").await;
        let res = token(&s, &app, &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 200);

        let http = person(&s, "nc_kim").await;
        let (verifier, challenge) = pkce();
        let q = [
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "basic"),
            ("state", "s1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        refuse_inserts(&s, backend, "authorization_codes").await;
        let back = params_of(&authorize(&s, &http, &q).await);
        assert_eq!(back["error"], "server_error");
        assert_eq!(
            back["error_description"],
            "could not create the authorization code"
        );
        assert_eq!(back["state"], "s1");
        assert!(!back.contains_key("code"));
        allow_inserts(&s, backend, "authorization_codes").await;

        let code = params_of(&authorize(&s, &http, &q).await)["code"].clone();
        refuse_inserts(&s, backend, "refresh_tokens").await;
        refused(16)(redeem(&s, &app, &code, &verifier).await).await;
        allow_inserts(&s, backend, "refresh_tokens").await;
        let code = params_of(&authorize(&s, &http, &q).await)["code"].clone();
        let body = json(redeem(&s, &app, &code, &verifier).await).await;
        assert!(body["refresh_token"].is_string(), "{body}");
        s.stop().await;
    }
);

// Seed 002 and SPEC §3: a scope flagged default is granted even to a client that does
// not list it, from the moment an admin creates it (docs/default-scopes.md).
on_both!(a_default_scope_is_granted_to_every_client, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(&s, &["client_credentials"], &["user.read"], false, |_| {}).await;
    let granted = async || {
        json(
            token(
                &s,
                &app,
                &[("grant_type", "client_credentials"), ("scope", "user.read")],
            )
            .await,
        )
        .await["scope"]
            .clone()
    };
    assert_eq!(granted().await, "user.read basic");
    s.app()
        .create_scope(usercenter::store::Scope {
            name: "notes".into(),
            path: "/api/notes".into(),
            method: "GET".into(),
            is_default: true,
            display_name: "Notes".into(),
            description: "Read {user}'s notes".into(),
            icon: String::new(),
            builtin: false,
        })
        .await
        .unwrap();
    // Scope definitions are kept for a second per instance.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(granted().await, "user.read basic notes");
    s.stop().await;
});

on_both!(token_policies_reuse_and_replace, |backend| {
    let s = TestServer::start(backend).await;
    let reuse = make_client(&s, &["client_credentials"], &["basic"], false, |c| {
        c.token_policy = Some("reuse".into());
        c.access_ttl = Some(7 * 86_400);
    })
    .await;
    let a = json(token(&s, &reuse, &[("grant_type", "client_credentials")]).await).await;
    let b = json(token(&s, &reuse, &[("grant_type", "client_credentials")]).await).await;
    assert_eq!(
        a["access_token"], b["access_token"],
        "seed 003: the still-valid token again"
    );
    assert!(
        a["expires_in"].as_i64().unwrap() > 6 * 86_400,
        "the client's own lifetime"
    );

    let replace = make_client(&s, &["client_credentials"], &["basic"], false, |c| {
        c.token_policy = Some("replace".into())
    })
    .await;
    let first = json(token(&s, &replace, &[("grant_type", "client_credentials")]).await).await["access_token"].as_str().unwrap().to_string();
    let second = json(token(&s, &replace, &[("grant_type", "client_credentials")]).await).await["access_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        introspect(&s, &reuse, &first).await["active"],
        false,
        "seed 001: the new token replaces the old"
    );
    assert_eq!(introspect(&s, &reuse, &second).await["active"], true);
    s.stop().await;
});

on_both!(
    dynamic_registration_is_off_by_default_and_keeps_the_rules,
    |backend| {
        let s = TestServer::start(backend).await;
        let meta = json!({"redirect_uris": [CB], "client_name": "Dyn", "grant_types": ["authorization_code"], "scope": "openid basic"});
        let res = client()
            .post(s.url("/oauth/register"))
            .json(&meta)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        s.app()
            .set_setting("dynamic_registration", "true")
            .await
            .unwrap();
        let res = client()
            .post(s.url("/oauth/register"))
            .json(&meta)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let c = json(res).await;
        assert!(c["client_secret"].is_string());
        let app = App {
            client_id: c["client_id"].as_str().unwrap().into(),
            secret: c["client_secret"].as_str().map(str::to_string),
        };
        let http = person(&s, "dyn").await;
        let loc = authorize(
            &s,
            &http,
            &[
                ("response_type", "code"),
                ("client_id", &app.client_id),
                ("redirect_uri", CB),
                ("scope", "openid"),
            ],
        )
        .await;
        assert!(params_of(&loc).contains_key("code"));
        // Without grant types, the response types say which (RFC 7591 §2.1); the
        // auth method asked for is the one answered.
        let res = client()
            .post(s.url("/oauth/register"))
            .json(&json!({"redirect_uris": [CB], "response_types": ["code id_token"], "token_endpoint_auth_method": "client_secret_post"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let c = json(res).await;
        assert_eq!(
            c["grant_types"],
            json!(["authorization_code", "implicit", "refresh_token"])
        );
        assert_eq!(c["token_endpoint_auth_method"], "client_secret_post");
        for (bad, error) in [
            (
                json!({"redirect_uris": ["javascript:alert(1)"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": ["https://a.example.com/cb#x"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": [CB], "scope": "root"}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": [CB], "scope": "x".repeat(100_000)}),
                "invalid_client_metadata",
            ),
        ] {
            let res = client()
                .post(s.url("/oauth/register"))
                .json(&bad)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{bad}");
            let answer = json(res).await;
            assert_eq!(answer["error"], error);
            // What was sent is repeated only so far.
            let said = answer["error_description"].as_str().unwrap();
            assert!(said.chars().count() <= 501, "{}", said.len());
        }
        assert_eq!(
            discovery(&s).await["registration_endpoint"],
            format!("{}/oauth/register", s.base)
        );
        s.stop().await;
    }
);

#[tokio::test]
async fn es256_and_eddsa_id_tokens_per_client() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.app()
        .set_setting("allow_password_grant", "true")
        .await
        .unwrap();
    let lena = s.register("lena", "lena@example.com", PW).await;
    for (alg, expected) in [
        ("ES256", jsonwebtoken::Algorithm::ES256),
        ("EdDSA", jsonwebtoken::Algorithm::EdDSA),
    ] {
        let app = make_client(&s, &["password"], &["openid"], false, |c| {
            c.id_token_alg = Some(alg.into())
        })
        .await;
        let t = json(
            token(
                &s,
                &app,
                &[
                    ("grant_type", "password"),
                    ("username", "lena"),
                    ("password", PW),
                    ("scope", "openid"),
                ],
            )
            .await,
        )
        .await;
        let (h, c) = verify_with_jwks(&s, t["id_token"].as_str().unwrap(), &app.client_id).await;
        assert_eq!(h.alg, expected);
        assert_eq!(c["sub"], json!(lena.to_string()));
    }
    s.stop().await;
}

on_both!(expired_rows_are_purged, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    token(&s, &app, &[("grant_type", "client_credentials")]).await;
    let kept = json(token(&s, &app, &[("grant_type", "client_credentials")]).await).await;
    let kept = kept["access_token"].as_str().unwrap();
    let pool = s.app().db.pool();
    sqlx::query(
        "UPDATE access_tokens SET expires_at = 1 WHERE id = (SELECT MIN(id) FROM access_tokens)",
    )
    .execute(pool)
    .await
    .unwrap();
    // Two and a half chunks of expired tokens more: the purge deletes in chunks, and
    // goes on until none is left.
    let extra = usercenter::store::PURGE_CHUNK * 5 / 2;
    sqlx::query(&format!(
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {extra}) \
         INSERT INTO access_tokens (token_hash, client_id, scope, expires_at, created_at) \
         SELECT 'expired-' || n.i, t.client_id, t.scope, 1, 1 FROM n, \
         (SELECT client_id, scope FROM access_tokens WHERE expires_at = 1) t"
    ))
    .execute(pool)
    .await
    .unwrap();
    let removed = s
        .app()
        .db
        .purge_expired(usercenter::time::now())
        .await
        .unwrap();
    assert_eq!(removed, extra + 1);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM access_tokens")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "the valid token stays");
    let res = introspect_as(&s, &app.client_id, app.secret.as_deref(), kept).await;
    assert_eq!(json(res).await["active"], true);
    s.stop().await;
});

on_both!(expired_codes_and_the_refresh_grace_period, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(
        &s,
        &["authorization_code", "refresh_token"],
        &["openid", "basic"],
        false,
        |_| {},
    )
    .await;
    let http = person(&s, "mia").await;
    let (verifier, challenge) = pkce();
    let code = code_for(&s, &http, &app, "openid", &challenge).await;
    sqlx::query("UPDATE authorization_codes SET expires_at = 1")
        .execute(s.app().db.pool())
        .await
        .unwrap();
    let res = token(
        &s,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error_code"], 8);

    // With a grace period, a rotated refresh token still works for a moment (a
    // client's concurrent retry) without killing the family.
    s.app()
        .set_setting("refresh_grace_seconds", "30")
        .await
        .unwrap();
    let code = code_for(&s, &http, &app, "openid", &challenge).await;
    let t = exchange(&s, &app, &code, &verifier).await;
    let r1 = t["refresh_token"].as_str().unwrap().to_string();
    let a = token(
        &s,
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    let b = token(
        &s,
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(
        (a.status(), b.status()),
        (reqwest::StatusCode::OK, reqwest::StatusCode::OK)
    );
    let r2 = json(b).await["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        token(
            &s,
            &app,
            &[("grant_type", "refresh_token"), ("refresh_token", &r2)]
        )
        .await
        .status(),
        200
    );
    s.stop().await;
});

#[tokio::test]
async fn hybrid_flow_carries_c_hash_in_the_fragment() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.app().set_setting("allow_implicit", "true").await.unwrap();
    let app = make_client(
        &s,
        &["authorization_code", "implicit"],
        &["openid", "basic", "email"],
        false,
        |_| {},
    )
    .await;
    let http = person(&s, "hyb").await;
    let loc = authorize(
        &s,
        &http,
        &[
            ("response_type", "code id_token"),
            ("client_id", &app.client_id),
            ("redirect_uri", CB),
            ("scope", "openid"),
            ("nonce", "abc"),
            ("state", "s"),
        ],
    )
    .await;
    assert!(loc.contains('#'), "tokens travel in the fragment: {loc}");
    let p = params_of(&loc);
    let (_, claims) = verify_with_jwks(&s, &p["id_token"], &app.client_id).await;
    assert_eq!(
        claims["c_hash"],
        URL_SAFE_NO_PAD.encode(&Sha256::digest(p["code"].as_bytes())[..16])
    );
    assert_eq!(claims["nonce"], "abc");
    assert!(
        claims.get("email").is_none(),
        "with a code, the claims come from userinfo"
    );
    // Without an access token, the ID token carries the claims the scopes allow
    // (OpenID Connect Core §5.4).
    let loc = authorize(
        &s,
        &http,
        &[
            ("response_type", "id_token"),
            ("client_id", &app.client_id),
            ("redirect_uri", CB),
            ("scope", "openid email"),
            ("nonce", "n2"),
        ],
    )
    .await;
    let (_, claims) = verify_with_jwks(&s, &params_of(&loc)["id_token"], &app.client_id).await;
    assert_eq!(claims["email"], "hyb@example.com", "{claims}");
    assert_eq!(claims["nonce"], "n2");
    assert_eq!(claims["aud"], app.client_id.as_str());
    // id_token without a nonce is refused.
    let res = http
        .get(s.url("/oauth/authorize"))
        .query(&[
            ("response_type", "id_token"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(params_of(&location(&res))["error"], "invalid_request");
    s.stop().await;
}

#[tokio::test]
async fn a_consent_token_works_only_in_its_own_session() {
    let s = TestServer::start(Backend::Sqlite).await;
    let app = make_client(&s, &["authorization_code"], &["basic"], false, |_| {}).await;
    let alice = person(&s, "cs_alice").await;
    let mallory = person(&s, "cs_mallory").await;
    let q = [
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", CB),
        ("scope", "basic"),
        ("state", "z"),
    ];
    let page = alice
        .get(s.url("/oauth/authorize"))
        .query(&q)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    let mut form: Vec<(&str, &str)> = q.to_vec();
    form.push(("decision", "approve"));
    form.push(("csrf_token", csrf.as_str()));
    let res = mallory
        .post(s.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        403,
        "another session's consent token is refused"
    );
    let res = alice
        .post(s.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(params_of(&location(&res)).contains_key("code"));
    s.stop().await;
}

/// Closes every connection the server holds to its PostgreSQL database, as a
/// restart or a failover would; the number closed.
async fn drop_connections(s: &TestServer) -> i64 {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
    let closed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    for _ in 0..100 {
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    closed
}

/// PostgreSQL only (SQLite has no connections to lose): when the database drops
/// the server's connections, requests go on, whether the first statement after it
/// reads or writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_on_after_postgres_drops_the_connections() {
    if crate::harness::postgres_url().is_none() {
        eprintln!("USERCENTER_TEST_POSTGRES_URL is not set: not run");
        return;
    }
    let server = TestServer::start(Backend::Postgres).await;
    let s = &server;
    let svc = &make_client(s, &["client_credentials"], &["basic"], false, |_| {}).await;
    let issue = || async {
        let res = token(s, svc, &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), 200);
        json(res).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let active =
        |token: String| async move { introspect(s, svc, &token).await["active"] == json!(true) };
    let first = issue().await;
    assert!(active(first.clone()).await);

    // At once: the reads find their connections broken and run again on new ones.
    assert!(drop_connections(s).await > 0);
    assert!(active(first.clone()).await);
    let res = client().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // After a pause: connections idle that long are checked before use, so a write
    // with no read before it to find the breakage is stored too.
    let client_id = client_pk(s, svc).await;
    assert!(drop_connections(s).await > 0);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let stored = usercenter::crypto::ordered_token();
    let hash = s.app().key.hash_token(&stored);
    let now = usercenter::time::now();
    let row = usercenter::store::NewAccessToken {
        token_hash: &hash,
        client_id,
        user_id: None,
        scope: "basic",
        family_id: None,
        code_hash: None,
        extra: None,
        expires_at: now + 600,
        client_generation: None,
    };
    s.app().db.create_access_token(&row, now).await.unwrap();
    assert!(active(stored).await);
    let second = issue().await;
    assert!(active(second).await);
    assert!(active(first).await);
    server.stop().await;
}

/// Gives `app` a new secret through a second store on the server's database, as
/// another process (the command line) would: that store, the client's row id, and
/// the app with its new secret.
async fn new_secret_elsewhere(s: &TestServer, app: &App) -> (usercenter::store::Db, i64, App) {
    let elsewhere = s.store_elsewhere().await;
    let pk = elsewhere
        .client_by_client_id(&app.client_id)
        .await
        .unwrap()
        .unwrap()
        .id;
    let rotated = App {
        client_id: app.client_id.clone(),
        secret: Some(usercenter::crypto::random_token(24)),
    };
    let hash = s.app().key.hash_secret(rotated.secret.as_deref().unwrap());
    elsewhere
        .set_client_secret(pk, &hash, usercenter::time::now())
        .await
        .unwrap();
    (elsewhere, pk, rotated)
}

/// The statuses of `n` client credentials requests of `app` sent at once.
async fn all_at_once(s: &TestServer, app: &App, n: usize) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let req = client()
            .post(s.url("/oauth/token"))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[("grant_type", "client_credentials")]);
        set.spawn(async move { req.send().await.unwrap().status().as_u16() });
    }
    set.join_all().await
}

/// The clients' generation (migration 5), as the database holds it.
async fn client_generation(s: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT n FROM client_generation WHERE id = 1")
        .fetch_one(s.app().db.pool())
        .await
        .unwrap()
}

// Client credentials use the client's kept row: a change made by another
// process (here a second store on the same database, as the command line's process
// is) counts on the very next request. Without the writer's check of the generation
// the old secret would still get a token from the kept row.
on_both!(
    client_credentials_see_a_client_changed_elsewhere_at_once,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        let cc = [("grant_type", "client_credentials")];
        for _ in 0..2 {
            assert_eq!(token(&s, &app, &cc).await.status(), 200);
        }
        // A new secret: the old one stops at once, the new one works at once.
        let (elsewhere, pk, rotated) = new_secret_elsewhere(&s, &app).await;
        let now = usercenter::time::now();
        let res = token(&s, &app, &cc).await;
        assert_eq!(res.status(), 401, "the old secret is refused at once");
        assert_eq!(json(res).await["error"], "invalid_client");
        // Many at once, so that the writer stores them in batches.
        assert!(
            all_at_once(&s, &rotated, 24)
                .await
                .iter()
                .all(|c| *c == 200)
        );
        assert_eq!(token(&s, &rotated, &cc).await.status(), 200);
        elsewhere
            .set_client_secret(pk, &s.app().key.hash_secret("third"), now)
            .await
            .unwrap();
        let refused = all_at_once(&s, &rotated, 24).await;
        assert!(refused.iter().all(|c| *c == 401), "{refused:?}");
        elsewhere
            .set_client_secret(
                pk,
                &s.app().key.hash_secret(rotated.secret.as_deref().unwrap()),
                now,
            )
            .await
            .unwrap();
        let issued = json(token(&s, &rotated, &cc).await).await;
        let fresh = issued["access_token"].as_str().unwrap().to_string();
        assert_eq!(introspect(&s, &rotated, &fresh).await["active"], true);

        // Disabled elsewhere, right after a token from the kept row: refused at once.
        assert_eq!(token(&s, &rotated, &cc).await.status(), 200);
        elsewhere
            .admin_set_client_disabled(pk, true, now)
            .await
            .unwrap();
        let res = token(&s, &rotated, &cc).await;
        assert_eq!(res.status(), 401, "a disabled client gets no token");
        assert_eq!(json(res).await["error"], "invalid_client");
        elsewhere
            .admin_set_client_disabled(pk, false, now)
            .await
            .unwrap();
        assert_eq!(token(&s, &rotated, &cc).await.status(), 200);

        // Another client's change also outdates the kept row: the request is served
        // from a fresh read, not refused.
        let before = client_generation(&s).await;
        make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        assert!(client_generation(&s).await > before);
        assert_eq!(token(&s, &rotated, &cc).await.status(), 200);
        s.stop().await;
    }
);

// The writer stores a token issued with a kept client row only while the clients'
// generation is the row's; every insert, update and delete of a client raises it.
on_both!(
    a_token_issued_with_an_outdated_client_row_is_not_stored,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        let db = &s.app().db;
        let client = db
            .client_by_client_id(&app.client_id)
            .await
            .unwrap()
            .unwrap();
        let kept = db.cached_client(&app.client_id).await.unwrap().unwrap();
        let generation = client_generation(&s).await;
        assert_eq!(kept.generation, generation);
        assert_eq!(*kept.client, client);
        let store = |generation: i64| {
            let token = usercenter::crypto::ordered_token();
            let hash = s.app().key.hash_token(&token);
            let now = usercenter::time::now();
            async move {
                let row = usercenter::store::NewAccessToken {
                    token_hash: &hash,
                    client_id: client.id,
                    user_id: None,
                    scope: "basic",
                    family_id: None,
                    code_hash: None,
                    extra: None,
                    expires_at: now + 600,
                    client_generation: Some(generation),
                };
                (db.create_access_token(&row, now).await, token)
            }
        };
        let (stored, current) = store(generation).await;
        assert!(stored.is_ok(), "stored while the generation holds");
        assert_eq!(introspect(&s, &app, &current).await["active"], true);

        let pk = client.id;
        let now = usercenter::time::now();
        let other = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        let after_insert = client_generation(&s).await;
        assert!(after_insert > generation, "an insert raises it");
        db.admin_set_client_disabled(pk, false, now).await.unwrap();
        let after_update = client_generation(&s).await;
        assert!(after_update > after_insert, "an update raises it");
        let other_pk = client_pk(&s, &other).await;
        sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(other_pk)
            .execute(db.pool())
            .await
            .unwrap();
        assert!(
            client_generation(&s).await > after_update,
            "a delete raises it"
        );

        let (stale, token) = store(generation).await;
        assert!(
            matches!(stale, Err(usercenter::Error::ClientChanged)),
            "{stale:?}"
        );
        assert_eq!(introspect(&s, &app, &token).await, json!({"active": false}));
        s.stop().await;
    }
);

// Only a new, independent token is issued from a kept client row: the replace
// policy revokes the client's earlier tokens before the new one is stored, and that
// must not happen for credentials the fresh row refuses.
on_both!(
    a_kept_client_row_revokes_nothing_for_a_rotated_secret,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(&s, &["client_credentials"], &["basic"], false, |c| {
            c.token_policy = Some("replace".into())
        })
        .await;
        let cc = [("grant_type", "client_credentials")];
        let first = json(token(&s, &app, &cc).await).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let (_elsewhere, _, rotated) = new_secret_elsewhere(&s, &app).await;
        let res = token(&s, &app, &cc).await;
        assert_eq!(res.status(), 401, "the old secret is refused");
        assert_eq!(
            introspect(&s, &rotated, &first).await["active"],
            true,
            "and revoked nothing"
        );
        let second = json(token(&s, &rotated, &cc).await).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(introspect(&s, &rotated, &first).await["active"], false);
        assert_eq!(introspect(&s, &rotated, &second).await["active"], true);
        s.stop().await;
    }
);

// PostgreSQL: deleting a client while a token of its is being inserted the way the
// batcher inserts it (the generation's row locked for share, then the token, whose
// foreign key locks the client's row) cannot deadlock: the deletion's trigger locks
// the generation's row before the statement touches any client row. With the
// trigger after the statement, PostgreSQL reports a deadlock here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_client_while_its_token_is_stored_does_not_deadlock() {
    if crate::harness::postgres_url().is_none() {
        eprintln!("USERCENTER_TEST_POSTGRES_URL is not set: not run");
        return;
    }
    let s = TestServer::start(Backend::Postgres).await;
    let app = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    let pool = s.app().db.pool().clone();
    let pk = client_pk(&s, &app).await;
    let mut insert = pool.begin().await.unwrap();
    sqlx::query("SELECT n FROM client_generation WHERE id = 1 FOR SHARE")
        .execute(&mut *insert)
        .await
        .unwrap();
    let deleting = pool.clone();
    let deletion = tokio::spawn(async move {
        sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(pk)
            .execute(&deleting)
            .await
            .map(|done| done.rows_affected())
    });
    // Until the deletion waits on a lock: the order of the two is then fixed.
    let mut waiting = 0i64;
    for _ in 0..100 {
        waiting = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM clients%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(waiting, 1, "the deletion waits for the insert");
    let now = usercenter::time::now();
    let inserted = sqlx::query(
        "INSERT INTO access_tokens (token_hash, client_id, scope, expires_at, created_at) \
         VALUES ($1, $2, 'basic', $3, $4)",
    )
    .bind("deadlock-test")
    .bind(pk)
    .bind(now + 600)
    .bind(now)
    .execute(&mut *insert)
    .await;
    assert!(inserted.is_ok(), "{inserted:?}");
    insert.commit().await.unwrap();
    assert_eq!(
        deletion.await.unwrap().unwrap(),
        1,
        "then the client is deleted"
    );
    s.stop().await;
}

// On PostgreSQL the token reads of requests that arrive together are asked in one
// query (docs/batched-reads.md). Under concurrent load every request must still get
// the answer of its own token, caller and user: a mix-up would show here as another
// user's name, a revoked token reported active, or a wrong secret let through.
on_both!(
    concurrent_token_reads_each_get_their_own_answer,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(
            &s,
            &["authorization_code", "client_credentials"],
            &["openid", "profile", "basic"],
            false,
            |_| {},
        )
        .await;
        let other = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        let names = ["ann", "bob", "cat", "dan"];
        let mut user_tokens = Vec::new();
        for name in names {
            let http = person(&s, name).await;
            let (verifier, challenge) = pkce();
            let code = code_for(&s, &http, &app, "openid profile", &challenge).await;
            let t = exchange(&s, &app, &code, &verifier).await;
            user_tokens.push(t["access_token"].as_str().unwrap().to_owned());
        }
        async fn client_token(s: &TestServer, a: &App) -> String {
            let res = token(s, a, &[("grant_type", "client_credentials")]).await;
            json(res).await["access_token"].as_str().unwrap().to_owned()
        }
        let app_token = client_token(&s, &app).await;
        let other_token = client_token(&s, &other).await;
        let revoked = client_token(&s, &other).await;
        let res = s
            .http
            .post(s.url("/oauth/revoke"))
            .basic_auth(&other.client_id, other.secret.as_deref())
            .form(&[("token", revoked.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);

        /// One request and what it must answer.
        #[derive(Clone)]
        enum Call {
            User(String, &'static str),
            Introspect {
                caller: (String, String),
                token: String,
                // The token's client and user when active; `None`: inactive.
                owners: Option<(String, Option<&'static str>)>,
            },
            WrongSecret(String, String),
        }
        let secret = |a: &App| (a.client_id.clone(), a.secret.clone().unwrap());
        let mut calls = Vec::new();
        for (i, name) in names.iter().enumerate() {
            calls.push(Call::User(user_tokens[i].clone(), name));
            calls.push(Call::Introspect {
                caller: secret(&other),
                token: user_tokens[i].clone(),
                owners: Some((app.client_id.clone(), Some(name))),
            });
        }
        calls.push(Call::Introspect {
            caller: secret(&other),
            token: app_token.clone(),
            owners: Some((app.client_id.clone(), None)),
        });
        calls.push(Call::Introspect {
            caller: secret(&app),
            token: other_token.clone(),
            owners: Some((other.client_id.clone(), None)),
        });
        for token in [
            revoked.clone(),
            "no-such-token-at-all-0123456789".to_owned(),
        ] {
            calls.push(Call::Introspect {
                caller: secret(&app),
                token,
                owners: None,
            });
        }
        calls.push(Call::WrongSecret(
            app.client_id.clone(),
            other_token.clone(),
        ));

        // Three rounds (a token's first read differs from later ones), each with every
        // call many times over, all at once.
        for round in 0..3 {
            let mut running = tokio::task::JoinSet::new();
            for n in 0..12 {
                for call in &calls {
                    let (call, http, base) = (call.clone(), client(), s.url(""));
                    running.spawn(async move {
                        match call {
                            Call::User(token, name) => {
                                let res = http
                                    .get(format!("{base}/api/user"))
                                    .bearer_auth(&token)
                                    .send()
                                    .await
                                    .unwrap();
                                assert_eq!(res.status(), 200);
                                let u: Value = res.json().await.unwrap();
                                assert_eq!(u["username"], name, "round {round}, copy {n}");
                            }
                            Call::Introspect {
                                caller,
                                token,
                                owners,
                            } => {
                                let res = http
                                    .post(format!("{base}/oauth/introspect"))
                                    .basic_auth(&caller.0, Some(&caller.1))
                                    .form(&[("token", token.as_str())])
                                    .send()
                                    .await
                                    .unwrap();
                                assert_eq!(res.status(), 200);
                                let a: Value = res.json().await.unwrap();
                                match owners {
                                    Some((client_id, user)) => {
                                        assert_eq!(a["active"], true, "{a}");
                                        assert_eq!(a["client_id"], client_id.as_str(), "{a}");
                                        assert_eq!(a["username"], json!(user), "{a}");
                                    }
                                    None => assert_eq!(a, json!({"active": false})),
                                }
                            }
                            Call::WrongSecret(client_id, token) => {
                                let res = http
                                    .post(format!("{base}/oauth/introspect"))
                                    .basic_auth(&client_id, Some("not-the-secret"))
                                    .form(&[("token", token.as_str())])
                                    .send()
                                    .await
                                    .unwrap();
                                assert_eq!(res.status(), 401);
                            }
                        }
                    });
                }
            }
            while let Some(done) = running.join_next().await {
                done.unwrap();
            }
        }
        s.stop().await;
    }
);

on_both!(form_posts_are_forms_within_the_size_limit, |backend| {
    let s = TestServer::start(backend).await;
    let a = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    let secret = a.secret.clone().unwrap();
    let post = |path: &str| {
        client()
            .post(s.url(path))
            .basic_auth(&a.client_id, Some(&secret))
    };
    // Not a form: refused on each endpoint, with the client's credentials read all
    // the same from the header.
    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
        let res = post(path)
            .header("Content-Type", "application/json")
            .body(r#"{"grant_type":"client_credentials","token":"x"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(json(res).await["error"], "invalid_request", "{path}");
    }
    let form = |f: &[(&str, &str)]| post("/oauth/token").form(f).send();
    // A parameter sent twice is named.
    let res = form(&[
        ("grant_type", "client_credentials"),
        ("scope", "basic"),
        ("scope", "basic"),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    let body = json(res).await;
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("scope"),
        "{body}"
    );
    // A body past the limit is refused before it is read whole; the server goes on.
    let pad = "x".repeat(3 * 1024 * 1024);
    let res = form(&[("grant_type", "client_credentials"), ("pad", pad.as_str())])
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let res = form(&[("grant_type", "client_credentials")]).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(json(res).await["access_token"].is_string());
});

// RFC 8628: a device (a public client) gets a device code and a user code, the person
// enters the user code at /device (signed in, CSRF-protected) and approves, and the
// device's polls answer authorization_pending, slow_down, then the tokens, once.
on_both!(device_authorization_grant, |backend| {
    let s = TestServer::start(backend).await;
    let device_grant = "urn:ietf:params:oauth:grant-type:device_code";
    let tv = make_client(
        &s,
        &[device_grant, "refresh_token"],
        &["openid", "profile", "basic"],
        true,
        |_| {},
    )
    .await;
    let start = async || {
        let res = client()
            .post(s.url("/oauth/device_authorization"))
            .form(&[
                ("client_id", tv.client_id.as_str()),
                ("scope", "openid profile"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        json(res).await
    };
    let poll = async |device_code: &str| {
        let res = client()
            .post(s.url("/oauth/token"))
            .form(&[
                ("grant_type", device_grant),
                ("device_code", device_code),
                ("client_id", tv.client_id.as_str()),
            ])
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), json(res).await)
    };
    let started = start().await;
    let user_code = started["user_code"].as_str().unwrap().to_string();
    let device_code = started["device_code"].as_str().unwrap().to_string();
    assert_eq!(user_code.len(), 9);
    assert_eq!(started["verification_uri"], format!("{}/device", s.base));
    assert_eq!(
        started["verification_uri_complete"],
        format!("{}/device?user_code={user_code}", s.base)
    );
    assert_eq!(
        (&started["expires_in"], &started["interval"]),
        (&json!(600), &json!(5))
    );
    assert_eq!(
        discovery(&s).await["device_authorization_endpoint"],
        format!("{}/oauth/device_authorization", s.base)
    );

    let (status, body) = poll(&device_code).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("authorization_pending"))
    );
    let (_, body) = poll(&device_code).await;
    assert_eq!(
        body["error"], "slow_down",
        "polled sooner than the interval"
    );

    // Signed out, /device sends the person to the login page and back.
    let res = client()
        .get(s.url(&format!("/device?user_code={user_code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/login?return_to=%2Fdevice%3Fuser_code%3D"));

    let http = person(&s, "tv_owner").await;
    let entered = async |typed: &str| {
        let res = http
            .get(s.url("/device"))
            .query(&[("user_code", typed)])
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    let (status, page) = entered("BBBB-BBBB").await;
    assert_eq!(status, 400);
    assert!(page.contains("unknown or has expired"), "{page}");
    let typed = user_code.replace('-', " ").to_lowercase();
    let (status, page) = entered(&typed).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Canteen App") && page.contains(&user_code),
        "{page}"
    );
    let csrf = hidden(&page, "csrf_token");
    let decide = async |code: &str, decision: &str, csrf: &str| {
        http.post(s.url("/device"))
            .form(&[
                ("csrf_token", csrf),
                ("user_code", code),
                ("decision", decision),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    // The device waits its interval between polls (here, the last poll forgotten).
    let wait_interval = async || {
        sqlx::query("UPDATE device_codes SET polled_at = NULL")
            .execute(s.app().db.pool())
            .await
            .unwrap();
    };
    assert_eq!(decide(&user_code, "approve", "forged").await, 403);
    wait_interval().await;
    assert_eq!(
        poll(&device_code).await.1["error"],
        "authorization_pending",
        "a forged form approves nothing"
    );
    wait_interval().await;
    assert_eq!(decide(&user_code, "approve", &csrf).await, 200);
    let (status, tokens) = poll(&device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
    assert!(tokens["id_token"].is_string());
    assert_eq!(tokens["scope"], "openid profile basic");
    let (status, body) = poll(&device_code).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "once"
    );

    // Denied, and expired.
    let denied = start().await;
    let code = denied["user_code"].as_str().unwrap();
    assert_eq!(decide(code, "deny", &csrf).await, 200);
    assert_eq!(
        poll(denied["device_code"].as_str().unwrap()).await.1["error"],
        "access_denied"
    );
    let late = start().await;
    let now = usercenter::time::now();
    sqlx::query("UPDATE device_codes SET expires_at = $1 WHERE state = 'pending'")
        .bind(now - 60)
        .execute(s.app().db.pool())
        .await
        .unwrap();
    assert_eq!(
        poll(late["device_code"].as_str().unwrap()).await.1["error"],
        "expired_token"
    );
    // The background purge keeps an expired device code a day, so a device still
    // polling keeps hearing that it expired.
    s.app().db.purge_expired(now).await.unwrap();
    assert_eq!(
        poll(late["device_code"].as_str().unwrap()).await.1["error"],
        "expired_token"
    );
    let (status, page) = entered(late["user_code"].as_str().unwrap()).await;
    assert!(status == 400 && page.contains("unknown or has expired"));
    // Codes are tried 20 a minute per person, whether entered or answered.
    let mut last = 0;
    for _ in 0..25 {
        let res = http
            .post(s.url("/device"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("user_code", "BBBB-BBBB"),
                ("decision", "deny"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        if res.text().await.unwrap().contains("try again in") {
            break;
        }
        last += 1;
    }
    assert!(last < 20, "throttled after {last} more answers");
    s.stop().await;
});

// A person approves two requests of one app at once (two tabs, each asking for
// another scope): the remembered consent holds both, so a request for both together
// is answered without the consent page. Rounds, since the two must overlap.
on_both!(consents_given_at_once_in_two_tabs_both_count, |backend| {
    let s = TestServer::start(backend).await;
    let http = person(&s, "tabs").await;
    for round in 0..8 {
        let app = make_client(
            &s,
            &["authorization_code"],
            &["openid", "email", "phone"],
            false,
            |_| {},
        )
        .await;
        let (_, challenge) = pkce();
        let query = |scope: &'static str, state: &'static str| {
            vec![
                ("response_type", "code".to_string()),
                ("client_id", app.client_id.clone()),
                ("redirect_uri", CB.to_string()),
                ("scope", scope.to_string()),
                ("state", state.to_string()),
                ("code_challenge", challenge.clone()),
                ("code_challenge_method", "S256".to_string()),
            ]
        };
        let mut approvals = Vec::new();
        for (scope, state) in [("openid email", "a"), ("openid phone", "b")] {
            let page = http
                .get(s.url("/oauth/authorize"))
                .query(&query(scope, state))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 200, "round {round}: the consent page");
            let html = page.text().await.unwrap();
            let mut form = hidden_fields(&html);
            form.retain(|(k, _)| k != "scope");
            for sc in scope.split(' ') {
                form.push(("scope".into(), sc.into()));
            }
            form.push(("decision".into(), "approve".into()));
            approvals.push(form);
        }
        let post =
            |form: &Vec<(String, String)>| http.post(s.url("/oauth/authorize")).form(form).send();
        let (a, b) = tokio::join!(post(&approvals[0]), post(&approvals[1]));
        for res in [a.unwrap(), b.unwrap()] {
            assert_eq!(res.status(), 303, "round {round}");
            assert!(
                params_of(&location(&res)).contains_key("code"),
                "round {round}"
            );
        }
        let res = http
            .get(s.url("/oauth/authorize"))
            .query(&query("openid email phone", "c"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "round {round}: asked again");
        assert!(
            params_of(&location(&res)).contains_key("code"),
            "round {round}"
        );
    }
    s.stop().await;
});

// A token served again from a fresh client row (the kept row changed before the
// token was stored) counts once against the client's daily quota.
on_both!(
    a_token_served_again_after_a_client_changed_counts_once_against_the_quota,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(&s, &["client_credentials"], &["basic"], false, |c| {
            c.daily_quota = Some(3);
        })
        .await;
        let cc = [("grant_type", "client_credentials")];
        assert_eq!(token(&s, &app, &cc).await.status(), 200, "the row is kept");
        let before = client_generation(&s).await;
        make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        assert!(
            client_generation(&s).await > before,
            "the kept row is outdated"
        );
        assert_eq!(token(&s, &app, &cc).await.status(), 200, "served again");
        let counted: i64 = sqlx::query_scalar("SELECT issued FROM client_daily_tokens")
            .fetch_one(s.app().db.pool())
            .await
            .unwrap();
        assert_eq!(counted, 2);
        assert_eq!(
            token(&s, &app, &cc).await.status(),
            200,
            "the third of three"
        );
        assert_eq!(token(&s, &app, &cc).await.status(), 429, "the fourth");
        s.stop().await;
    }
);

// The authorization endpoint's answer is stored first and checked after: for an
// account whose password changed (a reset) since its session was read, the code and
// the implicit token just stored are spent again and the app is told
// `access_denied`, so nothing of the old session outlives the reset.
on_both!(
    an_answer_for_an_account_that_changed_meanwhile_leaves_nothing_live,
    |backend| {
        let s = TestServer::start(backend).await;
        s.app().set_setting("allow_implicit", "true").await.unwrap();
        let app = make_client(
            &s,
            &["authorization_code", "implicit"],
            &["openid", "basic"],
            false,
            |_| {},
        )
        .await;
        let id = s.register("vera", "vera@example.com", PW).await;
        let before = s.app().db.user_by_id(id).await.unwrap().unwrap();
        let settings = s.app().settings().await.unwrap();
        let params: std::collections::HashMap<String, String> = [
            ("response_type", "code token"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "openid basic"),
            ("state", "st"),
            ("nonce", "n"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let Ok(req) = s.app().check_authorize(&params, &settings).await else {
            panic!("the request is refused");
        };
        let live = async || -> (i64, i64) {
            let now = usercenter::time::now();
            let db = s.app().db.pool();
            let codes = sqlx::query_scalar(
                "SELECT COUNT(*) FROM authorization_codes WHERE expires_at > $1",
            )
            .bind(now)
            .fetch_one(db)
            .await
            .unwrap();
            let tokens = sqlx::query_scalar(
                "SELECT COUNT(*) FROM access_tokens WHERE revoked_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .fetch_one(db)
            .await
            .unwrap();
            (codes, tokens)
        };
        // The account as the session read it answers while nothing changed.
        let now = usercenter::time::now();
        let to = s
            .app()
            .authorize_response(&req, &before, now, &settings)
            .await
            .unwrap();
        assert!(params_of(&to).contains_key("code"), "{to}");
        assert_eq!(live().await, (1, 1));
        sqlx::query("DELETE FROM authorization_codes")
            .execute(s.app().db.pool())
            .await
            .unwrap();
        sqlx::query("DELETE FROM access_tokens")
            .execute(s.app().db.pool())
            .await
            .unwrap();
        // A new password, as a reset sets it, after the session was read.
        s.app()
            .db
            .set_password_hash(id, "another password's hash", now)
            .await
            .unwrap();
        let refused = s
            .app()
            .authorize_response(&req, &before, now, &settings)
            .await;
        assert!(
            matches!(refused, Err(usercenter::error::Error::AccessDenied(_))),
            "{refused:?}"
        );
        assert_eq!(live().await, (0, 0), "nothing stored stays live");
        // Nor is an ID token alone signed for the account as it was.
        let mut alone = params.clone();
        alone.insert("response_type".into(), "id_token".into());
        let Ok(req) = s.app().check_authorize(&alone, &settings).await else {
            panic!("the request is refused");
        };
        let refused = s
            .app()
            .authorize_response(&req, &before, now, &settings)
            .await;
        assert!(
            matches!(refused, Err(usercenter::error::Error::AccessDenied(_))),
            "{refused:?}"
        );
        s.stop().await;
    }
);
