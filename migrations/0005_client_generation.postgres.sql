-- PostgreSQL's text of 0005_client_generation.sql: the same table, raised by one
-- statement-level trigger (TRUNCATE included). It runs BEFORE the statement, so a
-- transaction changing clients locks the generation's row before any client row:
-- the token writer locks the generation's row for share and then checks the
-- token's client (its foreign key), so both take the two locks in one order and
-- never wait on each other in a cycle.
CREATE TABLE client_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL);
INSERT INTO client_generation (id, n) VALUES (1, 0);
CREATE FUNCTION client_generation_raise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE client_generation SET n = n + 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER clients_changing BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON clients
  FOR EACH STATEMENT EXECUTE FUNCTION client_generation_raise();
