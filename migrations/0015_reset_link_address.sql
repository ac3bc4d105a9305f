-- The address a reset link was mailed to: a link works only while the account still
-- has that address, so a link mailed (or still being mailed) to an address the account
-- has since left cannot reset its password. Links from before have none and work.
ALTER TABLE password_resets ADD COLUMN email TEXT;
