-- RFC 8628 device authorization: a device gets a device code (stored as its keyed
-- hash) and shows a person a short user code, which they enter at /device and
-- approve; the device polls the token endpoint with the device code.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    -- pending, approved, denied or used
    state TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    auth_time BIGINT,
    poll_interval BIGINT NOT NULL,
    polled_at BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX device_codes_expiry ON device_codes (expires_at);
