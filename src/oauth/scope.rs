//! Which scopes a request gets (RFC 6749 §3.3, seed 001, seed 002).
//!
//! - A requested scope the client is not registered for is refused with
//!   `invalid_scope`, never silently dropped (SPEC §1).
//! - `develop` and `root` need an admin's approval for that client (seed 001).
//! - Scopes flagged "default" are always added (seed 002), whether or not the client
//!   lists them or the request asks for them, and a request may name them;
//!   `develop` and `root` still only when approved (`docs/default-scopes.md`).
//! - With no scope requested, the client's registered scopes apply, less the
//!   privileged ones unless approved.

/// Scopes a client gets only when an admin approves them (seed 001).
pub const PRIVILEGED: [&str; 2] = ["develop", "root"];

/// The grant an app may use only when an admin approves it, recorded with the scope
/// approvals (requested, approved) under its name: a card terminal acts for every
/// card holder (`docs/cards.md`).
pub const APPROVED_GRANT: &str = "offline_cert";

/// What an admin approves: the privileged scopes and [`APPROVED_GRANT`].
pub fn needs_approval(name: &str) -> bool {
    PRIVILEGED.contains(&name) || name == APPROVED_GRANT
}

/// Splits a space-separated scope parameter, dropping duplicates, keeping order.
pub fn parse(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split_whitespace() {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// The scopes granted for `requested`, or the first scope refused.
pub fn resolve(
    requested: &[String],
    registered: &[String],
    approved: &[String],
    defaults: &[String],
) -> Result<Vec<String>, String> {
    // A default scope may be named even by a client that does not list it: it is
    // granted anyway (seed 001's clients send `scope=basic`).
    let allowed = |s: &String| {
        (registered.contains(s) || defaults.contains(s))
            && (!PRIVILEGED.contains(&s.as_str()) || approved.contains(s))
    };
    let mut granted: Vec<String> = if requested.is_empty() {
        registered
            .iter()
            .filter(|s| allowed(s) && s.as_str() != "openid")
            .cloned()
            .collect()
    } else {
        if let Some(refused) = requested.iter().find(|s| !allowed(s)) {
            return Err(refused.clone());
        }
        requested.to_vec()
    };
    for d in defaults {
        let privileged = PRIVILEGED.contains(&d.as_str()) && !approved.contains(d);
        if !granted.contains(d) && !privileged {
            granted.push(d.clone());
        }
    }
    Ok(granted)
}

/// Whether every scope of `wanted` is in `held`.
pub fn covers(held: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| held.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        parse(s)
    }

    #[test]
    fn refuses_what_the_client_may_not_have() {
        let reg = v("openid profile basic develop");
        assert_eq!(
            resolve(&v("openid profile"), &reg, &[], &v("basic")).unwrap(),
            v("openid profile basic")
        );
        assert_eq!(resolve(&v("email"), &reg, &[], &[]).unwrap_err(), "email");
        // A default scope may be named by a client that does not list it.
        assert_eq!(
            resolve(&v("read basic"), &v("read"), &[], &v("basic")).unwrap(),
            v("read basic")
        );
        assert_eq!(
            resolve(&v("develop"), &reg, &[], &[]).unwrap_err(),
            "develop",
            "not approved"
        );
        assert_eq!(
            resolve(&v("develop"), &reg, &v("develop"), &[]).unwrap(),
            v("develop")
        );
    }

    #[test]
    fn default_scopes_are_granted_to_every_client() {
        let reg = v("openid profile");
        assert_eq!(
            resolve(&v("profile"), &reg, &[], &v("basic notes")).unwrap(),
            v("profile basic notes"),
            "not listed by the client"
        );
        assert_eq!(
            resolve(&v("profile"), &reg, &[], &v("basic root")).unwrap(),
            v("profile basic"),
            "a privileged scope only when approved"
        );
        assert_eq!(
            resolve(&v("profile"), &reg, &v("root"), &v("root")).unwrap(),
            v("profile root")
        );
    }

    #[test]
    fn empty_request_gets_the_registered_scopes() {
        let reg = v("openid profile basic develop");
        assert_eq!(
            resolve(&[], &reg, &[], &v("basic")).unwrap(),
            v("profile basic")
        );
        assert!(covers(&v("a b c"), &v("c a")));
        assert!(!covers(&v("a b"), &v("a d")));
        assert_eq!(parse("a  b a"), v("a b"));
    }
}
