-- The resource paths the built-in scopes guard (seed 002: a scope guards a path and a
-- method). A path list is space separated; a path guards itself and what lies below
-- it. A Bearer token reaches a guarded API path only with a scope that guards it.
UPDATE scopes SET path = '/api/user /api/users', method = 'GET' WHERE name IN ('openid', 'basic', 'email', 'phone') AND builtin = 1;
UPDATE scopes SET path = '/api/user /api/users /api/groups', method = 'GET' WHERE name IN ('profile', 'user.read') AND builtin = 1;
UPDATE scopes SET path = '/api/apps /api/authorizations /api/tokens', method = '*' WHERE name = 'develop' AND builtin = 1;
UPDATE scopes SET path = '/api', method = '*' WHERE name = 'root' AND builtin = 1;
