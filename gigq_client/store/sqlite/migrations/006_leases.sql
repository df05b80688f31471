-- Leases by the store's clock, and where each daemon runs: a daemon judges another's
-- workers by their pids only on the same machine, and by its lease everywhere else.
ALTER TABLE daemons ADD COLUMN machine TEXT NOT NULL DEFAULT '';
ALTER TABLE daemons ADD COLUMN lease_until REAL NOT NULL DEFAULT 0;
