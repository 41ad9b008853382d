-- The merged database's quarantine (screening/partition.py _merge_quarantine): the partitions' rows (_part_q, with
-- their partition number) named by the input file and line they came from (lm.line_map, written by split_source:
-- split copy + line -> input file + line), never by the split copy. A shared record (a Medication, a deletion) is
-- in every partition and quarantined in each: identical once renamed, so it is kept once. A problem with a whole
-- split file (no line) meets the map's row for the file (split_line NULL). Params: $run_id, the merged load run.
DELETE FROM main.quarantine;
INSERT INTO main.quarantine BY NAME
SELECT DISTINCT q.* EXCLUDE (part, split_file) REPLACE (
    $run_id AS load_run_id,
    coalesce(m.source_file, q.source_file) AS source_file,
    coalesce(m.source_line, q.source_line) AS source_line)
FROM (SELECT q.*, CASE WHEN starts_with(q.source_file, d.prefix) THEN substr(q.source_file, length(d.prefix) + 1)
                  END AS split_file
      FROM _part_q q JOIN _part_dir d USING (part)) q
LEFT JOIN lm.line_map m
       ON m.part = q.part AND m.split_file = q.split_file AND m.split_line IS NOT DISTINCT FROM q.source_line;
