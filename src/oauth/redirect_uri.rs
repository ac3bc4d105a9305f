//! Redirect URI registration and matching.
//!
//! RFC 6749 §3.1.2.3 and RFC 9700 §4.1.3: "the authorization server MUST ensure that
//! the two URIs are equal" — simple string comparison, no normalisation. Matching
//! by prefix, by parsed-and-normalised URL or by host suffix is how open redirectors
//! and code theft happen (`app.example.com.evil.test`, `/cb/..;/evil`, `@` userinfo,
//! letter case). The one exception is RFC 8252 §7.3: for the loopback IP literals
//! `127.0.0.1` and `[::1]` a native app picks its port at run time, so the port may
//! vary and everything else must still be equal.
//!
//! Every function here fails closed: what it cannot parse does not match.

/// Checks a redirect URI given at registration.
///
/// Refused: relative URIs, `javascript:`/`data:`/`vbscript:`/`file:` schemes,
/// fragments (RFC 6749 §3.1.2), userinfo, and URIs that already carry `code`,
/// `state` or `iss`, which would let a response parameter be smuggled in.
pub fn validate(uri: &str) -> Result<(), String> {
    if uri.is_empty()
        || uri.len() > 2000
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("must be a non-empty absolute URI without spaces".into());
    }
    if uri.contains('#') {
        return Err("must not contain a fragment (RFC 6749 §3.1.2)".into());
    }
    let parsed = url::Url::parse(uri).map_err(|e| format!("is not an absolute URI ({e})"))?;
    let scheme = parsed.scheme();
    if matches!(
        scheme,
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about"
    ) {
        return Err(format!("the {scheme}: scheme is not allowed"));
    }
    if matches!(scheme, "http" | "https") {
        // The URL parser repairs `https:///cb` and `https:cb` into a host; the
        // registered text itself must name the host.
        let after = uri.get(scheme.len()..).unwrap_or_default();
        let named = after
            .strip_prefix("://")
            .is_some_and(|rest| !rest.starts_with('/'));
        if !named || parsed.host_str().is_none_or(str::is_empty) {
            return Err("an http(s) redirect URI needs a host".into());
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not contain user information".into());
    }
    if parsed.query_pairs().any(|(k, _)| {
        matches!(
            k.as_ref(),
            "code" | "state" | "iss" | "access_token" | "id_token"
        )
    }) {
        return Err("must not carry code, state, iss or token parameters".into());
    }
    Ok(())
}

/// Whether `presented` matches one of `registered`, exactly (the default) or, when
/// the admin turned exact matching off, by the relaxed rule of [`matches_relaxed`].
pub fn find_match<'a>(registered: &'a [String], presented: &str, exact: bool) -> Option<&'a str> {
    registered
        .iter()
        .map(String::as_str)
        .find(|r| matches_exact(r, presented) || (!exact && matches_relaxed(r, presented)))
}

/// String equality, except that a loopback IP literal's port may differ.
pub fn matches_exact(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (split_loopback(registered), split_loopback(presented)) {
        (Some((host_a, rest_a)), Some((host_b, rest_b))) => host_a == host_b && rest_a == rest_b,
        _ => false,
    }
}

/// `http://127.0.0.1:PORT/rest` → `("127.0.0.1", "/rest")`; `None` for anything else.
fn split_loopback(uri: &str) -> Option<(&str, &str)> {
    let after = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "[::1]"]
        .into_iter()
        .find(|h| after.starts_with(h))?;
    let rest = &after[host.len()..];
    let rest = match rest.strip_prefix(':') {
        Some(port_and_rest) => {
            let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            &port_and_rest[digits..]
        }
        None => rest,
    };
    if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
        return None; // e.g. 127.0.0.1.evil.test
    }
    Some((host, rest))
}

/// The relaxed rule (seed 002's "exact redirect URI" switched off): same scheme, host
/// and port, and a path under the registered one on a segment boundary. Anything
/// that could climb out of that path (`..`, encoded dots, backslashes) or hide a
/// host (`@`) is refused, and so is a fragment, and a query naming a parameter of
/// the answer (`code`, `state`, `iss`, tokens).
pub fn matches_relaxed(registered: &str, presented: &str) -> bool {
    let lowered = presented.to_ascii_lowercase();
    if presented.contains(['#', '\\', '@'])
        || presented.contains("..")
        || lowered.contains("%2e")
        || lowered.contains("%2f")
        || lowered.contains("%5c")
    {
        return false;
    }
    let (Ok(r), Ok(p)) = (url::Url::parse(registered), url::Url::parse(presented)) else {
        return false;
    };
    if r.scheme() != p.scheme()
        || r.host_str() != p.host_str()
        || r.port_or_known_default() != p.port_or_known_default()
    {
        return false;
    }
    // A query may add the client's own parameters, never the answer's: a presented
    // `code`, `state` or `iss` would sit beside ours and could be taken for them,
    // also as frameworks read names (`;` as a separator, PHP's `.` and ` ` as `_`,
    // a trailing `[]`).
    if p.query().is_some_and(|q| q.contains(';'))
        || p.query_pairs().any(|(k, _)| {
            let name = k.trim_end_matches("[]").replace(['.', ' '], "_");
            matches!(
                name.as_str(),
                "code" | "state" | "iss" | "access_token" | "id_token"
            )
        })
    {
        return false;
    }
    let (rp, pp) = (r.path(), p.path());
    pp == rp || (pp.starts_with(rp) && (rp.ends_with('/') || pp[rp.len()..].starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CB: &str = "https://app.example.com/cb";

    #[test]
    fn exact_match_refuses_look_alikes() {
        assert!(matches_exact(CB, CB));
        for bad in [
            "https://app.example.com.evil.test/cb",
            "https://APP.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb/..;/evil",
            "https://app.example.com/cb/../evil",
            "https://evil.test@app.example.com/cb",
            "https://app.example.com@evil.test/cb",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#frag",
            "https://app.example.com/cb/",
            "http://app.example.com/cb",
            "https://app.example.com:443/cb",
        ] {
            assert!(!matches_exact(CB, bad), "{bad} must not match");
        }
    }

    #[test]
    fn loopback_port_may_vary_but_nothing_else() {
        let reg = "http://127.0.0.1/callback";
        assert!(matches_exact(reg, "http://127.0.0.1:53412/callback"));
        assert!(matches_exact(
            "http://127.0.0.1:8000/callback",
            "http://127.0.0.1:9/callback"
        ));
        assert!(matches_exact("http://[::1]/cb", "http://[::1]:1234/cb"));
        assert!(!matches_exact(reg, "http://127.0.0.1:53412/callback2"));
        assert!(!matches_exact(reg, "http://127.0.0.1.evil.test/callback"));
        assert!(!matches_exact(reg, "http://[::1]:5/callback"));
        assert!(!matches_exact(
            "http://localhost/cb",
            "http://localhost:1/cb"
        ));
        assert!(!matches_exact(reg, "https://127.0.0.1:1/callback"));
    }

    #[test]
    fn registration_refuses_dangerous_uris() {
        assert!(validate(CB).is_ok());
        assert!(validate("com.example.app:/oauth").is_ok());
        assert!(validate("http://127.0.0.1/cb").is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://app.example.com/cb#x",
            "/relative",
            "https://app.example.com/cb?code=1",
            "https://app.example.com/cb?state=1",
            "https://app.example.com/cb?iss=x",
            "https://u:p@app.example.com/cb",
            "https:///cb",
            "https:cb.example.com/x",
            "",
        ] {
            assert!(validate(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn relaxed_rule_stays_under_the_path() {
        assert!(matches_relaxed(CB, "https://app.example.com/cb/deeper"));
        assert!(matches_relaxed(CB, "https://app.example.com/cb?x=1"));
        assert!(!matches_relaxed(CB, "https://app.example.com/cbx"));
        assert!(!matches_relaxed(CB, "https://app.example.com/cb/../admin"));
        assert!(!matches_relaxed(
            CB,
            "https://app.example.com/cb/%2e%2e/admin"
        ));
        assert!(!matches_relaxed(CB, "https://app.example.com.evil.test/cb"));
        assert!(!matches_relaxed(CB, "https://app.example.com:8443/cb"));
        assert!(!matches_relaxed(CB, "http://app.example.com/cb"));
        assert!(!matches_relaxed(CB, "https://x@app.example.com/cb"));
        for planted in [
            "code=X",
            "state=Y",
            "x=1&iss=https://evil.test",
            "access_token=T",
            "x=1;code=X",
            "access.token=T",
            "code[]=X",
        ] {
            let uri = format!("https://app.example.com/cb?{planted}");
            assert!(!matches_relaxed(CB, &uri), "{uri}");
        }
        assert!(find_match(&[CB.to_string()], "https://app.example.com/cb/x", true).is_none());
        assert!(find_match(&[CB.to_string()], "https://app.example.com/cb/x", false).is_some());
    }
}
