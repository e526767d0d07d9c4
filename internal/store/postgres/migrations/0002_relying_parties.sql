-- Relying parties, their API keys, the decisions made for them and the
-- (device, account) pairs those decisions saw. Times are Unix
-- milliseconds (0: none), as in the SQLite backend.
CREATE TABLE relying_parties (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL
);

-- Only the SHA-256 of a key's secret is kept. scopes is a JSON array.
CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	rp_id      TEXT NOT NULL REFERENCES relying_parties (id),
	hash       BYTEA NOT NULL,
	scopes     TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_rp ON api_keys (rp_id, created_at, id);

-- account, payee and ip_net are keyed hashes (see docs/DECISIONS.md).
-- reasons is a JSON array of strings (JSON rather than TEXT[]: a reason
-- may hold any character, NUL included). signals is the JSON answered,
-- kept byte for byte. seq is the insertion order, which DecisionsSince
-- follows within one millisecond.
CREATE TABLE decisions (
	id            TEXT PRIMARY KEY,
	seq           BIGINT GENERATED ALWAYS AS IDENTITY,
	rp_id         TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	event         TEXT NOT NULL,
	account       TEXT NOT NULL,
	device_id     TEXT NOT NULL,
	amount        TEXT NOT NULL,
	amount_value  DOUBLE PRECISION NOT NULL,
	currency      TEXT NOT NULL,
	channel       TEXT NOT NULL,
	payee         TEXT NOT NULL,
	merchant_host TEXT NOT NULL,
	ip_net        TEXT NOT NULL,
	outcome       TEXT NOT NULL,
	reasons       TEXT NOT NULL,
	signals       BYTEA NOT NULL,
	feedback      TEXT NOT NULL DEFAULT '',
	feedback_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX decisions_created ON decisions (created_at, seq);

-- Which devices were seen with which accounts of a relying party, and
-- when first. Written once per pair: a pair seen again costs no write.
CREATE TABLE account_devices (
	rp_id      TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	account    TEXT NOT NULL,
	first_seen BIGINT NOT NULL,
	PRIMARY KEY (rp_id, device_id, account)
);
