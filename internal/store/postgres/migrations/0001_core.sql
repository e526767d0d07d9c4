-- Devices, reports and the nonces they consume, certificate signing keys
-- and service secrets. Times are Unix milliseconds (0: none), as in the
-- SQLite backend.
CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	public_key  BYTEA NOT NULL,
	jkt         TEXT NOT NULL UNIQUE,
	hardware    BOOLEAN NOT NULL,
	enrolled_at BIGINT NOT NULL
);

-- Every consumed evidence nonce until it expires. The primary key is what
-- makes a nonce single-use across every node sharing the database.
CREATE TABLE used_nonces (
	nonce      TEXT PRIMARY KEY,
	device_id  TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX used_nonces_expires ON used_nonces (expires_at);

-- Appraised reports. seq breaks ties between reports of one device
-- received in the same millisecond (SQLite uses its rowid); session is
-- NULL for a report made outside a checkout session, and a unique
-- constraint lets NULLs repeat, so there is at most one report per session.
CREATE TABLE reports (
	id          TEXT PRIMARY KEY,
	seq         BIGINT GENERATED ALWAYS AS IDENTITY,
	device_id   TEXT NOT NULL REFERENCES devices (id),
	received_at BIGINT NOT NULL,
	platform    TEXT NOT NULL,
	tier        TEXT NOT NULL,
	score       INTEGER NOT NULL,
	findings    TEXT[] NOT NULL,
	policy_id   TEXT NOT NULL,
	cert_id     TEXT NOT NULL,
	cert_exp    BIGINT NOT NULL,
	sw_version  TEXT NOT NULL,
	session     TEXT,
	CONSTRAINT reports_session UNIQUE (session)
);
CREATE INDEX reports_device_received ON reports (device_id, received_at, seq);

CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	algorithm  TEXT NOT NULL,
	private    BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	retired_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BYTEA NOT NULL
);
