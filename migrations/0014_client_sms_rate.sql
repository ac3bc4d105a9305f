-- SMS codes a client may have sent per minute (SPEC §4): NULL is the default, 60;
-- 0 means none. Sending SMS is an operator's grant (docs/sms.md): apps their owners
-- registered themselves (the console, dynamic registration) send none.
ALTER TABLE clients ADD COLUMN sms_per_minute BIGINT;
UPDATE clients SET sms_per_minute = 0
 WHERE owner_id IS NOT NULL
    OR client_id IN (SELECT target FROM audit_log WHERE action IN ('app_created', 'client_registered'));
