-- Batches of phase 1 (screening/load/loader.py _Batches): keep each batch's compact results in _acc_* tables.
INSERT INTO _acc_good SELECT * FROM _good;
INSERT INTO _acc_q SELECT * FROM _q;
INSERT INTO _acc_deletion SELECT * FROM _deletion;
INSERT INTO _acc_ref_map_new SELECT * FROM _ref_map_new;
INSERT INTO _acc_blank SELECT * FROM _blank;
INSERT INTO _acc_empty_bundle SELECT * FROM _empty_bundle;
