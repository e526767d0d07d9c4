-- Threat intelligence: indicators (never deleted, so feed deltas and the
-- audit trail stay whole), their audit trail, and the feed version.
CREATE TABLE indicators (
	id           TEXT PRIMARY KEY,
	type         TEXT NOT NULL,
	value        TEXT NOT NULL,
	source       TEXT NOT NULL,
	confidence   INTEGER NOT NULL,
	status       TEXT NOT NULL,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL, -- 0: never
	feed_kind    TEXT NOT NULL,    -- '' when not on the agent feed
	feed_value   TEXT NOT NULL,
	full_hash    TEXT NOT NULL,
	feed_version INTEGER NOT NULL, -- version at which it last went on or off the feed
	UNIQUE (type, value)
);
CREATE INDEX indicators_feed_version ON indicators (feed_version);
-- Covers the snapshot (active entries in order, no temporary tree) and the
-- "is this entry still carried by an active indicator" check of deltas.
CREATE INDEX indicators_feed_entry ON indicators (status, feed_kind, feed_value);
CREATE INDEX indicators_expiry ON indicators (status, expires_at);

CREATE TABLE indicator_events (
	indicator_id TEXT NOT NULL REFERENCES indicators (id),
	at           INTEGER NOT NULL,
	actor        TEXT NOT NULL,
	action       TEXT NOT NULL,
	from_status  TEXT NOT NULL,
	to_status    TEXT NOT NULL,
	reason       TEXT NOT NULL
);
CREATE INDEX indicator_events_indicator ON indicator_events (indicator_id, at);

CREATE TABLE intel_feed (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
INSERT INTO intel_feed (id, version) VALUES (1, 0);
