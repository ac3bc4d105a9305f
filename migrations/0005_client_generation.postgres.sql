-- PostgreSQL's text of 0005_client_generation.sql: the same table, raised by one
-- statement-level trigger (TRUNCATE included).
CREATE TABLE client_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL);
INSERT INTO client_generation (id, n) VALUES (1, 0);
CREATE FUNCTION client_generation_raise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE client_generation SET n = n + 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clients
  FOR EACH STATEMENT EXECUTE FUNCTION client_generation_raise();
