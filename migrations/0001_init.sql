-- The whole product's schema. One file serves SQLite and PostgreSQL: the runner
-- replaces {{id}} with each backend's auto-increment primary key and nothing else.
-- Times are Unix seconds (BIGINT); secrets, tokens and codes are stored only as keyed
-- hashes (hex TEXT); data encrypted at rest is base64 TEXT. Flags are BIGINT 0/1:
-- sqlx's Any driver cannot carry SQLite booleans.

CREATE TABLE users (
    id {{id}},
    username TEXT NOT NULL UNIQUE,
    email TEXT UNIQUE,
    email_verified BIGINT NOT NULL DEFAULT 0,
    phone TEXT UNIQUE,
    phone_verified BIGINT NOT NULL DEFAULT 0,
    password_hash TEXT,
    is_admin BIGINT NOT NULL DEFAULT 0,
    disabled BIGINT NOT NULL DEFAULT 0,
    -- profile of seed 003
    nickname TEXT,
    avatar TEXT,
    gender BIGINT,
    province TEXT,
    city TEXT,
    area TEXT,
    birthdate TEXT,
    real_name_enc TEXT,
    id_card_enc TEXT,
    certificate_type BIGINT,
    verify_tag BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE user_groups (
    id {{id}},
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Apps (seed 002). Lists are space separated, as OAuth writes scopes.
CREATE TABLE clients (
    id {{id}},
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT,
    is_public BIGINT NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    icon TEXT NOT NULL DEFAULT '',
    homepage TEXT NOT NULL DEFAULT '',
    redirect_uris TEXT NOT NULL DEFAULT '',
    grant_types TEXT NOT NULL,
    scopes TEXT NOT NULL,
    -- develop/root: requested by the owner, approved by an admin (seed 001)
    requested_scopes TEXT NOT NULL DEFAULT '',
    approved_scopes TEXT NOT NULL DEFAULT '',
    owner_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    token_format TEXT NOT NULL DEFAULT 'opaque',
    token_policy TEXT NOT NULL DEFAULT 'independent',
    id_token_alg TEXT NOT NULL DEFAULT 'RS256',
    access_ttl BIGINT,
    refresh_ttl BIGINT,
    daily_quota BIGINT,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX clients_owner ON clients (owner_id);

-- Scopes as data (seed 002).
CREATE TABLE scopes (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL DEFAULT '',
    method TEXT NOT NULL DEFAULT 'GET',
    is_default BIGINT NOT NULL DEFAULT 0,
    display_name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    icon TEXT NOT NULL DEFAULT '',
    builtin BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

INSERT INTO scopes (name, path, method, is_default, display_name, description, icon, builtin, created_at) VALUES
    ('openid', '', 'GET', 0, 'Sign you in', '{client_name} will know who you are ({user})', 'fa-id-badge', 1, 0),
    ('profile', '/api/user', 'GET', 0, 'Your profile', '{client_name} will read the profile of {user}', 'fa-user', 1, 0),
    ('email', '/api/user', 'GET', 0, 'Your e-mail address', '{client_name} will read the e-mail address of {user}', 'fa-envelope', 1, 0),
    ('phone', '/api/user', 'GET', 0, 'Your phone number', '{client_name} will read the phone number of {user}', 'fa-phone', 1, 0),
    ('user.read', '/api/user', 'GET', 0, 'Read your account', '{client_name} will read the account details of {user}', 'fa-user', 1, 0),
    ('basic', '', 'GET', 1, 'Basic access', '{client_name} will use the basic interfaces as {user}', 'fa-check', 1, 0),
    ('develop', '', 'GET', 0, 'Advanced interfaces', '{client_name} will use the advanced interfaces', 'fa-code', 1, 0),
    ('root', '', 'GET', 0, 'Super interfaces', '{client_name} will use the super interfaces', 'fa-crown', 1, 0);

-- What a user granted to an app; a later request within it skips the consent page.
CREATE TABLE consents (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client ON consents (client_id);

CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    auth_time BIGINT NOT NULL,
    used_at BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

-- A refresh token family is every refresh token rotated from one grant; reuse of a
-- rotated member revokes the family (RFC 9700 §4.14).
CREATE TABLE refresh_tokens (
    id {{id}},
    token_hash TEXT NOT NULL UNIQUE,
    family_id TEXT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    code_hash TEXT,
    auth_time BIGINT,
    rotated_at BIGINT,
    revoked_at BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id, client_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    id {{id}},
    token_hash TEXT NOT NULL UNIQUE,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    family_id TEXT,
    code_hash TEXT,
    -- extension data of seed 004 (card number, card state) as JSON
    extra TEXT,
    revoked_at BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_user ON access_tokens (user_id, client_id);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    used_at BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Private keys are encrypted with the server key. A retired key no longer signs but
-- stays in the JWKS until the tokens it signed have expired.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_enc TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    retired_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id {{id}},
    at BIGINT NOT NULL,
    actor_user_id BIGINT,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, at);

-- Physical cards (seed 004).
CREATE TABLE cards (
    card_no TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lost BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX cards_user ON cards (user_id);
