-- Per resource type for one load run: loaded (stored rows this load wrote: new, newer or identical re-load),
-- quarantined, and stored in the database now.
-- A quarantined record's resourceType is untrusted text: types never loaded are counted as '(other)'.
WITH known AS (SELECT DISTINCT resource_type FROM resource_raw),
q AS (
    SELECT CASE WHEN q.resource_type IN (SELECT resource_type FROM known) THEN q.resource_type
                ELSE '(other)' END AS resource_type,
           count(*) AS quarantined
    FROM quarantine q WHERE q.load_run_id = $load_run_id GROUP BY ALL
),
r AS (
    SELECT resource_type, count(*) FILTER (WHERE load_run_id = $load_run_id) AS loaded, count(*) AS stored
    FROM resource_raw GROUP BY ALL
)
SELECT resource_type, coalesce(loaded, 0) AS loaded, coalesce(quarantined, 0) AS quarantined,
       coalesce(stored, 0) AS stored
FROM r FULL JOIN q USING (resource_type)
ORDER BY resource_type = '(other)', resource_type;
