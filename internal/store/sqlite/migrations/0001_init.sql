CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	public_key  BLOB NOT NULL,
	jkt         TEXT NOT NULL UNIQUE,
	hardware    INTEGER NOT NULL DEFAULT 0,
	enrolled_at INTEGER NOT NULL
);

CREATE TABLE used_nonces (
	nonce      TEXT PRIMARY KEY,
	device_id  TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX used_nonces_expires ON used_nonces (expires_at);

CREATE TABLE reports (
	id          TEXT PRIMARY KEY,
	device_id   TEXT NOT NULL REFERENCES devices (id),
	received_at INTEGER NOT NULL,
	platform    TEXT NOT NULL,
	tier        TEXT NOT NULL,
	score       INTEGER NOT NULL,
	findings    TEXT NOT NULL,
	policy_id   TEXT NOT NULL,
	cert_id     TEXT NOT NULL,
	cert_exp    INTEGER NOT NULL,
	sw_version  TEXT NOT NULL
);
CREATE INDEX reports_device_received ON reports (device_id, received_at);

CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	algorithm  TEXT NOT NULL,
	private    BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	retired_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
