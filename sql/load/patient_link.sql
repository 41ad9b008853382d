-- patient_link: merged patients (clinical-rules.md 8). A Patient whose `link` says replaced-by (or that another
-- Patient `replaces`) is screened as the patient it points to: every typed table's patient_id is moved to the
-- final target (chains followed up to 10 links; a cycle keeps the ids as they are), so one person is one row.
-- Rebuilt whole on every load (it is small, derived from `patient`); patient_link_apply.sql moves the rows.
CREATE OR REPLACE TABLE patient_link AS
WITH RECURSIVE edge AS (
    SELECT DISTINCT id AS from_id, replaced_by AS to_id FROM patient
    WHERE replaced_by IS NOT NULL AND replaced_by <> id
    UNION
    SELECT DISTINCT r AS from_id, id AS to_id FROM (SELECT id, unnest(replaces) AS r FROM patient)
    WHERE r IS NOT NULL AND r <> id
),
one AS (  -- one outgoing link per record (replaced-by on the record itself first, then the lowest target)
    SELECT e.from_id, min(e.to_id) AS to_id FROM edge e GROUP BY e.from_id
),
walk(from_id, to_id, depth) AS (
    SELECT from_id, to_id, 1 FROM one
    UNION ALL
    SELECT w.from_id, o.to_id, w.depth + 1
    FROM walk w JOIN one o ON o.from_id = w.to_id
    WHERE w.depth < 10 AND o.to_id <> w.from_id
)
SELECT from_id, arg_max(to_id, depth) AS to_id, max(depth) AS links
FROM walk GROUP BY from_id;
