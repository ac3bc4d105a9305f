-- Phones have one spelling (docs/phones.md): a Chinese mobile number stored with its
-- country code (+86…, 0086…, 86…) becomes its 11 national digits, and a leading 00
-- becomes +. A row whose new spelling another account already holds keeps its old
-- one (the data stays; that account logs in by its username or e-mail). One form
-- per statement, so that no statement moves two rows onto one number.
UPDATE users SET phone = substr(phone, 4)
 WHERE phone LIKE '+861%' AND length(phone) = 14
   AND NOT EXISTS (SELECT 1 FROM users AS o WHERE o.phone = substr(users.phone, 4));
UPDATE users SET phone = substr(phone, 5)
 WHERE phone LIKE '00861%' AND length(phone) = 15
   AND NOT EXISTS (SELECT 1 FROM users AS o WHERE o.phone = substr(users.phone, 5));
UPDATE users SET phone = substr(phone, 3)
 WHERE phone LIKE '861%' AND length(phone) = 13
   AND NOT EXISTS (SELECT 1 FROM users AS o WHERE o.phone = substr(users.phone, 3));
UPDATE users SET phone = '+' || substr(phone, 3)
 WHERE phone LIKE '00%' AND phone NOT LIKE '000%'
   AND NOT (phone LIKE '00861%' AND length(phone) = 15)
   AND NOT EXISTS (SELECT 1 FROM users AS o WHERE o.phone = '+' || substr(users.phone, 3));
