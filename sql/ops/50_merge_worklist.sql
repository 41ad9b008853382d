-- Partitioned mode: the partitions' worklists as one, ranked again over everyone with the rank order of
-- sql/screens/95_worklist.sql (priority, lowest score, latest evidence, patient id). _part_worklist holds the
-- UNION ALL of the partitions' `worklist` tables.
CREATE OR REPLACE TABLE worklist AS
SELECT * REPLACE (
    CAST(row_number() OVER (ORDER BY CASE priority WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
                                     worst_score ASC NULLS LAST, latest_evidence_date DESC NULLS LAST,
                                     patient_id) AS INTEGER) AS rank)
FROM _part_worklist;
