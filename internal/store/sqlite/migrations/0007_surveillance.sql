-- Public-health surveillance (docs/SURVEILLANCE.md): daily aggregates of
-- distinct devices, and the outbreak alerts raised on them. On purpose no
-- table here has a device id, a device tag or a salt: a closed day is only
-- numbers. Days are civil dates in days since 1970-01-01.
CREATE TABLE surveillance_days (
    day          INTEGER PRIMARY KEY,
    closed_at    INTEGER NOT NULL,
    dropped_keys INTEGER NOT NULL
);

CREATE TABLE surveillance_reporting (
    day       INTEGER NOT NULL REFERENCES surveillance_days (day),
    region    TEXT NOT NULL,
    devices   INTEGER NOT NULL,
    saturated INTEGER NOT NULL,
    PRIMARY KEY (day, region)
) WITHOUT ROWID;

CREATE TABLE surveillance_counts (
    day         INTEGER NOT NULL REFERENCES surveillance_days (day),
    key         TEXT NOT NULL,
    region      TEXT NOT NULL,
    devices     INTEGER NOT NULL,
    new_devices INTEGER NOT NULL,
    saturated   INTEGER NOT NULL,
    PRIMARY KEY (day, key, region)
) WITHOUT ROWID;
-- A key's series reads by key over a range of days.
CREATE INDEX surveillance_counts_key ON surveillance_counts (key, day);

CREATE TABLE surveillance_alerts (
    id         TEXT PRIMARY KEY,
    day        INTEGER NOT NULL,
    key        TEXT NOT NULL,
    method     TEXT NOT NULL,
    observed   REAL NOT NULL,
    expected   REAL NOT NULL,
    statistic  REAL NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (day, key, method)
);
