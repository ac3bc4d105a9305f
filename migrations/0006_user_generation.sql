-- A number that every change to users and their groups raises, in the changing
-- transaction, whoever makes it: read with a bearer token, it tells whether a user
-- kept with their groups is still what the database holds (docs/user-cache.md).
-- PostgreSQL has its own text of this migration (0006_user_generation.postgres.sql).
CREATE TABLE user_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT INTO user_generation (id, n) VALUES (1, 0);
CREATE TRIGGER users_inserted AFTER INSERT ON users BEGIN UPDATE user_generation SET n = n + 1; END;
CREATE TRIGGER users_updated AFTER UPDATE ON users BEGIN UPDATE user_generation SET n = n + 1; END;
CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN UPDATE user_generation SET n = n + 1; END;
CREATE TRIGGER user_groups_inserted AFTER INSERT ON user_groups BEGIN UPDATE user_generation SET n = n + 1; END;
CREATE TRIGGER user_groups_updated AFTER UPDATE ON user_groups BEGIN UPDATE user_generation SET n = n + 1; END;
CREATE TRIGGER user_groups_deleted AFTER DELETE ON user_groups BEGIN UPDATE user_generation SET n = n + 1; END;
CREATE TRIGGER group_members_inserted AFTER INSERT ON group_members BEGIN UPDATE user_generation SET n = n + 1; END;
CREATE TRIGGER group_members_updated AFTER UPDATE ON group_members BEGIN UPDATE user_generation SET n = n + 1; END;
CREATE TRIGGER group_members_deleted AFTER DELETE ON group_members BEGIN UPDATE user_generation SET n = n + 1; END;
