-- SMS codes a client may have sent per minute (SPEC §4): NULL is the default, 60;
-- 0 means none. Sending SMS codes and reading cards (offline_cert) are an operator's
-- grants (docs/sms.md, docs/cards.md): the apps that people registered themselves
-- (the console, dynamic registration; their creation is in the audit log) send no
-- codes, and lose offline_cert.
ALTER TABLE clients ADD COLUMN sms_per_minute BIGINT;
UPDATE clients SET sms_per_minute = 0,
       grant_types = trim(replace(' ' || grant_types || ' ', ' offline_cert ', ' '))
 WHERE client_id IN (SELECT target FROM audit_log WHERE action IN ('app_created', 'client_registered'));
