-- PostgreSQL's text of 0006_user_generation.sql: the same table, raised by one
-- statement-level trigger per table (TRUNCATE included), before the statement as
-- for clients (0005), so that a transaction locks the generation's row before the
-- rows it changes. Only writers lock it; readers read it in their snapshot.
CREATE TABLE user_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL);
INSERT INTO user_generation (id, n) VALUES (1, 0);
CREATE FUNCTION user_generation_raise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE user_generation SET n = n + 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER users_changing BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION user_generation_raise();
CREATE TRIGGER user_groups_changing BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_groups
  FOR EACH STATEMENT EXECUTE FUNCTION user_generation_raise();
CREATE TRIGGER group_members_changing BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_members
  FOR EACH STATEMENT EXECUTE FUNCTION user_generation_raise();
