-- Batches of phase 1 (screening/load/loader.py _Batches): keep each batch's compact results in _acc_* tables.
CREATE OR REPLACE TEMP TABLE _acc_good AS SELECT * FROM _good;
CREATE OR REPLACE TEMP TABLE _acc_q AS SELECT * FROM _q;
CREATE OR REPLACE TEMP TABLE _acc_deletion AS SELECT * FROM _deletion;
CREATE OR REPLACE TEMP TABLE _acc_ref_map_new AS SELECT * FROM _ref_map_new;
CREATE OR REPLACE TEMP TABLE _acc_blank AS SELECT * FROM _blank;
CREATE OR REPLACE TEMP TABLE _acc_empty_bundle AS SELECT * FROM _empty_bundle;
