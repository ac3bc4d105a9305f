-- Seed 004's QR login: a phone where a person is signed in asks for a one-time code
-- bound to them and to a session id of the phone's choosing (5 minutes); a terminal
-- redeems the code for that person's token, and the phone asks whether it was used.
CREATE TABLE qr_sessions (
    session TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL UNIQUE,
    -- the scopes of the phone's token: the code grants no more
    scope TEXT NOT NULL,
    used_at BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX qr_sessions_expiry ON qr_sessions (expires_at);
