-- Seed 003's profile endpoint, GET /client-api/userCenter/info, is guarded like
-- /api/user's profile: the built-in profile and user.read scopes reach it, and so does
-- `read`, the scope seed 003's clients ask for (`scope=read`), built in for them.
UPDATE scopes SET path = path || ' /client-api/userCenter' WHERE name IN ('profile', 'user.read') AND builtin = 1;
INSERT INTO scopes (name, path, method, is_default, display_name, description, icon, builtin, created_at) VALUES
    ('read', '/client-api/userCenter', 'GET', 0, 'Read your profile', '{client_name} will read the profile of {user}', 'fa-user', 1, 0)
    ON CONFLICT (name) DO NOTHING;
