//! Proof from an independent client: the `openidconnect` crate (and the `oauth2`
//! crate beneath it), which nobody here wrote, drives the server unchanged —
//! discovery, the code flow with PKCE, ID token validation against the JWKS,
//! userinfo, refresh, client credentials, introspection and revocation.

use crate::harness::{TestServer, client};
use crate::oauth::{authorize, make_client, params_of};
use crate::on_both;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RevocationUrl, Scope,
    TokenIntrospectionResponse, TokenResponse,
};

const CB: &str = "https://app.example.com/cb";

on_both!(openidconnect_crate_runs_every_flow, |backend| {
    let s = TestServer::start(backend).await;
    let app = make_client(
        &s,
        &["authorization_code", "refresh_token", "client_credentials"],
        &["openid", "email", "profile", "basic"],
        false,
        |_| {},
    )
    .await;
    s.register("olga", "olga@example.com", "correct horse battery")
        .await;
    let browser = s.login("olga", "correct horse battery").await.0;
    let http = client();

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &http)
            .await
            .unwrap();
    let oidc = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.client_id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(CB.into()).unwrap())
    .set_introspection_url(IntrospectionUrl::new(format!("{}/oauth/introspect", s.base)).unwrap())
    .set_revocation_url(RevocationUrl::new(format!("{}/oauth/revoke", s.base)).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = oidc
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let back = authorize(&s, &browser, &query).await;
    let p = params_of(&back);
    assert_eq!(&p["state"], state.secret());

    let tokens = oidc
        .exchange_code(AuthorizationCode::new(p["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&oidc.id_token_verifier(), &nonce).unwrap();
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&oidc.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    assert_eq!(claims.issuer().as_str(), s.base);

    let info: CoreUserInfoClaims = oidc
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.email().map(|e| e.as_str()), Some("olga@example.com"));
    assert_eq!(info.subject(), claims.subject());

    let refreshed = oidc
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );

    let machine = oidc
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("basic".into()))
        .request_async(&http)
        .await
        .unwrap();
    let seen = oidc
        .introspect(machine.access_token())
        .set_token_type_hint("access_token")
        .request_async(&http)
        .await
        .unwrap();
    assert!(seen.active());
    assert_eq!(
        seen.client_id().map(|c| c.as_str()),
        Some(app.client_id.as_str())
    );

    // The library sends revocations only over https (RFC 7009 §2); the test server
    // speaks plain http on loopback, so the library's refusal is checked and the same
    // form is posted by hand.
    assert!(
        oidc.revoke_token(refreshed.refresh_token().unwrap().into())
            .is_err()
    );
    let res = http
        .post(format!("{}/oauth/revoke", s.base))
        .basic_auth(&app.client_id, app.secret.as_ref())
        .form(&[
            (
                "token",
                refreshed.refresh_token().unwrap().secret().as_str(),
            ),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let after = oidc
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(
        !after.active(),
        "revoking the refresh token revoked its access token"
    );
    s.stop().await;
});
