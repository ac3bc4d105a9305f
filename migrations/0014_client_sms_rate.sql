-- SMS codes a client may have sent per minute (SPEC §4); NULL is the default, 60.
ALTER TABLE clients ADD COLUMN sms_per_minute BIGINT;
