-- Run history (operations): one row per finished pipeline run, and who was listed in it, so the next run can
-- count new and resolved patients. Counts and ids only; retention (housekeeping.run_history_days) prunes both.
CREATE TABLE IF NOT EXISTS run_record (
    run_id         VARCHAR PRIMARY KEY,
    finished_at    TIMESTAMPTZ NOT NULL,
    as_of          DATE,
    load_run_id    VARCHAR,
    screen_run_id  VARCHAR,
    screened       BIGINT,
    listed         BIGINT,
    new_listed     BIGINT,
    resolved       BIGINT,
    fingerprint    VARCHAR,            -- state the analytics snapshot was published from
    snapshot       VARCHAR             -- path of the snapshot published by this run (NULL: unchanged, skipped)
);

CREATE TABLE IF NOT EXISTS run_listed (
    run_id     VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    priority   VARCHAR
);
