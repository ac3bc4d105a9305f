-- Seed 003's "reuse" token policy returns the still-valid token again, so for a
-- client with that policy the token is also kept encrypted under the server key.
ALTER TABLE access_tokens ADD COLUMN token_enc TEXT;
CREATE INDEX access_tokens_reuse ON access_tokens (client_id, user_id, scope);
