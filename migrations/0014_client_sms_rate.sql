-- SMS codes a client may have sent per minute (SPEC §4): NULL is the default, 60;
-- 0 means none. Sending SMS codes and reading cards (offline_cert) are an operator's
-- grants (docs/sms.md, docs/cards.md). The apps that people registered themselves
-- (the console, dynamic registration; the audit log shows their creation) send no
-- codes, and their offline_cert waits for an admin's approval; an operator's apps
-- keep both.
ALTER TABLE clients ADD COLUMN sms_per_minute BIGINT;
UPDATE clients SET sms_per_minute = 0,
       requested_scopes = trim(requested_scopes || ' offline_cert')
 WHERE client_id IN (SELECT target FROM audit_log WHERE action IN ('app_created', 'client_registered'))
   AND (' ' || grant_types || ' ') LIKE '% offline_cert %';
UPDATE clients SET sms_per_minute = 0
 WHERE client_id IN (SELECT target FROM audit_log WHERE action IN ('app_created', 'client_registered'));
UPDATE clients SET approved_scopes = trim(approved_scopes || ' offline_cert')
 WHERE (' ' || grant_types || ' ') LIKE '% offline_cert %'
   AND client_id NOT IN (SELECT target FROM audit_log WHERE action IN ('app_created', 'client_registered'));
