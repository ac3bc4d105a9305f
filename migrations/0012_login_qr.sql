-- "Scan to log in" (SPEC §4): the login page shows a QR code of /qr/{id}; a phone
-- where the person is signed in confirms; the browser that showed it (which holds
-- the cookie whose keyed hash is browser_hash) is then signed in, once. Two minutes.
CREATE TABLE login_qr (
    id_hash TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    return_to TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    -- pending, confirmed, denied or used
    state TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX login_qr_expiry ON login_qr (expires_at);
