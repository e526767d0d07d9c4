-- Partner organisations exchanging STIX over TAXII (docs/TAXII.md). The
-- final schema of SQLite's 0005_partners.sql and 0009_taxii_poster.sql.
-- Partner times are Unix milliseconds; TAXII object times and pull state
-- are microseconds, the precision of TAXII's added_after.
CREATE TABLE partners (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL UNIQUE,
	read_collections  TEXT[] NOT NULL,
	write_collections TEXT[] NOT NULL,
	created_at        BIGINT NOT NULL
);

-- Only the SHA-256 of a token's secret is kept.
CREATE TABLE partner_tokens (
	id         TEXT PRIMARY KEY,
	partner_id TEXT NOT NULL REFERENCES partners (id),
	hash       BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX partner_tokens_partner ON partner_tokens (partner_id);

-- One row per object version. The body is the object's JSON byte for byte
-- (BYTEA, not JSONB, which would rewrite it). id sorts bytewise (COLLATE
-- "C") whatever the database's collation, as in SQLite, so pages come in
-- the same order on both backends. posted_by is the partner that added
-- the object ('' for Healthgate's own); poster_only: only that partner may
-- read it back (its TLP:AMBER, AMBER+STRICT or RED objects).
CREATE TABLE taxii_objects (
	collection   TEXT NOT NULL,
	id           TEXT COLLATE "C" NOT NULL,
	version      BIGINT NOT NULL,
	type         TEXT NOT NULL,
	spec_version TEXT NOT NULL,
	date_added   BIGINT NOT NULL,
	body         BYTEA NOT NULL,
	posted_by    TEXT NOT NULL DEFAULT '',
	poster_only  BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (collection, id, version)
);
CREATE INDEX taxii_objects_added ON taxii_objects (collection, date_added, id, version);

-- A status resource, kept as the JSON answered; created_at in milliseconds.
CREATE TABLE taxii_status (
	id         TEXT PRIMARY KEY,
	partner_id TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	body       BYTEA NOT NULL
);
CREATE INDEX taxii_status_created ON taxii_status (created_at);

-- Where `intel pull` resumes each partner collection.
CREATE TABLE taxii_pull_state (
	partner     TEXT NOT NULL,
	collection  TEXT NOT NULL,
	added_after BIGINT NOT NULL,
	PRIMARY KEY (partner, collection)
);
