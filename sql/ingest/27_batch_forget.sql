-- A file that failed half way loads nothing: drop what earlier batches kept of it.
DELETE FROM _acc_good WHERE source_file = $name;
DELETE FROM _acc_q WHERE source_file = $name;
DELETE FROM _acc_deletion WHERE source_file = $name;
DELETE FROM _acc_ref_map_new WHERE source_file = $name;
DELETE FROM _acc_blank WHERE source_file = $name;
DELETE FROM _acc_empty_bundle WHERE source_file = $name;
