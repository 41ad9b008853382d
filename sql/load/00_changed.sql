-- Incremental maintenance of the typed tables (screening/load/typed.py): only the resources this load changed
-- (_changed, sql/ingest/30_merge.sql) and the resources that depend on them are derived again; their old typed
-- rows are deleted first (a deleted resource gets no new ones). Runs before any typed table changes, so the
-- dependants are found in the tables as they were. Every sql/load file reads _typed_src and deletes by _typed_key,
-- so the same files do the full rebuild (00_all.sql) and this; the result is the same (tests/test_load_typed_incremental.py).
CREATE OR REPLACE TEMP TABLE _typed_key AS
SELECT resource_type, id FROM _changed
UNION
-- the urn:uuid map of a file changed: every resource of that file may resolve its Bundle references differently
SELECT resource_type, id FROM resource_raw WHERE source_file IN (SELECT source_file FROM _ref_map_new)
UNION
-- a Medication changed (or appeared, or was deleted): the uses that reference it take its text and codings
SELECT source_type, id FROM medication_use
WHERE medication_ref IN (SELECT 'Medication/' || id FROM _changed WHERE resource_type = 'Medication')
UNION
-- a Binary changed: the reports whose attachment url points at it take its content type and size
SELECT d.resource_type, d.id
FROM report_text_source s
JOIN report_doc d USING (report_ref)
LEFT JOIN bundle_ref_map m ON m.source_file = d.source_file AND m.full_url = s.url
WHERE s.url IS NOT NULL
  AND coalesce(ref_id(m.ref, 'Binary'), ref_id(s.url, 'Binary'))
      IN (SELECT id FROM _changed WHERE resource_type = 'Binary');

-- The merged-patient links before this load (patient_link_moved.sql finds the patients whose link changed).
CREATE OR REPLACE TEMP TABLE _link_old AS FROM patient_link;

-- The changed resources' current versions, read once (one scan of resource_raw) for all the typed tables.
-- patient_link_moved.sql adds the resources of re-linked patients to both.
CREATE OR REPLACE TEMP TABLE _typed_src AS
SELECT r.* FROM resource_raw r SEMI JOIN _typed_key k USING (resource_type, id);
