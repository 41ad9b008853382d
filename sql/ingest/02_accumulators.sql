-- What a load keeps of each batch (screening/load/loader.py _Batches), created empty once per load: every batch
-- appends its compact results here (sql/ingest/26_batch_append.sql; 20_validate.sql writes _acc_good directly),
-- so the text of a good record is copied once during phase 1. 28_batch_finish.sql gives them the names
-- 30_merge.sql reads.
CREATE OR REPLACE TEMP TABLE _acc_good (
    rec_no BIGINT, resource_type VARCHAR, id VARCHAR, version_id VARCHAR, last_updated VARCHAR,
    source_file VARCHAR, source_line BIGINT, source_entry INTEGER, text VARCHAR
);
CREATE OR REPLACE TEMP TABLE _acc_q (
    source_file VARCHAR, source_line BIGINT, source_entry INTEGER, resource_type VARCHAR, resource_id VARCHAR,
    field VARCHAR, reason VARCHAR, raw BLOB, disposition VARCHAR DEFAULT 'record'
);
CREATE OR REPLACE TEMP TABLE _acc_deletion (
    rec_no BIGINT, bundle_key VARCHAR, source_file VARCHAR, source_line BIGINT, source_entry INTEGER,
    request_url VARCHAR, resource_type VARCHAR, id VARCHAR, deleted_at VARCHAR
);
CREATE OR REPLACE TEMP TABLE _acc_ref_map_new (source_file VARCHAR, full_url VARCHAR, ref VARCHAR);
CREATE OR REPLACE TEMP TABLE _acc_blank (source_file VARCHAR, source_line BIGINT);
CREATE OR REPLACE TEMP TABLE _acc_empty_bundle (source_file VARCHAR, source_line BIGINT);
