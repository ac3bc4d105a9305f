//! The request context of pages and the JSON API: who is asking (session and user),
//! in which language, with which CSRF token, from where.
//!
//! CSRF: a logged-in person's forms carry the session's token; an anonymous
//! person's forms (login, register, forgot) carry the value of the `uc_csrf` cookie
//! (double submit). JSON calls authenticated by the session cookie send the
//! session's token in `X-CSRF-Token`.

use super::SharedState;
use super::i18n::Lang;
use crate::crypto::{constant_time_eq, random_token};
use crate::error::{Error, Result};
use crate::service::Requester;
use crate::store::{Session, User};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{
    AUTHORIZATION, COOKIE, SET_COOKIE, STRICT_TRANSPORT_SECURITY, USER_AGENT,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use std::net::{IpAddr, SocketAddr};

pub const SESSION_COOKIE: &str = "uc_session";
const CSRF_COOKIE: &str = "uc_csrf";
const LANG_COOKIE: &str = "uc_lang";

/// Everything a handler needs to know about the caller.
pub struct Ctx {
    pub lang: Lang,
    pub session: Option<Session>,
    pub user: Option<User>,
    pub who: Requester,
    pub method: Method,
    /// The CSRF token forms on this page must carry.
    pub csrf: String,
    secure: bool,
    /// Cookies to set on the response.
    set_cookies: Vec<String>,
    anon_csrf_cookie: Option<String>,
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'static>> + '_ {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()).filter_map(|c| c.ok()))
}

/// The value of this server's cookie `name` (as [`cookie_name`] spells it).
pub fn cookie_value(headers: &HeaderMap, name: &str, secure: bool) -> Option<String> {
    let name = cookie_name(name, secure);
    cookies(headers)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// The caller's address: the peer's, unless the peer is a trusted proxy; then the
/// nearest address in `X-Forwarded-For` that is not a trusted proxy (each proxy
/// appends the address it was called from, so the entries further left are the
/// caller's to write and prove nothing; `docs/proxies.md`).
pub fn caller_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    // An IPv4 peer of a socket bound to [::] arrives as ::ffff:a.b.c.d: trusted
    // when either spelling is listed.
    let is_trusted = |ip: &IpAddr| {
        trusted
            .iter()
            .any(|net| net.contains(ip) || net.contains(&ip.to_canonical()))
    };
    if !is_trusted(&peer) {
        return peer.to_canonical();
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    // From the nearest proxy outwards; what cannot be read ends the walk (only the
    // caller writes such entries, so nothing further left can be believed).
    let mut last = peer.to_canonical();
    for entry in entries.iter().rev() {
        // An entry may carry a port (`1.2.3.4:5678`, `[2001:db8::1]:443`).
        let entry = entry.trim();
        let parsed = entry
            .parse::<IpAddr>()
            .or_else(|_| entry.parse::<SocketAddr>().map(|a| a.ip()))
            .or_else(|_| {
                entry
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
            })
            .map(|ip| ip.to_canonical());
        match parsed {
            Ok(ip) if is_trusted(&ip) => last = ip,
            Ok(ip) => return ip,
            Err(_) => break,
        }
    }
    last
}

/// A cookie's name: with the `__Host-` prefix when the issuer is https, so that the
/// browser takes it only from this host, over https, for every path: a sibling
/// subdomain cannot plant a CSRF or session cookie of its choosing.
fn cookie_name(name: &str, secure: bool) -> std::borrow::Cow<'_, str> {
    if secure {
        format!("__Host-{name}").into()
    } else {
        name.into()
    }
}

impl FromRequestParts<SharedState> for Ctx {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self> {
        let headers = &parts.headers;
        let secure = state.issuer.starts_with("https://");
        let mut set_cookies = Vec::new();

        let query_lang = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Lang::parse(&v))
        });
        let lang = match query_lang {
            Some(l) => {
                set_cookies.push(build_cookie(
                    LANG_COOKIE,
                    l.code(),
                    secure,
                    Some(365 * 86_400),
                    false,
                ));
                l
            }
            None => cookie_value(headers, LANG_COOKIE, secure)
                .and_then(|v| Lang::parse(&v))
                .unwrap_or_else(|| Lang::from_accept_language(headers)),
        };

        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| caller_ip(c.0.ip(), headers, &state.app.config.trusted_proxies).to_string())
            .unwrap_or_default();
        let user_agent = headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();

        let (session, user) = match cookie_value(headers, SESSION_COOKIE, secure) {
            Some(value) => match state.app.session_user(&value).await? {
                Some((s, u)) => (Some(s), Some(u)),
                None => (None, None),
            },
            None => (None, None),
        };
        let anon_csrf_cookie = cookie_value(headers, CSRF_COOKIE, secure).filter(|v| v.len() >= 16);
        let query_token = parts.uri.query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
        });
        let csrf = match (&session, &anon_csrf_cookie) {
            (Some(s), _) => s.csrf_token.clone(),
            (None, Some(v)) => v.clone(),
            // A caller that authenticates with a token (an API client: a Bearer
            // header, or seed 002's `access_token` in the query) fills in no forms:
            // it gets no cookie, and no form of its passes.
            (None, None) if headers.contains_key(AUTHORIZATION) || query_token => String::new(),
            (None, None) => {
                let fresh = random_token(24);
                set_cookies.push(build_cookie(CSRF_COOKIE, &fresh, secure, None, true));
                fresh
            }
        };
        Ok(Self {
            lang,
            session,
            user,
            who: Requester { ip, user_agent },
            method: parts.method.clone(),
            csrf,
            secure,
            set_cookies,
            anon_csrf_cookie,
        })
    }
}

fn build_cookie(
    name: &str,
    value: &str,
    secure: bool,
    max_age: Option<i64>,
    http_only: bool,
) -> String {
    let mut c = Cookie::new(cookie_name(name, secure).into_owned(), value.to_string());
    c.set_path("/");
    c.set_http_only(http_only);
    c.set_same_site(SameSite::Lax);
    c.set_secure(secure);
    if let Some(age) = max_age {
        c.set_max_age(cookie::time::Duration::seconds(age));
    }
    c.to_string()
}

impl Ctx {
    /// Checks a form's CSRF field.
    pub fn check_csrf(&self, submitted: &str) -> Result<()> {
        let expected = match (&self.session, &self.anon_csrf_cookie) {
            (Some(s), _) => Some(s.csrf_token.as_str()),
            (None, Some(v)) => Some(v.as_str()),
            (None, None) => None,
        };
        match expected {
            Some(e)
                if !submitted.is_empty()
                    && constant_time_eq(e.as_bytes(), submitted.as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(Error::Forbidden(
                "csrf_failed",
                "the CSRF token is missing or wrong".into(),
            )),
        }
    }

    /// Checks `X-CSRF-Token` on unsafe JSON calls made with the session cookie.
    pub fn check_csrf_header(&self, headers: &HeaderMap) -> Result<()> {
        if matches!(self.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        let submitted = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match &self.session {
            Some(s)
                if !submitted.is_empty()
                    && constant_time_eq(s.csrf_token.as_bytes(), submitted.as_bytes()) =>
            {
                Ok(())
            }
            Some(_) => Err(Error::Forbidden(
                "csrf_failed",
                "X-CSRF-Token is missing or wrong".into(),
            )),
            None => Ok(()),
        }
    }

    /// The logged-in user, or 401.
    pub fn require_user(&self) -> Result<&User> {
        self.user
            .as_ref()
            .ok_or_else(|| Error::Unauthorized("login_required", "sign in first".into()))
    }

    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        self.lang.t(key)
    }

    /// A server message in the page's language ([`Lang::message`]).
    pub fn message(&self, text: &str) -> String {
        self.lang.message(text)
    }

    /// An error as a page says it: each field's label and problem, or the error's
    /// description, in the page's language where the words are known.
    pub fn error_text(&self, err: &crate::error::Error) -> String {
        match err {
            crate::error::Error::Validation { fields, .. } => fields
                .iter()
                .map(|(k, v)| format!("{}: {}", self.t(k), self.message(v)))
                .collect::<Vec<_>>()
                .join(" "),
            other => self.message(&other.description()),
        }
    }

    /// The value of this server's cookie `name` on the request.
    pub fn cookie(&self, headers: &HeaderMap, name: &str) -> Option<String> {
        cookie_value(headers, name, self.secure)
    }

    /// Sets a cookie of this server's (`Path=/`, `SameSite=Lax`, `HttpOnly`).
    pub fn set_cookie(&mut self, name: &str, value: &str, max_age: i64) {
        let c = build_cookie(name, value, self.secure, Some(max_age), true);
        self.set_cookies.push(c);
    }

    /// Sets the session cookie of a new login.
    pub fn set_session_cookie(&mut self, value: &str) {
        let c = build_cookie(
            SESSION_COOKIE,
            value,
            self.secure,
            Some(crate::service::auth::SESSION_MAX),
            true,
        );
        self.set_cookies.push(c);
    }

    pub fn clear_session_cookie(&mut self) {
        self.set_cookies
            .push(build_cookie(SESSION_COOKIE, "", self.secure, Some(0), true));
    }

    /// Adds the cookies this request decided on to a response, and, when the issuer
    /// is https, Strict-Transport-Security: a browser then never tries plain http.
    pub fn finish(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if self.secure {
            response.headers_mut().insert(
                STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            );
        }
        for c in &self.set_cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                response.headers_mut().append(SET_COOKIE, v);
            }
        }
        response
    }
}

/// Only this server's own paths: `/x`, never `//host`, `/\host` or a scheme.
pub fn safe_return_to(value: Option<&str>) -> String {
    match value {
        Some(v)
            if v.starts_with('/')
                && !v.starts_with("//")
                && !v.starts_with("/\\")
                && !v.chars().any(|c| c.is_control() || c == '\\') =>
        {
            v.to_string()
        }
        _ => "/account".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_is_found_behind_trusted_proxies_only() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let with = |xff: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
            h
        };
        // A peer that is no proxy of ours is the caller, whatever it claims.
        assert_eq!(
            caller_ip(ip("203.0.113.9"), &with("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Behind our proxies: the nearest address that is not one of them; what the
        // caller wrote further left is ignored.
        let h = with("6.6.6.6, 198.51.100.7, 10.0.0.2");
        assert_eq!(caller_ip(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        let h = with("garbage, 198.51.100.7");
        assert_eq!(caller_ip(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        // Ports, brackets, and IPv4 seen through an IPv6 socket.
        let h = with("198.51.100.7:5678, 10.0.0.2");
        assert_eq!(
            caller_ip(ip("::ffff:10.0.0.1"), &h, &trusted),
            ip("198.51.100.7")
        );
        let h = with("[2001:db8::1]:443");
        assert_eq!(caller_ip(ip("10.0.0.1"), &h, &trusted), ip("2001:db8::1"));
        let h = with("[2001:db8::2]");
        assert_eq!(caller_ip(ip("10.0.0.1"), &h, &trusted), ip("2001:db8::2"));
        // Nothing to go by: the proxy itself.
        assert_eq!(
            caller_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(caller_ip(ip("10.0.0.1"), &with("x"), &[]), ip("10.0.0.1"));
    }

    #[test]
    fn return_to_stays_on_this_server() {
        assert_eq!(
            safe_return_to(Some("/oauth/authorize?x=1")),
            "/oauth/authorize?x=1"
        );
        for bad in [
            "//evil.test",
            "/\\evil.test",
            "https://evil.test",
            "javascript:alert(1)",
            "/a\\b",
            "",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/account", "{bad}");
        }
        assert_eq!(safe_return_to(None), "/account");
    }
}
