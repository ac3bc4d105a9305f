-- Access tokens issued per client and day (UTC), counted only for clients with a
-- daily quota (seed 001: QUOTA_EXCEEDED). One row per such client and day.
CREATE TABLE client_daily_tokens (
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    day BIGINT NOT NULL,
    issued BIGINT NOT NULL,
    PRIMARY KEY (client_id, day)
);
