-- Status resources are purged by age (server maintenance).
CREATE INDEX taxii_status_created ON taxii_status (created_at);
