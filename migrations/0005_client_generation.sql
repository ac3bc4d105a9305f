-- A number that every change to the clients table raises, in the changing
-- transaction, whoever makes it (this server, another process such as the command
-- line, an operator's SQL). A client row read together with the number can be used
-- later as long as the number is unchanged: the token writer checks it in the same
-- transaction that stores the token (docs/client-cache.md).
-- PostgreSQL has its own text of this migration (0005_client_generation.postgres.sql).
CREATE TABLE client_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT INTO client_generation (id, n) VALUES (1, 0);
CREATE TRIGGER clients_inserted AFTER INSERT ON clients BEGIN UPDATE client_generation SET n = n + 1; END;
CREATE TRIGGER clients_updated AFTER UPDATE ON clients BEGIN UPDATE client_generation SET n = n + 1; END;
CREATE TRIGGER clients_deleted AFTER DELETE ON clients BEGIN UPDATE client_generation SET n = n + 1; END;
