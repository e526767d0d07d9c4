-- Proofs of possession already used for a decision, by SHA-256, until they
-- stop verifying. The primary key makes a proof single-use across every
-- node sharing the database.
CREATE TABLE used_proofs (
	sum        BYTEA PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX used_proofs_expires ON used_proofs (expires_at);
