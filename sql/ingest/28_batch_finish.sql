-- All batches done: the accumulated results take the names 30_merge.sql reads.
DROP TABLE IF EXISTS _good;
ALTER TABLE _acc_good RENAME TO _good;
DROP TABLE IF EXISTS _q;
ALTER TABLE _acc_q RENAME TO _q;
DROP TABLE IF EXISTS _deletion;
ALTER TABLE _acc_deletion RENAME TO _deletion;
DROP TABLE IF EXISTS _ref_map_new;
ALTER TABLE _acc_ref_map_new RENAME TO _ref_map_new;
DROP TABLE IF EXISTS _blank;
ALTER TABLE _acc_blank RENAME TO _blank;
DROP TABLE IF EXISTS _empty_bundle;
ALTER TABLE _acc_empty_bundle RENAME TO _empty_bundle;
