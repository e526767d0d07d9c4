-- Who added each TAXII object, and whether only that partner may read it
-- back: a partner's TLP:AMBER, AMBER+STRICT or RED objects (docs/TAXII.md).
ALTER TABLE taxii_objects ADD COLUMN posted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE taxii_objects ADD COLUMN poster_only INTEGER NOT NULL DEFAULT 0;

-- Objects stored before this migration: the poster is unknown, so one
-- marked AMBER, AMBER+STRICT or RED (TLP 1.0 or 2.0 ids, in
-- object_marking_refs or a granular marking) is served to no partner.
-- Healthgate's own objects were only ever marked TLP:GREEN.
UPDATE taxii_objects SET poster_only = 1
WHERE EXISTS (
	SELECT 1 FROM json_each(CAST(body AS TEXT), '$.object_marking_refs') m
	WHERE m.value IN (
		'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
		'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
		'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
		'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
		'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1')
) OR EXISTS (
	SELECT 1 FROM json_tree(CAST(body AS TEXT), '$.granular_markings') g
	WHERE g.key = 'marking_ref' AND g.value IN (
		'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
		'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
		'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
		'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
		'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1')
);
