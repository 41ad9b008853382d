-- Step 3: keep one version per resource type and id: highest meta.versionId, then latest meta.lastUpdated,
-- then the last loaded. Then apply Bulk Data deletions and record the Bundle reference map.
-- Versions are ranked on narrow keys; the JSON text joins in only for the winners.
CREATE OR REPLACE TEMP TABLE _cand AS
SELECT resource_type, id, version_id, last_updated, $seq_base + rec_no AS load_seq, rec_no, true AS is_new
FROM _good
UNION ALL
SELECT rr.resource_type, rr.id, rr.version_id, rr.last_updated, rr.load_seq, NULL, false AS is_new
FROM resource_raw rr SEMI JOIN (SELECT DISTINCT resource_type, id FROM _good) g USING (resource_type, id);

CREATE OR REPLACE TEMP TABLE _winner AS
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (
        PARTITION BY resource_type, id
        ORDER BY try_cast(version_id AS BIGINT) DESC NULLS LAST, version_id DESC NULLS LAST,
                 try_cast(last_updated AS TIMESTAMPTZ) DESC NULLS LAST, load_seq DESC) AS rn
    FROM _cand
) WHERE rn = 1;

-- Counts for the run record (computed before resource_raw changes).
CREATE OR REPLACE TEMP TABLE _merge_stats AS
WITH old AS (
    SELECT rr.resource_type, rr.id, rr.body FROM resource_raw rr
    SEMI JOIN (SELECT resource_type, id FROM _winner WHERE is_new) w USING (resource_type, id)
)
SELECT
    count(*) FILTER (WHERE w.is_new AND o.id IS NULL) AS inserted,
    count(*) FILTER (WHERE w.is_new AND o.id IS NOT NULL AND o.body <> g.text) AS replaced
FROM _winner w
LEFT JOIN old o USING (resource_type, id)
LEFT JOIN _good g ON g.rec_no = w.rec_no;

DELETE FROM resource_raw
WHERE (resource_type, id) IN (SELECT resource_type, id FROM _winner WHERE is_new);

INSERT INTO resource_raw
SELECT g.resource_type, g.id, g.version_id, g.last_updated, g.source_file, g.source_line, g.source_entry,
       $run_id, w.load_seq, g.text
FROM _winner w JOIN _good g ON g.rec_no = w.rec_no
WHERE w.is_new;

INSERT INTO deleted_resource
SELECT resource_type, id, NULL, $run_id, $seq_base + (1::HUGEINT << 63) + row_number() OVER ()
FROM _deletion;

DELETE FROM resource_raw WHERE (resource_type, id) IN (SELECT resource_type, id FROM _deletion);

DELETE FROM bundle_ref_map WHERE source_file IN (SELECT DISTINCT source_file FROM _ref_map_new);
INSERT INTO bundle_ref_map SELECT source_file, full_url, ref FROM _ref_map_new;
