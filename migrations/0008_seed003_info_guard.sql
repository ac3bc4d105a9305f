-- Seed 003's profile endpoint, GET /client-api/userCenter/info, is guarded like
-- /api/user's profile: the built-in profile and user.read scopes reach it.
UPDATE scopes SET path = path || ' /client-api/userCenter' WHERE name IN ('profile', 'user.read') AND builtin = 1;
