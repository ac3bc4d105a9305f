//! Issue 5: the JSON API of seed 000 (my apps, my authorizations, my tokens, user and
//! group details) and the resource API of seed 002 (`/api/user`).

use crate::harness::{Backend, TestServer, client};
use crate::oauth::{
    App, authorize, client_pk, introspect_with, make_client, params_of, pkce, token,
};
use crate::on_both;
use serde_json::{Value, json};

const PW: &str = "correct horse battery";
const CB: &str = "https://app.example.com/cb";

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

on_both!(my_apps_crud_and_nobody_elses, |backend| {
    let s = TestServer::start(backend).await;
    s.register("owner", "owner@example.com", PW).await;
    s.register("other", "other@example.com", PW).await;
    let (http, csrf) = s.login("owner", PW).await;
    let (stranger, stranger_csrf) = s.login("other", PW).await;

    let body = json!({"name": "Library", "redirect_uris": [CB, "https://app.example.com/cb2"], "grant_types": ["authorization_code", "client_credentials"], "scopes": ["basic", "openid", "develop"]});
    let res = http
        .post(s.url("/api/apps/"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "CSRF header missing");
    let res = http
        .post(s.url("/api/apps/"))
        .header("X-CSRF-Token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created = json_of(res).await;
    let pk = created["id"].as_i64().unwrap();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert_eq!(
        created["requested_scopes"],
        json!(["develop"]),
        "develop waits for an admin"
    );
    assert_eq!(created["approved_scopes"], json!([]));
    let app = App {
        client_id: created["client_id"].as_str().unwrap().into(),
        secret: Some(secret.clone()),
    };

    let list = json_of(http.get(s.url("/api/apps/")).send().await.unwrap()).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        list[0].get("client_secret").is_none(),
        "the secret is shown once"
    );
    assert!(!list.to_string().contains(&secret));
    let res = token(
        &s,
        &app,
        &[("grant_type", "client_credentials"), ("scope", "develop")],
    )
    .await;
    assert_eq!(res.status(), 400, "not approved yet");

    let res = http
        .put(s.url(&format!("/api/apps/{pk}/")))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"name": "Library 2", "redirect_uris": ["javascript:alert(1)"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = http.put(s.url(&format!("/api/apps/{pk}/"))).header("X-CSRF-Token", &csrf).json(&json!({"name": "Library 2", "redirect_uris": [CB], "grant_types": ["authorization_code", "client_credentials"], "scopes": ["basic"]})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["name"], "Library 2");

    // Another user's pk is 404 for every method, and changes nothing.
    for (method, path) in [
        ("GET", format!("/api/apps/{pk}/")),
        ("PUT", format!("/api/apps/{pk}/")),
        ("DELETE", format!("/api/apps/{pk}/")),
        ("POST", format!("/api/apps/{pk}/reset-secret/")),
    ] {
        let req = stranger
            .request(method.parse().unwrap(), s.url(&path))
            .header("X-CSRF-Token", &stranger_csrf);
        let req = if method == "PUT" {
            req.json(&json!({"name": "x", "redirect_uris": [CB]}))
        } else {
            req
        };
        assert_eq!(req.send().await.unwrap().status(), 404, "{method} {path}");
    }
    assert!(
        json_of(stranger.get(s.url("/api/apps/")).send().await.unwrap())
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    // format=html renders the same data as a page.
    let page = http
        .get(s.url(&format!("/api/apps/{pk}/?format=html")))
        .send()
        .await
        .unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("Library 2"));

    // A new secret: the old one stops working.
    let t = json_of(token(&s, &app, &[("grant_type", "client_credentials")]).await).await;
    let res = http
        .post(s.url(&format!("/api/apps/{pk}/reset-secret/")))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    let new_secret = json_of(res).await["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        token(&s, &app, &[("grant_type", "client_credentials")])
            .await
            .status(),
        401
    );
    let renewed = App {
        client_id: app.client_id.clone(),
        secret: Some(new_secret),
    };
    assert_eq!(
        token(&s, &renewed, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );

    // Deleting the app stops its tokens at once.
    let watcher = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    assert_eq!(
        introspect_with(&s, &watcher, t["access_token"].as_str().unwrap()).await["active"],
        true
    );
    let res = http
        .delete(s.url(&format!("/api/apps/{pk}/")))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        introspect_with(&s, &watcher, t["access_token"].as_str().unwrap()).await["active"],
        false
    );
    s.stop().await;
});

/// `name` authorizes `app` for `scope` through the code flow and returns the tokens.
async fn authorized(s: &TestServer, http: &reqwest::Client, app: &App, scope: &str) -> Value {
    let (verifier, challenge) = pkce();
    let loc = authorize(
        s,
        http,
        &[
            ("response_type", "code"),
            ("client_id", &app.client_id),
            ("redirect_uri", CB),
            ("scope", scope),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let code = params_of(&loc)["code"].clone();
    json_of(
        token(
            s,
            app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CB),
                ("code_verifier", &verifier),
            ],
        )
        .await,
    )
    .await
}

on_both!(my_authorizations_and_tokens, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(
        &s,
        &["authorization_code", "refresh_token"],
        &["openid", "email", "profile", "basic"],
        false,
        |_| {},
    )
    .await;
    let watcher = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    s.register("reader", "reader@example.com", PW).await;
    s.register("nosy", "nosy@example.com", PW).await;
    let (http, csrf) = s.login("reader", PW).await;
    let (nosy, nosy_csrf) = s.login("nosy", PW).await;
    let wide = authorized(&s, &http, &app, "openid email profile").await;
    let pk = client_pk(&s, &app).await;

    let list = json_of(
        http.get(s.url("/api/authorizations/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list[0]["app"]["id"], pk);
    let kinds: Vec<&str> = list[0]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["refresh_token", "access_token"],
        "both, newest first"
    );
    assert!(
        !list
            .to_string()
            .contains(wide["access_token"].as_str().unwrap()),
        "never the token itself"
    );
    let tokens = json_of(http.get(s.url("/api/tokens/")).send().await.unwrap()).await;
    assert_eq!(tokens[0]["app"]["id"], pk);
    assert_eq!(
        tokens[0]["app"]["pk"], pk,
        "seed 000 names an app by its pk"
    );
    assert!(tokens[0]["expires_at"].as_i64().unwrap() > tokens[0]["created_at"].as_i64().unwrap());
    assert_eq!(
        nosy.get(s.url(&format!("/api/authorizations/{pk}/")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        nosy.delete(s.url(&format!("/api/authorizations/{pk}/")))
            .header("X-CSRF-Token", &nosy_csrf)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Narrowing the grant stops the tokens that carry more.
    let res = http
        .put(s.url(&format!("/api/authorizations/{pk}/")))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"scope": "openid email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["scope"], "openid email");
    assert_eq!(
        introspect_with(&s, &watcher, wide["access_token"].as_str().unwrap()).await["active"],
        false
    );
    let res = http
        .put(s.url(&format!("/api/authorizations/{pk}/")))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"scope": "openid email phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "widening is not done here");

    // Delete one token, then revoke the app.
    let narrow = authorized(&s, &http, &app, "openid email").await;
    let second = authorized(&s, &http, &app, "openid").await;
    let tokens = json_of(http.get(s.url("/api/tokens/")).send().await.unwrap()).await;
    let newest = |tokens: &Value, kind: &str| {
        tokens
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == kind)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let id = newest(&tokens, "access_token");
    assert_eq!(
        nosy.delete(s.url(&format!("/api/authorizations/{pk}/tokens/{id}/")))
            .header("X-CSRF-Token", &nosy_csrf)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let res = http
        .delete(s.url(&format!("/api/authorizations/{pk}/tokens/{id}/")))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        introspect_with(&s, &watcher, second["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        introspect_with(&s, &watcher, narrow["access_token"].as_str().unwrap()).await["active"],
        true
    );
    // A refresh token is listed beside the access tokens (it can mint more once they
    // expire) and deleted by its kind, with its family.
    let tokens = json_of(http.get(s.url("/api/tokens/")).send().await.unwrap()).await;
    assert_eq!(
        tokens.as_array().unwrap().len(),
        2,
        "narrow's two: {tokens}"
    );
    // One number never names two tokens: a refresh token's id is negative.
    let rid = newest(&tokens, "refresh_token");
    assert!(rid < 0 && newest(&tokens, "access_token") > 0, "{tokens}");
    let res = http
        .delete(s.url(&format!("/api/authorizations/{pk}/tokens/{rid}/")))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        introspect_with(&s, &watcher, narrow["access_token"].as_str().unwrap()).await["active"],
        false,
        "the family ends with its refresh token"
    );
    let res = token(
        &s,
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", narrow["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let res = http
        .delete(s.url(&format!("/api/authorizations/{pk}/")))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        introspect_with(&s, &watcher, narrow["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert!(
        json_of(
            http.get(s.url("/api/authorizations/"))
                .send()
                .await
                .unwrap()
        )
        .await
        .as_array()
        .unwrap()
        .is_empty()
    );
    s.stop().await;
});

// Grants that skip the consent page (here the password grant) still show as an
// authorization the person can see, narrow and revoke, also once only refresh tokens
// are left; seed 000's user details accept the app's id as `pk`.
on_both!(
    apps_with_tokens_but_no_consent_are_authorizations,
    |backend| {
        let s = TestServer::start(backend).await;
        s.app()
            .set_setting("allow_password_grant", "true")
            .await
            .unwrap();
        let password_app = || {
            make_client(
                &s,
                &["password", "refresh_token"],
                &["basic", "email"],
                false,
                |_| {},
            )
        };
        let (app, other) = (password_app().await, password_app().await);
        let stranger = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
        let me = s.register("trusting", "trusting@example.com", PW).await;
        let (http, csrf) = s.login("trusting", PW).await;
        let (pk, other_pk) = (client_pk(&s, &app).await, client_pk(&s, &other).await);
        let stranger_pk = client_pk(&s, &stranger).await;
        let mut grants = Vec::new();
        for (by, scope) in [(&app, "basic"), (&app, "email"), (&other, "basic")] {
            let res = token(
                &s,
                by,
                &[
                    ("grant_type", "password"),
                    ("username", "trusting"),
                    ("password", PW),
                    ("scope", scope),
                ],
            )
            .await;
            grants.push(json_of(res).await);
        }
        let at = grants[0]["access_token"].as_str().unwrap();
        let refresh = |i: usize| grants[i]["refresh_token"].as_str().unwrap().to_string();
        let listed = || async {
            json_of(
                http.get(s.url("/api/authorizations/"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        };
        let sorted = |scope: &Value| {
            let mut v: Vec<String> = scope
                .as_str()
                .unwrap()
                .split(' ')
                .map(String::from)
                .collect();
            v.sort_unstable();
            v
        };

        let list = listed().await;
        assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
        let of_app = list
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["app"]["pk"] == pk)
            .unwrap();
        assert_eq!(sorted(&of_app["scope"]), ["basic", "email"], "the union");
        assert_eq!(
            of_app["tokens"].as_array().unwrap().len(),
            4,
            "two grants' access and refresh tokens"
        );

        // Seed 000: `pk` of user details is the app's id; the answer is the same
        // person. A token names only its own app; the session any app authorized.
        let as_token = |pk: i64| {
            client()
                .get(s.url(&format!("/api/users/{pk}/")))
                .bearer_auth(at)
                .send()
        };
        let mine = json_of(as_token(me).await.unwrap()).await;
        let by_app = as_token(pk).await.unwrap();
        assert_eq!(by_app.status(), 200);
        assert_eq!(json_of(by_app).await, mine);
        assert_eq!(
            as_token(other_pk).await.unwrap().status(),
            404,
            "another app"
        );
        for (app_pk, status) in [(other_pk, 200), (stranger_pk, 404)] {
            let res = http
                .get(s.url(&format!("/api/users/{app_pk}/")))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), status, "app {app_pk}");
        }

        // An hour on, only the refresh tokens are live: the app is still listed.
        sqlx::query("UPDATE access_tokens SET expires_at = 1 WHERE client_id = $1")
            .bind(pk)
            .execute(s.app().db.pool())
            .await
            .unwrap();
        let list = listed().await;
        let of_app = list
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["app"]["pk"] == pk)
            .unwrap();
        assert_eq!(sorted(&of_app["scope"]), ["basic", "email"]);
        let kinds: Vec<&Value> = of_app["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| &t["kind"])
            .collect();
        assert_eq!(
            kinds,
            [&json!("refresh_token"); 2],
            "the refresh tokens only"
        );

        // Narrowing stops the refresh tokens that carry more, and remembers no
        // consent the person never gave.
        let res = http
            .put(s.url(&format!("/api/authorizations/{pk}/")))
            .header("X-CSRF-Token", &csrf)
            .json(&json!({"scope": "basic"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let server = &s;
        let refreshed = |i: usize| {
            let rt = refresh(i);
            let by = if i == 2 { &other } else { &app };
            async move {
                token(
                    server,
                    by,
                    &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                )
                .await
            }
        };
        assert_eq!(
            refreshed(1).await.status(),
            400,
            "email is no longer granted"
        );
        let kept = refreshed(0).await;
        assert_eq!(kept.status(), 200);
        let kept = json_of(kept).await;
        assert!(s.app().db.consents_of(me).await.unwrap().is_empty());

        // Revoking it stops its access and refresh tokens, and only its.
        let res = http
            .delete(s.url(&format!("/api/authorizations/{pk}/")))
            .header("X-CSRF-Token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        let kept_at = kept["access_token"].as_str().unwrap();
        assert_eq!(
            introspect_with(&s, &stranger, kept_at).await["active"],
            false
        );
        let res = token(
            &s,
            &app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", kept["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(res.status(), 400);
        let list = listed().await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["app"]["pk"], other_pk);
        assert_eq!(
            refreshed(2).await.status(),
            200,
            "the other app keeps its grant"
        );
        s.stop().await;
    }
);

on_both!(resource_api_gives_what_the_scopes_allow, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(
        &s,
        &["authorization_code"],
        &["openid", "email", "profile", "phone", "basic", "develop"],
        false,
        |c| c.by_admin = true,
    )
    .await;
    s.register("res", "res@example.com", PW).await;
    let (http, csrf) = s.login("res", PW).await;
    http.patch(s.url("/api/account"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"phone": "13212345720", "id_card": "44090000000000987X", "nickname": "R"}))
        .send()
        .await
        .unwrap();
    let me = s.app().user_by_login("res").await.unwrap().unwrap();

    let email_only = authorized(&s, &http, &app, "email").await;
    let at = email_only["access_token"].as_str().unwrap();
    let res = client()
        .get(s.url("/api/user"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers().get("set-cookie").is_none(),
        "an API client with a Bearer token gets no cookie"
    );
    let u = json_of(res).await;
    assert_eq!(u["email"], "res@example.com");
    assert!(
        u["username"].is_string(),
        "basic, the default scope, is always granted"
    );
    assert!(
        u.get("id_card").is_none() && u.get("phone").is_none(),
        "{u}"
    );
    // Seed 002: the token in the query.
    let q = client()
        .get(s.url(&format!("/api/user?access_token={at}")))
        .send()
        .await
        .unwrap();
    assert_eq!(q.status(), 200);
    assert!(q.headers().get("set-cookie").is_none());

    // Groups, named with what JSON must escape, created out of order.
    let now = usercenter::time::now();
    for name in ["kitchen, \"b\"", "canteen"] {
        let g = s.app().db.create_group(name, "", now).await.unwrap();
        s.app().db.add_to_group(g.id, me.id, now).await.unwrap();
    }
    let profile = authorized(&s, &http, &app, "profile phone").await;
    let u = json_of(
        client()
            .get(s.url("/api/user"))
            .bearer_auth(profile["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(u["id_card"], "4409**********987X");
    assert_eq!(u["phone"], "132*****720");
    assert_eq!(u["groups"], json!(["canteen", "kitchen, \"b\""]));
    // Every claim the scopes allow is named, a missing value as null.
    let mut names: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "area",
            "avatar",
            "birthdate",
            "certificate_type",
            "city",
            "gender",
            "groups",
            "id",
            "id_card",
            "nickname",
            "phone",
            "phone_number",
            "phone_number_verified",
            "phone_verified",
            "picture",
            "preferred_username",
            "province",
            "real_name",
            "sub",
            "updated_at",
            "username",
            "verify_tag"
        ]
    );
    assert!(u["avatar"].is_null() && u["phone_verified"] == false, "{u}");

    // A scope that guards no user path: 403 with WWW-Authenticate.
    let dev = authorized(&s, &http, &app, "develop").await;
    let dev_token = dev["access_token"].as_str().unwrap();
    let res = client()
        .get(s.url("/api/groups/"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    assert_eq!(json_of(res).await["error_code"], 14);
    // develop guards the console API: the token lists the user's apps.
    let res = client()
        .get(s.url("/api/apps/"))
        .bearer_auth(dev_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client()
        .get(s.url("/api/apps/"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client()
        .get(s.url("/api/user"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // User details: only the authorized user.
    let res = client()
        .get(s.url(&format!("/api/users/{}/", me.id)))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Another person's id (one that is not also this app's, which the path may name).
    let pk = client_pk(&s, &app).await;
    let mut other = s.register("neighbour", "neighbour@example.com", PW).await;
    if other == pk {
        other = s.register("neighbour2", "neighbour2@example.com", PW).await;
    }
    let res = client()
        .get(s.url(&format!("/api/users/{other}/")))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(!res.text().await.unwrap().contains("neighbour"));
    s.stop().await;
});

#[tokio::test]
async fn groups_show_only_mine() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.register("gm", "gm@example.com", PW).await;
    s.register("go", "go@example.com", PW).await;
    let now = usercenter::time::now();
    let mine = s.app().db.create_group("kitchen", "", now).await.unwrap();
    let theirs = s.app().db.create_group("board", "", now).await.unwrap();
    let gm = s.app().user_by_login("gm").await.unwrap().unwrap();
    let go = s.app().user_by_login("go").await.unwrap().unwrap();
    s.app().db.add_to_group(mine.id, gm.id, now).await.unwrap();
    s.app()
        .db
        .add_to_group(theirs.id, go.id, now)
        .await
        .unwrap();
    let (http, _) = s.login("gm", PW).await;
    let list = json_of(http.get(s.url("/api/groups/")).send().await.unwrap()).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "kitchen");
    let g = json_of(
        http.get(s.url(&format!("/api/groups/{}/", mine.id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(g["members"][0]["username"], "gm");
    assert_eq!(
        http.get(s.url(&format!("/api/groups/{}/", theirs.id)))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let html = http
        .get(s.url("/api/groups/?format=html"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("kitchen"));
    s.stop().await;
}

// The resource API answers from a user kept with their groups: a change made by
// another process (a second store on the same database, as the command line's is)
// or by an operator's SQL shows on the very next request. Without the generation
// read with the token, every answer after the first would be the kept one.
on_both!(
    the_resource_api_sees_a_user_changed_elsewhere_at_once,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(
            &s,
            &["authorization_code"],
            &["openid", "profile", "basic"],
            false,
            |c| c.by_admin = true,
        )
        .await;
        s.register("kept", "kept@example.com", PW).await;
        let (http, _) = s.login("kept", PW).await;
        let me = s.app().user_by_login("kept").await.unwrap().unwrap();
        let tokens = authorized(&s, &http, &app, "openid profile").await;
        let at = tokens["access_token"].as_str().unwrap().to_owned();
        let user = || async {
            let res = client()
                .get(s.url("/api/user"))
                .bearer_auth(&at)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, json_of(res).await)
        };
        let generation = || async {
            sqlx::query_scalar::<_, i64>("SELECT n FROM user_generation WHERE id = 1")
                .fetch_one(s.app().db.pool())
                .await
                .unwrap()
        };
        for _ in 0..2 {
            let (status, u) = user().await;
            assert_eq!(status, 200);
            assert!(u["nickname"].is_null() && u["groups"] == json!([]), "{u}");
        }

        let elsewhere = s.store_elsewhere().await;
        let before = generation().await;
        sqlx::query("UPDATE users SET nickname = $1 WHERE id = $2")
            .bind("Kept")
            .bind(me.id)
            .execute(elsewhere.pool())
            .await
            .unwrap();
        assert!(
            generation().await > before,
            "a change to users raises the generation"
        );
        assert_eq!(user().await.1["nickname"], "Kept");

        let now = usercenter::time::now();
        let kitchen = elsewhere.create_group("kitchen", "", now).await.unwrap();
        assert_eq!(user().await.1["groups"], json!([]));
        elsewhere
            .add_to_group(kitchen.id, me.id, now)
            .await
            .unwrap();
        assert_eq!(user().await.1["groups"], json!(["kitchen"]));
        sqlx::query("UPDATE user_groups SET name = 'canteen' WHERE id = $1")
            .bind(kitchen.id)
            .execute(elsewhere.pool())
            .await
            .unwrap();
        assert_eq!(user().await.1["groups"], json!(["canteen"]));
        assert!(
            elsewhere
                .admin_remove_from_group(kitchen.id, me.id)
                .await
                .unwrap()
        );
        assert_eq!(user().await.1["groups"], json!([]));
        elsewhere
            .add_to_group(kitchen.id, me.id, now)
            .await
            .unwrap();
        assert_eq!(user().await.1["groups"], json!(["canteen"]));
        assert!(elsewhere.admin_delete_group(kitchen.id).await.unwrap());
        assert_eq!(user().await.1["groups"], json!([]));

        // A disabled user's tokens stop at once, here and at userinfo, and work again
        // once the user is enabled.
        elsewhere
            .admin_set_user_disabled(me.id, true, now)
            .await
            .unwrap();
        assert_eq!(user().await.0, 401);
        let info = client()
            .get(s.url("/oauth/userinfo"))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap();
        assert_eq!(info.status(), 401);
        elsewhere
            .admin_set_user_disabled(me.id, false, now)
            .await
            .unwrap();
        let (status, u) = user().await;
        assert_eq!((status, &u["nickname"]), (200, &json!("Kept")), "{u}");
        s.stop().await;
    }
);

on_both!(console_pages_run_an_app_end_to_end, |backend| {
    use crate::harness::hidden;
    let s = TestServer::start(backend).await;
    s.register("dev", "dev@example.com", PW).await;
    let (http, _) = s.login("dev", PW).await;
    let page = http
        .get(s.url("/account/apps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("name", "Canteen"),
        (
            "redirect_uris",
            "https://canteen.example.com/cb https://canteen.example.com/cb2",
        ),
        ("scopes", "openid"),
        ("scopes", "basic"),
        ("scopes", "root"),
        ("grant_types", "authorization_code"),
        ("grant_types", "client_credentials"),
        ("token_format", "opaque"),
        ("token_policy", "independent"),
    ];
    let res = http
        .post(s.url("/account/apps"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"client-secret\""),
        "the secret is shown once"
    );
    let mine = s.app().user_by_login("dev").await.unwrap().unwrap();
    let apps = s.app().db.clients_owned_by(mine.id).await.unwrap();
    assert_eq!(apps.len(), 1);
    let app = &apps[0];
    assert_eq!(app.redirect_uris.len(), 2);
    assert_eq!(
        app.requested_scopes,
        vec!["root".to_string()],
        "root is a request for an admin"
    );
    let list = http
        .get(s.url("/account/apps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("Canteen") && !list.contains("id=\"client-secret\""));

    // Without CSRF nothing happens.
    let res = http
        .post(s.url(&format!("/account/apps/{}/delete", app.id)))
        .form(&[("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A bad redirect URI is refused with the form kept.
    let bad = [
        ("csrf_token", csrf.as_str()),
        ("name", "Canteen 2"),
        ("redirect_uris", "javascript:alert(1)"),
        ("grant_types", "authorization_code"),
    ];
    let res = http
        .post(s.url(&format!("/account/apps/{}", app.id)))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("javascript"));
    let good = [
        ("csrf_token", csrf.as_str()),
        ("name", "Canteen 2"),
        ("redirect_uris", "https://canteen.example.com/cb"),
        ("grant_types", "authorization_code"),
        ("scopes", "basic"),
    ];
    let res = http
        .post(s.url(&format!("/account/apps/{}", app.id)))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        s.app().db.client_by_id(app.id).await.unwrap().unwrap().name,
        "Canteen 2"
    );
    let res = http
        .post(s.url(&format!("/account/apps/{}/reset-secret", app.id)))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("id=\"client-secret\""));

    // Someone else cannot see or touch it.
    s.register("eve", "eve@example.com", PW).await;
    let (eve, _) = s.login("eve", PW).await;
    assert_eq!(
        eve.get(s.url(&format!("/account/apps/{}", app.id)))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let res = http
        .post(s.url(&format!("/account/apps/{}/delete", app.id)))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(s.app().db.client_by_id(app.id).await.unwrap().is_none());
    let page = http
        .get(s.url("/account/authorizations"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("no-authorizations"));
    s.stop().await;
});

#[tokio::test]
async fn authorizations_page_revokes() {
    use crate::harness::hidden;
    let s = TestServer::start(Backend::Sqlite).await;
    let app = make_client(
        &s,
        &["authorization_code"],
        &["openid", "email", "basic"],
        false,
        |_| {},
    )
    .await;
    let watcher = make_client(&s, &["client_credentials"], &["basic"], false, |_| {}).await;
    s.register("pam", "pam@example.com", PW).await;
    let (http, _) = s.login("pam", PW).await;
    let t = authorized(&s, &http, &app, "openid email").await;
    let page = http
        .get(s.url("/account/authorizations"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Canteen App"));
    let csrf = hidden(&page, "csrf_token");
    let pk = client_pk(&s, &app).await;
    let res = http
        .post(s.url(&format!("/account/authorizations/{pk}/revoke")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        introspect_with(&s, &watcher, t["access_token"].as_str().unwrap()).await["active"],
        false
    );
    s.stop().await;
}

#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let s = TestServer::start(Backend::Sqlite).await;
    let doc = json_of(
        client()
            .get(s.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/session",
        "/api/auth/logout",
        "/api/auth/password/forgot",
        "/api/auth/password/reset",
        "/api/account",
        "/api/user",
        "/api/apps/",
        "/api/apps/{pk}/",
        "/api/apps/{pk}/reset-secret/",
        "/api/authorizations/",
        "/api/authorizations/{pk}/",
        "/api/authorizations/{pk}/tokens/{id}/",
        "/api/tokens/",
        "/api/users/me/",
        "/api/users/{pk}/",
        "/api/groups/",
        "/api/groups/{pk}/",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
    // Every documented operation is a real route: it answers with our own error shape
    // (here 400/401, no session), never the router's bare 404 or 405.
    let mut checked = 0;
    for (path, item) in paths {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
        {
            let url = s.url(&path.replace("{pk}", "1").replace("{id}", "1"));
            let res = client()
                .request(method.to_uppercase().parse().unwrap(), &url)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            assert!(status != 405, "{method} {path} is not routed");
            assert!(
                status != 404 || body.contains("error"),
                "{method} {path} is not routed"
            );
            checked += 1;
        }
    }
    assert!(checked >= 24, "{checked}");
    s.stop().await;
}

// An admin approving `develop` while the owner saves the app: each change is made to
// what the other left, so neither undoes the other (the owner's new scope stays; the
// approval holds and is no longer a request). Rounds, since the two must overlap.
on_both!(
    an_approval_and_the_owners_edit_at_once_both_hold,
    |backend| {
        let s = TestServer::start(backend).await;
        let owner_id = s.register("owner", "owner@example.com", PW).await;
        let owner = s.app().db.user_by_id(owner_id).await.unwrap().unwrap();
        let form = |scopes: &[&str]| usercenter::service::CreateClient {
            name: "Library".into(),
            redirect_uris: vec![CB.into()],
            grant_types: vec!["authorization_code".into()],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            owner_id: Some(owner_id),
            ..Default::default()
        };
        for round in 0..12 {
            let created = s
                .app()
                .create_client(form(&["openid", "develop"]))
                .await
                .unwrap();
            let pk = created.client.id;
            assert_eq!(
                created.client.requested_scopes,
                ["develop"],
                "round {round}"
            );
            let (approved, edited) = tokio::join!(
                s.app().approve_scope(&created.client, "develop"),
                s.app()
                    .update_app(&owner, pk, form(&["openid", "develop", "email"]))
            );
            approved.unwrap();
            edited.unwrap();
            let now = s.app().db.client_by_id(pk).await.unwrap().unwrap();
            assert_eq!(now.scopes, ["openid", "develop", "email"], "round {round}");
            assert_eq!(now.approved_scopes, ["develop"], "round {round}");
            assert!(now.requested_scopes.is_empty(), "round {round}: {now:?}");
        }
        s.stop().await;
    }
);

// A remembered consent changes from what is stored: the consent page adds what was
// approved, narrowing takes out only what was unticked, so a scope another tab
// approved meanwhile stays; narrowing remembers no consent where none was given.
on_both!(
    consents_change_by_what_is_added_and_what_is_unticked,
    |backend| {
        let s = TestServer::start(backend).await;
        let app = make_client(&s, &["authorization_code"], &["openid"], false, |_| {}).await;
        let pk = client_pk(&s, &app).await;
        let id = s.register("tabs", "tabs@example.com", PW).await;
        let db = &s.app().db;
        let now = usercenter::time::now();
        let scopes = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        db.remove_from_consent(id, pk, &scopes(&["email"]), now)
            .await
            .unwrap();
        assert_eq!(db.consent(id, pk).await.unwrap(), None, "none is made");
        db.add_to_consent(id, pk, &scopes(&["openid", "email", "phone"]), now)
            .await
            .unwrap();
        // Another tab approves `profile` after this one showed the grant without it.
        db.add_to_consent(id, pk, &scopes(&["openid", "profile"]), now)
            .await
            .unwrap();
        db.remove_from_consent(id, pk, &scopes(&["phone"]), now)
            .await
            .unwrap();
        assert_eq!(
            db.consent(id, pk).await.unwrap().as_deref(),
            Some("openid email profile")
        );
        s.stop().await;
    }
);

// What an address, a query or a form cannot hold is answered in the one error shape:
// an id that does not parse names nothing (404), a value that does not parse is a
// bad request (400 `invalid_request`); with `?format=html`, as a page.
#[tokio::test]
async fn unreadable_ids_queries_and_forms_are_answered_in_the_error_shape() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.register("owner", "owner@example.com", PW).await;
    let (http, _) = s.login("owner", PW).await;
    for path in ["/api/apps/abc/", "/api/apps/99999999999999999999/"] {
        let res = http.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(json_of(res).await["error"], "not_found", "{path}");
    }
    let res = http
        .get(s.url("/api/tokens/?format=json&format=json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = json_of(res).await;
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("format")),
        "{body}"
    );
    let res = http
        .get(s.url("/api/apps/abc/?format=html"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = crate::harness::get_text(&http, &s.url("/account")).await;
    let csrf = crate::harness::hidden(&page, "csrf_token");
    let res = http
        .post(s.url("/account/profile"))
        .form(&[("csrf_token", csrf.as_str()), ("gender", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(json_of(res).await["error"], "invalid_request");
    s.stop().await;
}

// A change through the API changes the fields sent; what it leaves out stays (seed
// 000's platform): an app does not lose its grants, scopes or token format to a PUT
// that renames it.
on_both!(a_change_keeps_what_it_leaves_out, |backend| {
    let s = TestServer::start(backend).await;
    s.register("owner", "owner@example.com", PW).await;
    let (http, csrf) = s.login("owner", PW).await;
    let created = json_of(
        http.post(s.url("/api/apps/"))
            .header("X-CSRF-Token", &csrf)
            .json(&json!({
                "name": "Library",
                "description": "Books",
                "homepage": "https://app.example.com",
                "redirect_uris": [CB],
                "grant_types": ["authorization_code", "client_credentials"],
                "scopes": ["basic", "email"],
                "token_format": "jwt",
                "token_policy": "reuse"
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let pk = created["id"].as_i64().unwrap();
    let res = http
        .put(s.url(&format!("/api/apps/{pk}/")))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"name": "Library 2", "redirect_uris": [CB, "https://app.example.com/cb2"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let app = json_of(res).await;
    assert_eq!(app["name"], "Library 2");
    assert_eq!(app["redirect_uris"].as_array().unwrap().len(), 2);
    let stored = s.app().db.client_by_id(pk).await.unwrap().unwrap();
    assert_eq!(stored.description, "Books");
    assert_eq!(stored.homepage, "https://app.example.com");
    assert_eq!(
        stored.grant_types,
        ["authorization_code", "client_credentials"]
    );
    assert_eq!(stored.scopes, ["basic", "email"]);
    assert_eq!(
        (stored.token_format.as_str(), stored.token_policy.as_str()),
        ("jwt", "reuse")
    );
    // What is sent replaces what was there.
    let res = http
        .put(s.url(&format!("/api/apps/{pk}/")))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"name": "Library 2", "redirect_uris": [CB], "scopes": ["basic"], "description": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let stored = s.app().db.client_by_id(pk).await.unwrap().unwrap();
    assert_eq!((stored.scopes.len(), stored.description.as_str()), (1, ""));
    assert_eq!(stored.token_format, "jwt");
    // A scope left on the app though no longer defined does not stop a rename; it
    // goes with it.
    sqlx::query("UPDATE clients SET scopes = 'basic retired' WHERE id = $1")
        .bind(pk)
        .execute(s.app().db.pool())
        .await
        .unwrap();
    let res = http
        .put(s.url(&format!("/api/apps/{pk}/")))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"name": "Library 3", "redirect_uris": [CB]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let stored = s.app().db.client_by_id(pk).await.unwrap().unwrap();
    assert_eq!(stored.scopes, ["basic"]);
    s.stop().await;
});
