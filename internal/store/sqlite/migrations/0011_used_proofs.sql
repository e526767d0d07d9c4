-- Proofs of possession already used for a decision, by SHA-256, until they
-- stop verifying: a proof buys one decision, also after a restart.
CREATE TABLE used_proofs (
	sum        BLOB PRIMARY KEY,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX used_proofs_expires ON used_proofs (expires_at);
