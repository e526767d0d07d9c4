-- The TPM attestation key (AK) of a hardware-bound device (docs/TPM.md):
-- its TPMT_PUBLIC, stored when credential activation proved it lives in the
-- device's TPM. Reports of a device with a row here must carry a quote this
-- key signed. Devices enrolled before quotes have no row.
CREATE TABLE device_aks (
	device_id TEXT PRIMARY KEY REFERENCES devices (id),
	ak_public BYTEA NOT NULL,
	stored_at BIGINT NOT NULL
);
