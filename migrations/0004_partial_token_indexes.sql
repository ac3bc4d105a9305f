-- Access-token indexes hold only the rows a query can look for: a client's own token
-- (client_credentials) has no user, family or code, so it enters none of those
-- indexes, and only tokens kept for the reuse policy enter the reuse index. Fewer
-- B-trees per token means fewer pages written per commit (docs/performance.md).
-- A replayed code revokes what was issued from it by code_hash: indexed now, so a
-- replay never scans the token tables.
DROP INDEX access_tokens_user;
CREATE INDEX access_tokens_user ON access_tokens (user_id, client_id) WHERE user_id IS NOT NULL;
DROP INDEX access_tokens_family;
CREATE INDEX access_tokens_family ON access_tokens (family_id) WHERE family_id IS NOT NULL;
DROP INDEX access_tokens_reuse;
CREATE INDEX access_tokens_reuse ON access_tokens (client_id, user_id, scope) WHERE token_enc IS NOT NULL;
CREATE INDEX access_tokens_code ON access_tokens (code_hash) WHERE code_hash IS NOT NULL;
CREATE INDEX refresh_tokens_code ON refresh_tokens (code_hash) WHERE code_hash IS NOT NULL;
