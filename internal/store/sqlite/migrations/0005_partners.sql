-- Partner organisations exchanging STIX over TAXII (docs/TAXII.md).
CREATE TABLE partners (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL UNIQUE,
	read_collections  TEXT NOT NULL,
	write_collections TEXT NOT NULL,
	created_at        INTEGER NOT NULL
);

-- Only the SHA-256 of a token's secret is kept.
CREATE TABLE partner_tokens (
	id         TEXT PRIMARY KEY,
	partner_id TEXT NOT NULL REFERENCES partners (id),
	hash       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX partner_tokens_partner ON partner_tokens (partner_id);

-- One row per object version; times in microseconds since the epoch.
CREATE TABLE taxii_objects (
	collection   TEXT NOT NULL,
	id           TEXT NOT NULL,
	version      INTEGER NOT NULL,
	type         TEXT NOT NULL,
	spec_version TEXT NOT NULL,
	date_added   INTEGER NOT NULL,
	body         BLOB NOT NULL,
	PRIMARY KEY (collection, id, version)
) WITHOUT ROWID;
CREATE INDEX taxii_objects_added ON taxii_objects (collection, date_added, id, version);

CREATE TABLE taxii_status (
	id         TEXT PRIMARY KEY,
	partner_id TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	body       BLOB NOT NULL
);

-- Where `intel pull` resumes each partner collection.
CREATE TABLE taxii_pull_state (
	partner     TEXT NOT NULL,
	collection  TEXT NOT NULL,
	added_after INTEGER NOT NULL,
	PRIMARY KEY (partner, collection)
) WITHOUT ROWID;
