-- Seed 004's SMS codes: six digits sent to a phone for a client, to log a person in
-- by that phone or to bind it to the user whose token asked (user_id). Stored only
-- as the keyed hash of phone and code; single use, five tries, five minutes.
CREATE TABLE sms_codes (
    id {{id}},
    phone TEXT NOT NULL,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    replace_phone BIGINT NOT NULL DEFAULT 0,
    -- a binding: the scopes of the person's token, which the code grants no more than
    scope TEXT,
    code_hash TEXT NOT NULL,
    tries BIGINT NOT NULL DEFAULT 0,
    used_at BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sms_codes_phone ON sms_codes (phone, client_id);
CREATE INDEX sms_codes_expiry ON sms_codes (expires_at);
