-- Partition of every staged record: md5 of the canonical patient id modulo $partitions (stable across runs
-- and DuckDB versions); -1 = shared (every partition); invalid JSON -> partition 0.
CREATE OR REPLACE TEMP TABLE _part_assigned AS
SELECT k.file_no, k.line_no, k.raw,
       CASE WHEN k.patient IS NULL THEN -1
            WHEN k.patient = '' THEN 0
            ELSE CAST(CAST(('0x' || left(md5(coalesce(c.canonical, k.patient)), 8)) AS UBIGINT) % $partitions
                      AS INTEGER) END AS part
FROM _part_keyed k LEFT JOIN _part_canon c ON c.id = k.patient;
