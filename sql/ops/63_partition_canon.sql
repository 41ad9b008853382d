-- Canonical id per linked patient (both ends of every link edge map to it; ties -> the smallest).
CREATE OR REPLACE TEMP TABLE _part_canon AS
WITH e AS (
    SELECT pid, other, CASE WHEN link_type = 'replaced-by' THEN other ELSE least(pid, other) END AS canonical
    FROM _part_link WHERE other <> '' AND pid IS NOT NULL
)
SELECT id, min(canonical) AS canonical
FROM (SELECT pid AS id, canonical FROM e UNION ALL SELECT other, canonical FROM e)
GROUP BY id;
