-- Partitioned mode: the partitions' worklists as one, ranked again over everyone with the rank order of
-- sql/screens/95_worklist.sql (safety first, priority, lowest score, latest evidence, patient id; keep the two in
-- step: the partition tests compare the merged worklist byte for byte). _part_worklist holds the UNION ALL of
-- the partitions' `worklist` rows plus `_safety` from their screen_patient.
CREATE OR REPLACE TABLE worklist AS
SELECT * EXCLUDE (_safety) REPLACE (
    CAST(row_number() OVER (ORDER BY _safety DESC,
                                     CASE priority WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
                                     worst_score ASC NULLS LAST, latest_evidence_date DESC NULLS LAST,
                                     patient_id) AS INTEGER) AS rank)
FROM _part_worklist;
