//! Seeds a database for `bench/run.sh`: clients, a user with a session and consent,
//! tokens for each scenario and, with `--scale`, 1 M users and 10 M tokens written
//! with multi-row inserts (not through HTTP). Prints what the load scripts need as
//! `KEY=VALUE` lines.
//!
//! `cargo run --release --example bench_seed -- [--users N] [--tokens N] [--refresh N]`
//! with the server's configuration in the environment (`USERCENTER_DATABASE_URL`,
//! `USERCENTER_SECRET_KEY`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use usercenter::service::{App, CreateClient, CreateUser, Requester};

fn arg(name: &str, default: i64) -> i64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

async fn client(
    app: &App,
    name: &str,
    grants: &[&str],
    scopes: &[&str],
    format: &str,
    alg: &str,
) -> (String, String) {
    let c = app
        .create_client(CreateClient {
            name: name.into(),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            grant_types: grants.iter().map(|g| g.to_string()).collect(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            token_format: Some(format.into()),
            id_token_alg: Some(alg.into()),
            by_admin: true,
            ..Default::default()
        })
        .await
        .unwrap();
    (c.client.client_id, c.client_secret.unwrap())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = usercenter::Config::load(None).unwrap();
    let app = App::open(config).await.unwrap();
    let now = usercenter::time::now();
    let mut out = std::io::stdout().lock();

    let (id, secret) = client(
        &app,
        "bench opaque",
        &["client_credentials", "authorization_code", "refresh_token"],
        &["basic", "openid", "profile", "email"],
        "opaque",
        "RS256",
    )
    .await;
    writeln!(out, "CLIENT_ID={id}\nCLIENT_SECRET={secret}").unwrap();
    for (key, alg) in [("ES256", "ES256"), ("EDDSA", "EdDSA"), ("RS256", "RS256")] {
        let (id, secret) = client(
            &app,
            &format!("bench jwt {alg}"),
            &["client_credentials"],
            &["basic"],
            "jwt",
            alg,
        )
        .await;
        writeln!(out, "JWT_{key}_ID={id}\nJWT_{key}_SECRET={secret}").unwrap();
    }

    // Scale: the many users come first, so that the person the scenarios act as has
    // the highest id: a plan that walks the users index up to a token's user shows.
    let users = arg("--users", 0);
    bulk_users(&app, users, now).await;

    // A person with a session and a consent, for the authorization-code flow.
    let user = app
        .create_user(CreateUser {
            email: "bench@example.com".into(),
            password: "bench password 1".into(),
            username: Some("bench".into()),
            phone: None,
            is_admin: false,
        })
        .await
        .unwrap();
    let login = app
        .open_session(user.clone(), &Requester::default())
        .await
        .unwrap();
    let client = app.db.client_by_client_id(&id).await.unwrap().unwrap();
    app.db
        .add_to_consent(
            user.id,
            client.id,
            &["openid", "profile", "email", "basic"].map(String::from),
            now,
        )
        .await
        .unwrap();
    // People for the login scenario (h), one per connection and more: each login is
    // then the only one in flight for its account, and (h) measures hashing rather
    // than the throttle (five attempts in flight lock an account).
    const LOGIN_USERS: usize = 32;
    for i in 0..LOGIN_USERS {
        app.create_user(CreateUser {
            email: format!("bench-login-{i}@example.com"),
            password: "bench password 1".into(),
            username: Some(format!("bench-login-{i}")),
            phone: None,
            is_admin: false,
        })
        .await
        .unwrap();
    }
    writeln!(
        out,
        "SESSION={}\nUSER_LOGIN=bench-login-\nLOGIN_USERS={LOGIN_USERS}\nUSER_PASSWORD='bench password 1'",
        login.cookie
    )
    .unwrap();

    // Refresh tokens, each used once by the rotation scenario.
    let refresh = arg("--refresh", 0);
    if refresh > 0 {
        let path =
            std::env::var("BENCH_REFRESH_FILE").unwrap_or_else(|_| "refresh_tokens.txt".into());
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut rows = Vec::with_capacity(500);
        for i in 0..refresh {
            let token = usercenter::crypto::ordered_token();
            writeln!(file, "{token}").unwrap();
            rows.push((
                app.key.hash_token(&token),
                usercenter::crypto::random_token(12),
            ));
            if rows.len() == 500 || i == refresh - 1 {
                insert_refresh(&app, client.id, user.id, &rows, now).await;
                rows.clear();
            }
        }
        writeln!(out, "REFRESH_FILE={path}").unwrap();
    }

    // Scale: many tokens, spread over the users, so that lookups are measured on
    // full tables and indexes.
    let tokens = arg("--tokens", 0);
    bulk_tokens(&app, client.id, users, tokens, now).await;
    app.db.close().await;
}

async fn insert_refresh(
    app: &App,
    client_id: i64,
    user_id: i64,
    rows: &[(String, String)],
    now: i64,
) {
    let mut sql = String::from(
        "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, expires_at, created_at) VALUES ",
    );
    for (i, (hash, family)) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "('{hash}', '{family}', {client_id}, {user_id}, 'openid basic', {}, {now})",
            now + 86_400
        ));
    }
    sqlx::raw_sql(&sql).execute(app.db.pool()).await.unwrap();
}

async fn bulk_users(app: &App, n: i64, now: i64) {
    let batch = 1000;
    let mut done = 0;
    while done < n {
        let mut sql = String::from(
            "INSERT INTO users (username, email, password_hash, created_at, updated_at) VALUES ",
        );
        for i in 0..batch.min(n - done) {
            if i > 0 {
                sql.push(',');
            }
            let k = done + i;
            sql.push_str(&format!(
                "('seed{k}', 'seed{k}@example.com', NULL, {now}, {now})"
            ));
        }
        sqlx::raw_sql(&sql).execute(app.db.pool()).await.unwrap();
        done += batch.min(n - done);
    }
}

/// `n` tokens of the client, the k-th belonging to user `1 + k % users` (the bulk
/// users' ids are 1…users).
async fn bulk_tokens(app: &App, client_id: i64, users: i64, n: i64, now: i64) {
    let batch = 1000;
    let mut done = 0;
    while done < n {
        let mut sql = String::from(
            "INSERT INTO access_tokens (token_hash, client_id, user_id, scope, expires_at, created_at) VALUES ",
        );
        for i in 0..batch.min(n - done) {
            if i > 0 {
                sql.push(',');
            }
            // Keys as issued tokens have them (ordered_token), from before the run.
            let hash = app.key.hash_token(&usercenter::crypto::ordered_token());
            let user_id = 1 + (done + i) % users.max(1);
            sql.push_str(&format!(
                "('{hash}', {client_id}, {user_id}, 'basic', {}, {now})",
                now + 86_400 * 30
            ));
        }
        sqlx::raw_sql(&sql).execute(app.db.pool()).await.unwrap();
        done += batch.min(n - done);
    }
}
