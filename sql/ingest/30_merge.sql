-- Step 3: keep one version per resource type and id: highest meta.versionId, then latest meta.lastUpdated,
-- then the last loaded. Then apply Bulk Data deletions and record the Bundle reference map.
-- Versions are ranked on narrow keys; the JSON text joins in only for the winners.
-- A deleted resource never comes back from an older file: a record for a Type/id deleted by an earlier load (and
-- not re-created since) loads only when it is provably newer than the deletion (a higher versionId than the one
-- deleted, or a lastUpdated after the deletion time); otherwise it is quarantined.
CREATE OR REPLACE TEMP TABLE _resurrect AS
WITH last_del AS (
    SELECT resource_type, id, arg_max(deleted_at, load_seq) AS deleted_at, arg_max(version_id, load_seq) AS version_id
    FROM deleted_resource d
    WHERE NOT EXISTS (SELECT 1 FROM resource_raw r WHERE r.resource_type = d.resource_type AND r.id = d.id)
      AND (resource_type, id) IN (SELECT resource_type, id FROM _good)
    GROUP BY resource_type, id
)
SELECT g.rec_no, g.resource_type, g.id FROM _good g JOIN last_del d USING (resource_type, id)
WHERE NOT coalesce(version_gt(g.version_id, d.version_id), false)
  AND NOT coalesce(try_cast(g.last_updated AS TIMESTAMPTZ) > try_cast(d.deleted_at AS TIMESTAMPTZ), false);

INSERT INTO _q
SELECT g.source_file, g.source_line, g.source_entry, g.resource_type, g.id, 'meta',
       'this resource was deleted by an earlier load and this record is not newer than the deletion '
       || '(no higher meta.versionId, no later meta.lastUpdated): it stays deleted', encode(g.text), 'record'
FROM _good g WHERE rec_no IN (SELECT rec_no FROM _resurrect);
DELETE FROM _good WHERE rec_no IN (SELECT rec_no FROM _resurrect);

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
        ORDER BY version_key(version_id) DESC NULLS LAST, version_id DESC NULLS LAST,
                 try_cast(last_updated AS TIMESTAMPTZ) DESC NULLS LAST, load_seq DESC) AS rn
    FROM _cand
) WHERE rn = 1;

-- An identical record (same body as the stored winner) is `unchanged`: the stored row is kept, never rewritten.
UPDATE _winner w SET is_new = false
FROM resource_raw rr, _good g
WHERE w.is_new AND g.rec_no = w.rec_no AND rr.resource_type = w.resource_type AND rr.id = w.id AND rr.body = g.text;

-- Counts for the run record (computed before resource_raw changes).
CREATE OR REPLACE TEMP TABLE _merge_stats AS
WITH old AS (  -- identical winners were set aside above, so a new winner with a stored row replaces it
    SELECT rr.resource_type, rr.id FROM resource_raw rr
    SEMI JOIN (SELECT resource_type, id FROM _winner WHERE is_new) w USING (resource_type, id)
)
SELECT
    count(*) FILTER (WHERE w.is_new AND o.id IS NULL) AS inserted,
    count(*) FILTER (WHERE w.is_new AND o.id IS NOT NULL) AS replaced
FROM _winner w
LEFT JOIN old o USING (resource_type, id);

DELETE FROM resource_raw
WHERE (resource_type, id) IN (SELECT resource_type, id FROM _winner WHERE is_new);

INSERT INTO resource_raw
SELECT g.resource_type, g.id, g.version_id, g.last_updated, g.source_file, g.source_line, g.source_entry,
       $run_id, w.load_seq, g.text, json_keys(g.text)
FROM _winner w JOIN _good g ON g.rec_no = w.rec_no
WHERE w.is_new;

INSERT INTO deleted_resource (resource_type, id, deleted_at, load_run_id, load_seq, version_id)
SELECT d.resource_type, d.id, coalesce(d.deleted_at, strftime(now(), '%Y-%m-%dT%H:%M:%S.%f+00:00')), $run_id,
       $seq_base + (1::HUGEINT << 63) + row_number() OVER (), rr.version_id
FROM _deletion d LEFT JOIN resource_raw rr USING (resource_type, id);

DELETE FROM resource_raw WHERE (resource_type, id) IN (SELECT resource_type, id FROM _deletion);

-- Keyed by (file, fullUrl): a different Bundle loaded later under the same path adds its own urn:uuid entries and
-- leaves the earlier ones (still referenced by resources it loaded) in place; only a reused fullUrl is replaced.
DELETE FROM bundle_ref_map WHERE (source_file, full_url) IN (SELECT source_file, full_url FROM _ref_map_new);
INSERT INTO bundle_ref_map SELECT source_file, full_url, ref FROM _ref_map_new;

-- The resources this load changed: new or replaced versions and deletions. The typed tables are maintained for
-- these (and their dependants, sql/load/00_changed.sql) instead of being rebuilt from all of resource_raw.
CREATE OR REPLACE TEMP TABLE _changed AS
SELECT resource_type, id FROM _winner WHERE is_new
UNION
SELECT resource_type, id FROM _deletion;
