//! Issue 5: the admin console at `/admin` — settings, scopes, users, groups, apps,
//! cards, the audit log — for admins only, with CSRF on every form and every change
//! in the audit log.

use crate::harness::{Backend, TestServer, client, hidden};
use crate::on_both;
use serde_json::{Value, json};
use usercenter::service::{CreateClient, CreateUser};

const PW: &str = "correct horse battery";

/// An admin `root`, signed in: the browser and the CSRF token of its forms (read
/// from the settings page, as a browser would).
async fn admin_session(s: &TestServer) -> (reqwest::Client, String, i64) {
    let admin = s
        .app()
        .create_user(CreateUser {
            email: "root@example.com".into(),
            password: PW.into(),
            username: Some("root".into()),
            phone: None,
            is_admin: true,
        })
        .await
        .unwrap();
    let (http, _) = s.login("root", PW).await;
    let page = http.get(s.url("/admin")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = hidden(&page.text().await.unwrap(), "csrf_token");
    (http, csrf, admin.id)
}

async fn post(
    s: &TestServer,
    http: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http.post(s.url(path)).form(form).send().await.unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The audit entries of one action: `(actor, target, detail)`.
async fn audited(s: &TestServer, action: &str) -> Vec<(Option<i64>, String, String)> {
    s.app()
        .db
        .audit_entries(Some(action), None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor_user_id, e.target, e.detail))
        .collect()
}

/// The settings form as the page sends it, with `changes` applied (a boolean set
/// to "" is left out: an unticked checkbox).
fn settings_form<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form: Vec<(&str, &str)> = vec![
        ("allow_registration", "true"),
        ("exact_redirect_uri", "true"),
        ("access_token_ttl", "3600"),
        ("refresh_token_ttl", "2592000"),
        ("code_ttl", "600"),
        ("refresh_grace_seconds", "0"),
    ];
    for (k, v) in changes {
        form.retain(|(key, _)| key != k);
        if !v.is_empty() {
            form.push((k, v));
        }
    }
    form.push(("csrf_token", csrf));
    form
}

on_both!(only_admins_get_in, |backend| {
    let s = TestServer::start(backend).await;
    let anonymous = client();
    let res = anonymous.get(s.url("/admin")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login?return_to=%2Fadmin");
    let res = anonymous.get(s.url("/admin/users")).send().await.unwrap();
    assert_eq!(location(&res), "/login?return_to=%2Fadmin%2Fusers");

    s.register("lilei", "lilei@example.com", PW).await;
    let (http, csrf) = s.login("lilei", PW).await;
    for path in [
        "/admin",
        "/admin/settings",
        "/admin/scopes",
        "/admin/users",
        "/admin/groups",
        "/admin/clients",
        "/admin/cards",
        "/admin/audit",
    ] {
        let res = http.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    // A form with the user's own valid CSRF token is refused too, and changes nothing.
    let res = post(
        &s,
        &http,
        "/admin/settings",
        &settings_form(&csrf, &[("allow_registration", "")]),
    )
    .await;
    assert_eq!(res.status(), 403);
    assert!(s.app().settings().await.unwrap().allow_registration);

    // An admin gets every section, in English and in Chinese.
    let (admin, _, _) = admin_session(&s).await;
    for path in [
        "/admin/scopes",
        "/admin/users",
        "/admin/groups",
        "/admin/clients",
        "/admin/cards",
        "/admin/audit",
    ] {
        let res = admin.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains("aria-current=\"page\""), "{path}: navigation");
    }
    let zh = admin
        .get(s.url("/admin?lang=zh"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(zh.contains("管理后台") && zh.contains("访问令牌有效期"));
    s.stop().await;
});

on_both!(settings_take_effect_and_are_audited, |backend| {
    let s = TestServer::start(backend).await;
    let (http, csrf, admin_id) = admin_session(&s).await;
    let page = http
        .get(s.url("/admin/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for key in [
        "allow_registration",
        "allow_implicit",
        "allow_password_grant",
        "require_state",
        "exact_redirect_uri",
        "access_token_ttl",
        "refresh_token_ttl",
        "code_ttl",
        "refresh_grace_seconds",
        "dynamic_registration",
    ] {
        assert!(
            page.contains(&format!("name=\"{key}\"")),
            "{key} is editable"
        );
    }
    assert!(page.contains("id=\"exact-warning\" hidden"));

    // Registration off, exact redirect URI matching off.
    let res = post(
        &s,
        &http,
        "/admin/settings",
        &settings_form(
            &csrf,
            &[("allow_registration", ""), ("exact_redirect_uri", "")],
        ),
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/settings?notice=settings_saved");
    let settings = s.app().settings().await.unwrap();
    assert!(!settings.allow_registration && !settings.exact_redirect_uri);
    assert_eq!(settings.access_token_ttl, 3600, "unchanged");
    let res = client()
        .post(s.url("/api/auth/register"))
        .json(&json!({"username": "late", "email": "late@example.com", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "registration is off");
    let entries = audited(&s, "admin.setting_changed").await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.contains(&(
        Some(admin_id),
        "allow_registration".into(),
        "true → false".into()
    )));
    // The warning shows while exact matching is off.
    let page = http
        .get(s.url("/admin/settings?notice=settings_saved"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"exact-warning\">"));
    assert!(page.contains("a path under the registered one"));
    assert!(page.contains("Settings saved."));

    // A bad value: shown, and nothing of that form is stored.
    let res = post(
        &s,
        &http,
        "/admin/settings",
        &settings_form(
            &csrf,
            &[
                ("allow_registration", ""),
                ("exact_redirect_uri", ""),
                ("require_state", "true"),
                ("access_token_ttl", "5"),
            ],
        ),
    )
    .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"error\""), "{page}");
    assert!(page.contains("Access token lifetime"));
    assert!(
        page.contains("value=\"5\""),
        "the form keeps what was typed"
    );
    let settings = s.app().settings().await.unwrap();
    assert!(!settings.require_state && settings.access_token_ttl == 3600);

    // Lifetimes and switches back on.
    let res = post(
        &s,
        &http,
        "/admin/settings",
        &settings_form(
            &csrf,
            &[
                ("access_token_ttl", "7200"),
                ("allow_password_grant", "true"),
            ],
        ),
    )
    .await;
    assert_eq!(res.status(), 303);
    let settings = s.app().settings().await.unwrap();
    assert_eq!(settings.access_token_ttl, 7200);
    assert!(settings.allow_password_grant && settings.allow_registration);
    s.stop().await;
});

on_both!(scopes_are_created_edited_and_deleted, |backend| {
    let s = TestServer::start(backend).await;
    let (http, csrf, _) = admin_session(&s).await;
    let create = |name: &'static str, method: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("name", name.to_string()),
            ("path", "/api/orders".to_string()),
            ("method", method.to_string()),
            ("display_name", "Your orders".to_string()),
            (
                "description",
                "{client_name} will read the orders of {user}".to_string(),
            ),
            ("icon", "fa-list".to_string()),
        ]
    };
    let res = http
        .post(s.url("/admin/scopes"))
        .form(&create("orders.read", "get"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let scope = s
        .app()
        .db
        .scopes()
        .await
        .unwrap()
        .into_iter()
        .find(|sc| sc.name == "orders.read")
        .expect("created");
    assert_eq!(
        (scope.method.as_str(), scope.path.as_str(), scope.is_default),
        ("GET", "/api/orders", false)
    );
    let list = http
        .get(s.url("/admin/scopes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("data-scope=\"orders.read\""));
    assert!(list.contains("{client_name} will read the orders of {user}"));

    let res = http
        .post(s.url("/admin/scopes"))
        .form(&create("orders.read", "GET"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409, "exists");
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("A scope with this name exists.")
    );
    let res = http
        .post(s.url("/admin/scopes"))
        .form(&create("orders.write", "FETCH"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "bad method");

    // Edit.
    let page = http
        .get(s.url("/admin/scopes/orders.read"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let res = post(
        &s,
        &http,
        "/admin/scopes/orders.read",
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "save"),
            ("path", "/api/orders/mine"),
            ("method", "POST"),
            ("is_default", "true"),
            ("display_name", "Orders"),
            ("description", "{client_name} reads orders"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let scope = s
        .app()
        .db
        .admin_scope("orders.read")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (scope.method.as_str(), scope.path.as_str(), scope.is_default),
        ("POST", "/api/orders/mine", true)
    );

    // A built-in scope stays, with its name and texts; its guard may change.
    let before = s.app().db.admin_scope("user.read").await.unwrap().unwrap();
    let res = post(
        &s,
        &http,
        "/admin/scopes/user.read",
        &[("csrf_token", csrf.as_str()), ("action", "delete")],
    )
    .await;
    assert_eq!(res.status(), 400);
    let res = post(
        &s,
        &http,
        "/admin/scopes/user.read",
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "save"),
            ("method", "GET"),
            ("path", "/api/users/"),
            ("display_name", "renamed"),
            ("description", "rewritten"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let after = s.app().db.admin_scope("user.read").await.unwrap().unwrap();
    assert_eq!(after.path, "/api/users/");
    assert_eq!(
        (after.display_name, after.description, after.builtin),
        (before.display_name, before.description, true)
    );
    let page = http
        .get(s.url("/admin/scopes/user.read"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"scope-edit\"") && !page.contains("id=\"scope-delete\""));
    assert!(
        !page.contains("name=\"display_name\""),
        "its texts are the pages' own"
    );

    // Deleting a scope takes it off the apps registered for it.
    let app = s
        .app()
        .create_client(CreateClient {
            name: "Shop".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["basic".into(), "orders.read".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let res = post(
        &s,
        &http,
        "/admin/scopes/orders.read",
        &[("csrf_token", csrf.as_str()), ("action", "delete")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(
        s.app()
            .db
            .admin_scope("orders.read")
            .await
            .unwrap()
            .is_none()
    );
    let app = s
        .app()
        .db
        .client_by_id(app.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.scopes, vec!["basic".to_string()]);
    for (action, times) in [
        ("admin.scope_created", 1),
        ("admin.scope_updated", 2),
        ("admin.scope_deleted", 1),
    ] {
        assert_eq!(audited(&s, action).await.len(), times, "{action}");
    }
    s.stop().await;
});

// An owner saving an app with a scope while an admin deletes that scope: no app keeps
// a scope that is no longer defined. The save is written first and the deletion takes
// the scope off it, or the deletion comes first and the save is refused — also when
// the save's own check ran before the deletion. Rounds, since the two must overlap.
on_both!(
    a_scope_deleted_while_an_app_is_saved_with_it_stays_on_no_app,
    |backend| {
        let s = TestServer::start(backend).await;
        let user = |name: &str, is_admin: bool| CreateUser {
            email: format!("{name}@example.com"),
            password: PW.into(),
            username: Some(name.into()),
            phone: None,
            is_admin,
        };
        let admin = s.app().create_user(user("root", true)).await.unwrap();
        let owner = s.app().create_user(user("owner", false)).await.unwrap();
        let who = usercenter::service::Requester {
            ip: "127.0.0.1".into(),
            user_agent: "test".into(),
        };
        let by = usercenter::service::admin::Actor {
            admin: &admin,
            who: &who,
        };
        let form = |scopes: &[&str]| CreateClient {
            name: "Shop".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            owner_id: Some(owner.id),
            ..Default::default()
        };
        let define = |name: String| {
            s.app().create_scope(usercenter::store::Scope {
                name,
                path: "/api/orders".into(),
                method: "GET".into(),
                is_default: false,
                display_name: "Orders".into(),
                description: "{client_name} reads your orders".into(),
                icon: String::new(),
                builtin: false,
            })
        };
        let app = s
            .app()
            .create_client(form(&["basic"]))
            .await
            .unwrap()
            .client;
        for round in 0..16 {
            let name = format!("orders{round}");
            define(name.clone()).await.unwrap();
            let (saved, deleted) = tokio::join!(
                s.app().update_app(&owner, app.id, form(&["basic", &name])),
                s.app().admin_delete_scope(by, &name)
            );
            deleted.unwrap();
            match saved {
                Ok(_) | Err(usercenter::error::Error::InvalidScope(_)) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
            let now = s.app().db.client_by_id(app.id).await.unwrap().unwrap();
            assert_eq!(now.scopes, ["basic"], "round {round}");
        }

        // The store itself refuses a scope deleted after the save's check: on an edit and
        // on a new app. A scope the app held already does not stop an edit.
        define("orders".into()).await.unwrap();
        s.app()
            .update_app(&owner, app.id, form(&["basic", "orders"]))
            .await
            .unwrap();
        s.app().admin_delete_scope(by, "orders").await.unwrap();
        define("invoices".into()).await.unwrap();
        s.app().admin_delete_scope(by, "invoices").await.unwrap();
        let at = usercenter::time::now();
        let edited = s
            .app()
            .db
            .edit_client(app.id, at, |c| {
                c.scopes.push("invoices".into());
                Ok(())
            })
            .await;
        assert!(
            matches!(edited, Err(usercenter::error::Error::InvalidScope(_))),
            "{edited:?}"
        );
        let new = usercenter::store::NewClient {
            client_id: "shop-two".into(),
            name: "Shop two".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["basic".into(), "invoices".into()],
            token_format: "opaque".into(),
            token_policy: "independent".into(),
            id_token_alg: "RS256".into(),
            ..Default::default()
        };
        let created = s.app().db.create_client(&new, at).await;
        assert!(
            matches!(created, Err(usercenter::error::Error::InvalidScope(_))),
            "{created:?}"
        );
        assert!(
            s.app()
                .db
                .client_by_client_id("shop-two")
                .await
                .unwrap()
                .is_none()
        );
        // An app stored with a scope no longer defined (before this check existed).
        sqlx::query("UPDATE clients SET scopes = 'basic legacy' WHERE id = $1")
            .bind(app.id)
            .execute(s.app().db.pool())
            .await
            .unwrap();
        let renamed = s
            .app()
            .db
            .edit_client(app.id, at, |c| {
                c.name = "Renamed".into();
                Ok(())
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.scopes.len()),
            ("Renamed", 2)
        );
        s.stop().await;
    }
);

on_both!(disabling_a_user_ends_their_sessions, |backend| {
    let s = TestServer::start(backend).await;
    let (http, csrf, admin_id) = admin_session(&s).await;
    let lilei = s.register("lilei", "lilei@example.com", PW).await;
    let (user, _) = s.login("lilei", PW).await;
    let me = user.get(s.url("/api/auth/session")).send().await.unwrap();
    assert_eq!(me.status(), 200);

    // Search by username, e-mail, phone.
    for q in ["lile", "LILEI@EXAMPLE", "example.com"] {
        let page = http
            .get(s.url("/admin/users"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("data-user=\"lilei\""), "{q}");
    }
    let page = http
        .get(s.url("/admin/users?q=nobody_like_this"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("data-user=\"lilei\""));
    // A search longer than anything searched finds nothing; escaped, 25,001
    // underscores were a pattern SQLite refused.
    for path in ["/admin/users", "/admin/clients", "/admin/cards"] {
        let res = http
            .get(s.url(path))
            .query(&[("q", "_".repeat(25_001))])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }

    let path = format!("/admin/users/{lilei}");
    let res = post(
        &s,
        &http,
        &path,
        &[("csrf_token", csrf.as_str()), ("action", "disable")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{path}?notice=disable"));
    let me = user.get(s.url("/api/auth/session")).send().await.unwrap();
    assert_eq!(me.status(), 401, "the session has ended");
    let login = client()
        .post(s.url("/api/auth/login"))
        .json(&json!({"login": "lilei", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401, "a disabled account cannot sign in");
    let page = http
        .get(s.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"enable-user\""));

    let res = post(
        &s,
        &http,
        &path,
        &[("csrf_token", csrf.as_str()), ("action", "enable")],
    )
    .await;
    assert_eq!(res.status(), 303);
    s.login("lilei", PW).await;

    // Never yourself, never the last admin.
    let own = format!("/admin/users/{admin_id}");
    let res = post(
        &s,
        &http,
        &own,
        &[("csrf_token", csrf.as_str()), ("action", "disable")],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("You cannot disable your own account.")
    );
    let res = post(
        &s,
        &http,
        &own,
        &[("csrf_token", csrf.as_str()), ("action", "remove_admin")],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The last admin cannot lose the admin role.")
    );
    let res = post(
        &s,
        &http,
        &path,
        &[("csrf_token", csrf.as_str()), ("action", "make_admin")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(
        s.app()
            .db
            .user_by_id(lilei)
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
    let res = post(
        &s,
        &http,
        &path,
        &[("csrf_token", csrf.as_str()), ("action", "remove_admin")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(
        !s.app()
            .db
            .user_by_id(lilei)
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
    for action in [
        "admin.user_disabled",
        "admin.user_enabled",
        "admin.admin_granted",
        "admin.admin_removed",
    ] {
        assert_eq!(
            audited(&s, action).await,
            vec![(Some(admin_id), "lilei".to_string(), String::new())],
            "{action}"
        );
    }

    // Fifty users to a page.
    for i in 0..55 {
        s.app()
            .db
            .create_user(
                &usercenter::store::NewUser {
                    username: format!("bulk{i:02}"),
                    ..Default::default()
                },
                0,
            )
            .await
            .unwrap();
    }
    let first = http
        .get(s.url("/admin/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(first.matches("data-user=").count(), 50);
    assert!(first.contains("href=\"/admin/users?page=2\""));
    let second = http
        .get(s.url("/admin/users?page=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(second.matches("data-user=").count(), 7);
    s.stop().await;
});

on_both!(an_admin_sets_a_new_password, |backend| {
    let s = TestServer::start(backend).await;
    let (http, csrf, admin_id) = admin_session(&s).await;
    let lilei = s.register("lilei", "lilei@example.com", PW).await;
    let (user, _) = s.login("lilei", PW).await;
    let path = format!("/admin/users/{lilei}");

    let res = post(
        &s,
        &http,
        &path,
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "reset_password"),
            ("password", "password123"),
        ],
    )
    .await;
    assert_eq!(
        res.status(),
        400,
        "the password policy holds for admins too"
    );
    let me = user.get(s.url("/api/auth/session")).send().await.unwrap();
    assert_eq!(me.status(), 200, "nothing changed");

    let res = post(
        &s,
        &http,
        &path,
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "reset_password"),
            ("password", "a brand new secret"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let me = user.get(s.url("/api/auth/session")).send().await.unwrap();
    assert_eq!(me.status(), 401, "the user's sessions ended");
    let old = client()
        .post(s.url("/api/auth/login"))
        .json(&json!({"login": "lilei", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);
    s.login("lilei", "a brand new secret").await;
    assert_eq!(
        audited(&s, "admin.password_reset").await,
        vec![(Some(admin_id), "lilei".to_string(), String::new())]
    );
    s.stop().await;
});

on_both!(groups_and_their_members, |backend| {
    let s = TestServer::start(backend).await;
    let (http, csrf, _) = admin_session(&s).await;
    let lilei = s.register("lilei", "lilei@example.com", PW).await;
    let res = post(
        &s,
        &http,
        "/admin/groups",
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "staff"),
            ("description", "Canteen staff"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = post(
        &s,
        &http,
        "/admin/groups",
        &[("csrf_token", csrf.as_str()), ("name", "staff")],
    )
    .await;
    assert_eq!(res.status(), 409);
    let staff = s.app().db.group_by_name("staff").await.unwrap().unwrap();
    let group_path = format!("/admin/groups/{}", staff.id);

    let res = post(
        &s,
        &http,
        &group_path,
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "add_member"),
            ("user", "lilei@example.com"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = post(
        &s,
        &http,
        &group_path,
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "add_member"),
            ("user", "nobody"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let list = http
        .get(s.url("/admin/groups"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("<td class=\"nowrap members\">1</td>"),
        "{list}"
    );
    assert_eq!(
        s.app().db.group_names_of(lilei).await.unwrap(),
        vec!["staff"]
    );

    // From the user's page: out of the group and back in.
    let user_path = format!("/admin/users/{lilei}");
    let id = staff.id.to_string();
    let res = post(
        &s,
        &http,
        &user_path,
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "remove_group"),
            ("group_id", &id),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(s.app().db.group_names_of(lilei).await.unwrap().is_empty());
    let res = post(
        &s,
        &http,
        &user_path,
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "add_group"),
            ("group_id", &id),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        s.app().db.group_names_of(lilei).await.unwrap(),
        vec!["staff"]
    );

    let res = post(
        &s,
        &http,
        &group_path,
        &[("csrf_token", csrf.as_str()), ("action", "delete")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(s.app().db.group_by_name("staff").await.unwrap().is_none());
    assert!(s.app().db.group_names_of(lilei).await.unwrap().is_empty());
    assert_eq!(audited(&s, "admin.group_member_added").await.len(), 2);
    assert_eq!(audited(&s, "admin.group_deleted").await.len(), 1);
    s.stop().await;
});

async fn client_credentials(
    s: &TestServer,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> reqwest::Response {
    client()
        .post(s.url("/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
}

on_both!(approving_develop_opens_it_to_the_app, |backend| {
    let s = TestServer::start(backend).await;
    let (http, csrf, admin_id) = admin_session(&s).await;
    let owner = s.register("dev", "dev@example.com", PW).await;
    let created = s
        .app()
        .create_client(CreateClient {
            name: "Build Bot".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["basic".into(), "develop".into(), "root".into()],
            owner_id: Some(owner),
            ..Default::default()
        })
        .await
        .unwrap();
    let (client_id, secret) = (
        created.client.client_id.clone(),
        created.client_secret.clone().unwrap(),
    );
    let res = client_credentials(&s, &client_id, &secret, "develop").await;
    assert_eq!(res.status(), 400, "not approved yet");

    let page = http
        .get(s.url("/admin/clients?pending=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("data-client=\"{client_id}\"")));
    assert!(page.contains("data-approve=\"develop\"") && page.contains("data-approve=\"root\""));
    assert!(page.contains(">dev</a>"), "the owner");

    let path = format!("/admin/clients/{}", created.client.id);
    let res = post(
        &s,
        &http,
        &path,
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "approve"),
            ("scope", "develop"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = client_credentials(&s, &client_id, &secret, "develop").await;
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    assert!(token["scope"].as_str().unwrap().contains("develop"));

    // Root is refused: it leaves the app's scopes.
    let res = post(
        &s,
        &http,
        &path,
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "refuse"),
            ("scope", "root"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let app = s
        .app()
        .db
        .client_by_id(created.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.scopes, vec!["basic".to_string(), "develop".to_string()]);
    assert_eq!(app.approved_scopes, vec!["develop".to_string()]);
    let page = http
        .get(s.url("/admin/clients?pending=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains(&format!("data-client=\"{client_id}\"")),
        "nothing waits"
    );
    let res = post(
        &s,
        &http,
        &path,
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "approve"),
            ("scope", "email"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400, "only develop and root need approval");

    // A disabled app gets no token, and its tokens stop working.
    let access = token["access_token"].as_str().unwrap().to_string();
    let res = post(
        &s,
        &http,
        &path,
        &[("csrf_token", csrf.as_str()), ("action", "disable")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = client_credentials(&s, &client_id, &secret, "basic").await;
    assert_eq!(res.status(), 401);
    assert!(
        s.app()
            .active_access_token(&access)
            .await
            .unwrap()
            .is_none()
    );
    let res = post(
        &s,
        &http,
        &path,
        &[("csrf_token", csrf.as_str()), ("action", "enable")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        client_credentials(&s, &client_id, &secret, "basic")
            .await
            .status(),
        200
    );
    assert_eq!(
        audited(&s, "admin.client_scope_approved").await,
        vec![(Some(admin_id), client_id.clone(), "develop".to_string())]
    );
    assert_eq!(audited(&s, "admin.client_scope_refused").await.len(), 1);
    assert_eq!(audited(&s, "admin.client_disabled").await.len(), 1);
    s.stop().await;
});

async fn card_lost(s: &TestServer, card_no: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT lost FROM cards WHERE card_no = $1")
        .bind(card_no)
        .fetch_optional(s.app().db.pool())
        .await
        .unwrap()
}

on_both!(cards_are_bound_lost_found_and_unbound, |backend| {
    let s = TestServer::start(backend).await;
    let (http, csrf, _) = admin_session(&s).await;
    s.register("lilei", "lilei@example.com", PW).await;
    let bind = |card: &'static str, user: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("action", "bind".to_string()),
            ("card_no", card.to_string()),
            ("user", user.to_string()),
        ]
    };
    let res = http
        .post(s.url("/admin/cards"))
        .form(&bind("C-1001", "LiLei@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(card_lost(&s, "C-1001").await, Some(0));
    let page = http
        .get(s.url("/admin/cards"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-card=\"C-1001\"") && page.contains("lilei@example.com"));

    for (card, user, status) in [
        ("C-1001", "root@example.com", 409),
        ("C-1002", "nobody@example.com", 400),
        ("card/1", "lilei@example.com", 400),
    ] {
        let res = http
            .post(s.url("/admin/cards"))
            .form(&bind(card, user))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{card} {user}");
    }

    for (action, lost) in [("lost", Some(1)), ("found", Some(0)), ("lost", Some(1))] {
        let res = post(
            &s,
            &http,
            "/admin/cards",
            &[
                ("csrf_token", csrf.as_str()),
                ("action", action),
                ("card_no", "C-1001"),
            ],
        )
        .await;
        assert_eq!(res.status(), 303);
        assert_eq!(card_lost(&s, "C-1001").await, lost, "{action}");
    }
    let page = http
        .get(s.url("/admin/cards?q=lilei"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-card=\"C-1001\"") && page.contains("Mark found"));
    let res = post(
        &s,
        &http,
        "/admin/cards",
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "unbind"),
            ("card_no", "C-1001"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(card_lost(&s, "C-1001").await, None);
    let res = post(
        &s,
        &http,
        "/admin/cards",
        &[
            ("csrf_token", csrf.as_str()),
            ("action", "lost"),
            ("card_no", "C-1001"),
        ],
    )
    .await;
    assert_eq!(res.status(), 404, "no such card");
    assert_eq!(audited(&s, "admin.card_bound").await.len(), 1);
    assert_eq!(audited(&s, "admin.card_lost").await.len(), 2);
    assert_eq!(audited(&s, "admin.card_unbound").await.len(), 1);
    s.stop().await;
});

on_both!(the_audit_log_filters_by_action_and_actor, |backend| {
    let s = TestServer::start(backend).await;
    let (http, csrf, _) = admin_session(&s).await;
    s.register("lilei", "lilei@example.com", PW).await;
    s.login("lilei", PW).await;
    let res = post(
        &s,
        &http,
        "/admin/settings",
        &settings_form(&csrf, &[("code_ttl", "300")]),
    )
    .await;
    assert_eq!(res.status(), 303);

    let all = http
        .get(s.url("/admin/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(all.contains("data-action=\"admin.setting_changed\""));
    assert!(all.contains("data-action=\"login\""));
    assert!(all.contains("600 → 300"));
    // Newest first.
    let setting_at = all.find("data-action=\"admin.setting_changed\"").unwrap();
    let login_at = all.find("data-action=\"login\"").unwrap();
    assert!(setting_at < login_at);

    let only = http
        .get(s.url("/admin/audit?action=admin.setting_changed"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(only.matches("data-action=").count(), 1);
    let by_lilei = http
        .get(s.url("/admin/audit?actor=lilei"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(by_lilei.contains("data-action=\"login\""));
    assert!(!by_lilei.contains("data-action=\"admin.setting_changed\""));
    let by_root = http
        .get(s.url("/admin/audit?actor=root&action=login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        by_root.matches("data-action=").count(),
        1,
        "root logged in once"
    );
    let nobody = http
        .get(s.url("/admin/audit?actor=nobody"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(nobody.matches("data-action=").count(), 0);
    assert!(nobody.contains("No user has this username"));
    s.stop().await;
});

on_both!(
    two_admins_removing_each_other_at_once_leave_one,
    |backend| {
        let s = TestServer::start(backend).await;
        let db = &s.app().db;
        for round in 0..8 {
            sqlx::query("UPDATE users SET is_admin = 0, disabled = 1")
                .execute(db.pool())
                .await
                .unwrap();
            let mut ids = Vec::new();
            for who in ["a", "b"] {
                let user = db
                    .create_user(
                        &usercenter::store::NewUser {
                            username: format!("{who}{round}"),
                            is_admin: true,
                            ..Default::default()
                        },
                        0,
                    )
                    .await
                    .unwrap();
                ids.push(user.id);
            }
            let now = usercenter::time::now();
            // Even rounds take the role, odd ones disable.
            let (x, y) = if round % 2 == 0 {
                tokio::join!(
                    db.admin_set_user_admin(ids[0], false, now),
                    db.admin_set_user_admin(ids[1], false, now)
                )
            } else {
                tokio::join!(
                    db.admin_set_user_disabled(ids[0], true, now),
                    db.admin_set_user_disabled(ids[1], true, now)
                )
            };
            let done = [x.unwrap(), y.unwrap()];
            assert_eq!(done.iter().filter(|d| **d).count(), 1, "round {round}");
            let left: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0",
            )
            .fetch_one(db.pool())
            .await
            .unwrap();
            assert_eq!(left, 1, "round {round}");
        }
        s.stop().await;
    }
);

on_both!(forms_without_the_csrf_token_are_refused, |backend| {
    let s = TestServer::start(backend).await;
    let (http, _, _) = admin_session(&s).await;
    let lilei = s.register("lilei", "lilei@example.com", PW).await;
    let user_path = format!("/admin/users/{lilei}");
    for (path, form) in [
        ("/admin/settings", vec![("allow_registration", "false")]),
        ("/admin/scopes", vec![("name", "x.read")]),
        (user_path.as_str(), vec![("action", "disable")]),
        ("/admin/groups", vec![("name", "staff")]),
        (
            "/admin/cards",
            vec![("action", "bind"), ("card_no", "C-1"), ("user", "lilei")],
        ),
    ] {
        let res = post(&s, &http, path, &form).await;
        assert_eq!(res.status(), 403, "{path}");
        let mut wrong = form.clone();
        wrong.push(("csrf_token", "not-the-token-of-this-session"));
        let res = post(&s, &http, path, &wrong).await;
        assert_eq!(res.status(), 403, "{path}: wrong token");
    }
    assert!(
        !s.app()
            .db
            .user_by_id(lilei)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(s.app().db.group_by_name("staff").await.unwrap().is_none());
    assert!(s.app().settings().await.unwrap().allow_registration);

    // Every other form, with a token that is not this session's: refused before it
    // acts, on things that exist.
    let now = usercenter::time::now();
    let group = s.app().db.create_group("kitchen", "", now).await.unwrap();
    let root = s.app().user_by_login("root").await.unwrap().unwrap();
    let mine = s
        .app()
        .create_client(CreateClient {
            name: "Mine".into(),
            redirect_uris: vec!["https://mine.example.com/cb".into()],
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["basic".into()],
            owner_id: Some(root.id),
            by_admin: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .client;
    let pk = mine.id.to_string();
    let paths = [
        "/admin/scopes/basic".into(),
        format!("/admin/groups/{}", group.id),
        format!("/admin/clients/{pk}"),
        format!("/account/apps/{pk}"),
        format!("/account/apps/{pk}/reset-secret"),
        format!("/account/apps/{pk}/delete"),
        format!("/account/authorizations/{pk}/scope"),
        format!("/account/authorizations/{pk}/revoke"),
        format!("/account/authorizations/{pk}/tokens/1/delete"),
        "/account/apps".into(),
        "/account/profile".into(),
        "/account/password".into(),
        "/account/email".into(),
        "/account/sessions/end".into(),
        "/account/cards".into(),
        "/login".into(),
        "/register".into(),
        "/logout".into(),
        "/password/forgot".into(),
        "/password/reset".into(),
    ];
    for path in &paths {
        let form = [
            ("csrf_token", "not-the-token-of-this-session"),
            ("action", "delete"),
            ("name", "Renamed"),
            ("email", "taken.over@example.com"),
            ("current_password", PW),
            ("new_password", "a new secret 12345"),
            ("session", "others"),
            ("scope", "basic"),
        ];
        let res = post(&s, &http, path, &form).await;
        assert_eq!(res.status(), 403, "{path}");
    }
    assert_eq!(
        http.get(s.url("/account")).send().await.unwrap().status(),
        200,
        "still signed in"
    );
    let root = s.app().user_by_login("root").await.unwrap().unwrap();
    assert_eq!(root.email.as_deref(), Some("root@example.com"));
    let kept = s
        .app()
        .db
        .client_by_client_id(&mine.client_id)
        .await
        .unwrap();
    assert_eq!(kept.map(|c| c.name), Some("Mine".to_string()));
    assert!(s.app().db.group_by_name("kitchen").await.unwrap().is_some());

    // Pages for a look in a browser: USERCENTER_ADMIN_SNAPSHOTS=DIR saves them.
    if let Ok(dir) = std::env::var("USERCENTER_ADMIN_SNAPSHOTS")
        && backend == Backend::Sqlite
    {
        for (name, path) in [("admin", "/admin"), ("admin_users", "/admin/users")] {
            let html = http
                .get(s.url(path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            std::fs::write(format!("{dir}/{name}.html"), html).unwrap();
        }
    }
    s.stop().await;
});

// A card terminal its owner registered waits in /admin/clients; approved, it reads
// cards; withdrawn, it loses the grant and the card holders' tokens it holds.
on_both!(
    card_terminals_are_approved_and_withdrawn_by_an_admin,
    |backend| {
        let s = TestServer::start(backend).await;
        let (http, csrf, _) = admin_session(&s).await;
        let holder = s.register("holder", "holder@example.com", PW).await;
        s.app().db.admin_bind_card("0042", holder, 1).await.unwrap();
        let created = s
            .app()
            .create_client(CreateClient {
                name: "Canteen".into(),
                grant_types: vec!["offline_cert".into(), "client_credentials".into()],
                scopes: vec!["basic".into()],
                owner_id: Some(holder),
                ..Default::default()
            })
            .await
            .unwrap();
        let (client_id, secret) = (
            created.client.client_id.clone(),
            created.client_secret.clone().unwrap(),
        );
        let read_card = async || {
            let res = client()
                .post(s.url("/oauth/v2/token"))
                .basic_auth(&client_id, Some(&secret))
                .form(&[("grant_type", "offline_cert"), ("code", "card/0042")])
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        };
        let (status, body) = read_card().await;
        assert_eq!(
            (status, &body["error"]),
            (400, &json!("unauthorized_client"))
        );
        let pending = async || {
            http.get(s.url("/admin/clients?pending=1"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        };
        assert!(pending().await.contains("data-approve=\"offline_cert\""));

        let path = format!("/admin/clients/{}", created.client.id);
        let decide = async |action: &str| {
            post(
                &s,
                &http,
                &path,
                &[
                    ("csrf_token", csrf.as_str()),
                    ("action", action),
                    ("scope", "offline_cert"),
                ],
            )
            .await
            .status()
        };
        assert_eq!(decide("approve").await, 303);
        let (status, body) = read_card().await;
        assert_eq!(status, 200, "{body}");
        assert!(
            !pending()
                .await
                .contains(&format!("data-client=\"{client_id}\""))
        );

        assert_eq!(decide("refuse").await, 303, "withdrawn");
        let app = s
            .app()
            .db
            .client_by_id(created.client.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(app.grant_types, ["client_credentials"]);
        assert!(app.approved_scopes.is_empty() && app.requested_scopes.is_empty());
        let res = client()
            .get(s.url("/api/user"))
            .bearer_auth(body["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "the card holder's token ended");
        assert!(
            !pending()
                .await
                .contains(&format!("data-client=\"{client_id}\""))
        );
        s.stop().await;
    }
);
