-- Public-health surveillance (docs/SURVEILLANCE.md): daily aggregates of
-- distinct devices, and the outbreak alerts raised on them. On purpose no
-- table here has a device id, a device tag or a salt: a closed day is only
-- numbers. Days are civil dates in days since 1970-01-01.
--
-- Keys, regions and methods are COLLATE "C" so that ORDER BY sorts them by
-- bytes, as SQLite does, whatever the database's default collation.
CREATE TABLE surveillance_days (
	day          BIGINT PRIMARY KEY,
	closed_at    BIGINT NOT NULL,
	dropped_keys BIGINT NOT NULL
);

CREATE TABLE surveillance_reporting (
	day       BIGINT NOT NULL REFERENCES surveillance_days (day),
	region    TEXT COLLATE "C" NOT NULL,
	devices   BIGINT NOT NULL,
	saturated BOOLEAN NOT NULL,
	PRIMARY KEY (day, region)
);

CREATE TABLE surveillance_counts (
	day         BIGINT NOT NULL REFERENCES surveillance_days (day),
	key         TEXT COLLATE "C" NOT NULL,
	region      TEXT COLLATE "C" NOT NULL,
	devices     BIGINT NOT NULL,
	new_devices BIGINT NOT NULL,
	saturated   BOOLEAN NOT NULL,
	PRIMARY KEY (day, key, region)
);
-- A key's series reads by key over a range of days.
CREATE INDEX surveillance_counts_key ON surveillance_counts (key, day);

CREATE TABLE surveillance_alerts (
	id         TEXT PRIMARY KEY,
	day        BIGINT NOT NULL,
	key        TEXT COLLATE "C" NOT NULL,
	method     TEXT COLLATE "C" NOT NULL,
	observed   DOUBLE PRECISION NOT NULL,
	expected   DOUBLE PRECISION NOT NULL,
	statistic  DOUBLE PRECISION NOT NULL,
	created_at BIGINT NOT NULL,
	-- Also the index of the listing: WHERE day >= $1 ORDER BY day, key, method.
	UNIQUE (day, key, method)
);
