-- The node (store handle) that made each decision, so that a node catching
-- up on the others' decisions can leave out its own. Older rows have ''.
ALTER TABLE decisions ADD COLUMN node TEXT NOT NULL DEFAULT '';
