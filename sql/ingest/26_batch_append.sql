-- Batches of phase 1 (screening/load/loader.py _Batches): keep each batch's compact results in the _acc_* tables
-- (sql/ingest/02_accumulators.sql; _acc_good is written by 20_validate.sql itself).
INSERT INTO _acc_q SELECT * FROM _q;
INSERT INTO _acc_deletion SELECT * FROM _deletion;
INSERT INTO _acc_ref_map_new SELECT * FROM _ref_map_new;
INSERT INTO _acc_blank SELECT * FROM _blank;
INSERT INTO _acc_empty_bundle SELECT * FROM _empty_bundle;
