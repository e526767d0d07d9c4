-- Threat intelligence: indicators (never deleted, so feed deltas and the
-- audit trail stay whole), their audit trail, and the feed version. Times
-- are Unix milliseconds (0: none/never), as in the SQLite backend.
--
-- Text that is listed in order or matched byte for byte uses the "C"
-- collation, so lists come out in the same (byte) order as from SQLite
-- whatever the database's locale.
CREATE TABLE indicators (
	id           TEXT PRIMARY KEY,
	type         TEXT COLLATE "C" NOT NULL,
	value        TEXT COLLATE "C" NOT NULL,
	source       TEXT NOT NULL,
	confidence   INTEGER NOT NULL,
	status       TEXT NOT NULL,
	first_seen   BIGINT NOT NULL,
	last_seen    BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,            -- 0: never
	feed_kind    TEXT COLLATE "C" NOT NULL,  -- '' when not on the agent feed
	feed_value   TEXT COLLATE "C" NOT NULL,
	full_hash    TEXT COLLATE "C" NOT NULL,
	feed_version BIGINT NOT NULL,            -- version at which it last went on or off the feed
	UNIQUE (type, value)
);
CREATE INDEX indicators_feed_version ON indicators (feed_version);
-- Covers the snapshot and the "is this entry still carried by an active
-- indicator" check of deltas, and the full-hash lookup by prefix.
CREATE INDEX indicators_feed_entry ON indicators (status, feed_kind, feed_value);
CREATE INDEX indicators_expiry ON indicators (status, expires_at);

CREATE TABLE indicator_events (
	seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- order within one millisecond
	indicator_id TEXT NOT NULL REFERENCES indicators (id),
	at           BIGINT NOT NULL,
	actor        TEXT NOT NULL,
	action       TEXT NOT NULL,
	from_status  TEXT NOT NULL,
	to_status    TEXT NOT NULL,
	reason       TEXT NOT NULL
);
CREATE INDEX indicator_events_indicator ON indicator_events (indicator_id, at, seq);

-- The one feed-version counter. Every intelligence write locks this row
-- (SELECT … FOR UPDATE) before it reads anything, so writes from all nodes
-- run one after another and commit in version order (see intel.go).
CREATE TABLE intel_feed (
	id      SMALLINT PRIMARY KEY CHECK (id = 1),
	version BIGINT NOT NULL
);
INSERT INTO intel_feed (id, version) VALUES (1, 0);
