-- Partitioned mode, merged run report: per resource type loaded / quarantined / stored over all partitions, the
-- numbers a single-process first load reports (sql/ops/20_report_types.sql). Inputs (built by
-- screening/partition.py from the ATTACHed partition files): _part_raw_types and _part_q_types, one row per
-- partition k, resource type and `shared` (the record came from a `.shared` file, of which every partition holds
-- the same copy: counted from partition 0 only). Each partition is a fresh load, so loaded = stored.
-- A quarantined record's resourceType is untrusted text: types loaded in no partition count as '(other)'.
WITH known AS (SELECT DISTINCT resource_type FROM _part_raw_types),
q AS (
    SELECT CASE WHEN resource_type IN (SELECT resource_type FROM known) THEN resource_type ELSE '(other)' END
               AS resource_type,
           sum(n) FILTER (WHERE NOT shared OR k = 0) AS quarantined
    FROM _part_q_types GROUP BY ALL
),
r AS (
    SELECT resource_type, sum(n) FILTER (WHERE NOT shared OR k = 0) AS stored FROM _part_raw_types GROUP BY ALL
)
SELECT resource_type, CAST(coalesce(stored, 0) AS BIGINT) AS loaded, CAST(coalesce(quarantined, 0) AS BIGINT)
       AS quarantined, CAST(coalesce(stored, 0) AS BIGINT) AS stored
FROM r FULL JOIN q USING (resource_type)
ORDER BY resource_type = '(other)', resource_type;
