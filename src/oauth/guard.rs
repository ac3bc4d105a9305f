//! Which scope lets a Bearer token reach an API path (seed 002: each scope names the
//! resource path and HTTP method it guards).
//!
//! A path guards itself and everything below it on a segment boundary (`/api/user`
//! guards `/api/user` and `/api/user/x`, not `/api/username`); a scope may list several
//! paths, space separated; its method is one method or `*`. A token passes when one
//! of its scopes guards the path for the method. A path no scope guards is closed to
//! Bearer tokens: the rule fails closed.

/// `(scope name, guarded paths, method)`.
pub type Guard<'a> = (&'a str, &'a str, &'a str);

fn under(path: &str, guarded: &str) -> bool {
    let guarded = guarded.trim_end_matches('/');
    !guarded.is_empty()
        && (path == guarded
            || path
                .strip_prefix(guarded)
                .is_some_and(|rest| rest.starts_with('/')))
}

/// Whether a token with `scopes` may `method` the `path`.
pub fn allows(guards: &[Guard<'_>], scopes: &[String], path: &str, method: &str) -> bool {
    guards.iter().any(|(name, paths, m)| {
        scopes.iter().any(|s| s == name)
            && (*m == "*" || m.eq_ignore_ascii_case(method))
            && paths.split_whitespace().any(|p| under(path, p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_by_path_and_method_and_fails_closed() {
        let guards = [
            ("user.read", "/api/user /api/groups", "GET"),
            ("develop", "/api/apps", "*"),
        ];
        let s = |x: &str| vec![x.to_string()];
        assert!(allows(&guards, &s("user.read"), "/api/user", "GET"));
        assert!(allows(&guards, &s("user.read"), "/api/groups/3/", "GET"));
        assert!(!allows(&guards, &s("user.read"), "/api/user", "DELETE"));
        assert!(!allows(&guards, &s("user.read"), "/api/username", "GET"));
        assert!(allows(&guards, &s("develop"), "/api/apps/1/", "DELETE"));
        assert!(
            !allows(&guards, &s("develop"), "/api/tokens/", "GET"),
            "no scope guards it"
        );
        assert!(!allows(&guards, &s("basic"), "/api/user", "GET"));
    }
}
