CREATE TABLE relying_parties (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);

-- Only the SHA-256 of a key's secret is kept.
CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	rp_id      TEXT NOT NULL REFERENCES relying_parties (id),
	hash       BLOB NOT NULL,
	scopes     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_rp ON api_keys (rp_id);

-- account, payee and ip_net are keyed hashes (see docs/DECISIONS.md).
CREATE TABLE decisions (
	id            TEXT PRIMARY KEY,
	rp_id         TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	event         TEXT NOT NULL,
	account       TEXT NOT NULL,
	device_id     TEXT NOT NULL,
	amount        TEXT NOT NULL,
	amount_value  REAL NOT NULL,
	currency      TEXT NOT NULL,
	channel       TEXT NOT NULL,
	payee         TEXT NOT NULL,
	merchant_host TEXT NOT NULL,
	ip_net        TEXT NOT NULL,
	outcome       TEXT NOT NULL,
	reasons       TEXT NOT NULL,
	signals       BLOB NOT NULL,
	feedback      TEXT NOT NULL DEFAULT '',
	feedback_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX decisions_created ON decisions (created_at);

-- Which devices were seen with which accounts of a relying party, and
-- when first. Written once per pair: a pair seen again costs no write.
CREATE TABLE account_devices (
	rp_id      TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	account    TEXT NOT NULL,
	first_seen INTEGER NOT NULL,
	PRIMARY KEY (rp_id, device_id, account)
) WITHOUT ROWID;
