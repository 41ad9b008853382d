-- Run history of the worklist (issue 11): kept across re-loads and re-screens; only ever appended to.
CREATE TABLE IF NOT EXISTS worklist_run (
    run_id      VARCHAR PRIMARY KEY,
    run_seq     INTEGER NOT NULL,      -- 1, 2, ... in run order
    as_of       DATE NOT NULL,
    snapshot_at TIMESTAMPTZ NOT NULL,  -- when the dispositions were read; a disposition after it is for the next run
    screened    INTEGER,
    listed      INTEGER,               -- listed by the rules (active + suppressed)
    active      INTEGER,               -- on the exported worklist
    suppressed  INTEGER,               -- off the list because of an open disposition
    new         INTEGER,
    continuing  INTEGER,
    changed     INTEGER,
    back        INTEGER,
    resolved    INTEGER,
    completed   BOOLEAN NOT NULL DEFAULT false  -- set once every file is written: only completed runs are "previous"
);

-- One row per listed patient per run. fingerprint = md5 of the sorted markers and unaddressed causes: "new
-- evidence" means it changed; new evidence ids alone keep the row `continuing`.
CREATE TABLE IF NOT EXISTS worklist_history (
    run_id           VARCHAR NOT NULL,
    patient_id       VARCHAR NOT NULL,
    priority         VARCHAR,
    markers          VARCHAR[],
    causes           VARCHAR[],
    unaddressed      VARCHAR[],
    evidence_ids     VARCHAR[],
    fingerprint      VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,  -- new | continuing | changed | back: review due | back: new evidence | suppressed
    suppressed       BOOLEAN NOT NULL,
    safety           BOOLEAN NOT NULL,
    care_team        VARCHAR NOT NULL,
    first_listed     DATE NOT NULL,
    last_disposition VARCHAR,
    disposition_status VARCHAR,
    ord              INTEGER,           -- the worklist's row order this run
    PRIMARY KEY (run_id, patient_id)
);

-- Patients on the previous run's list (active or suppressed) and not on this one, with why.
CREATE TABLE IF NOT EXISTS worklist_resolved (
    run_id      VARCHAR NOT NULL,
    patient_id  VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,     -- treated | work-up resulted | cause gone | deceased | data removed
    last_priority VARCHAR,
    last_unaddressed VARCHAR[],
    first_listed DATE,
    PRIMARY KEY (run_id, patient_id)
);

-- Filled by the loader since issue 11; exists (empty) for databases loaded before.
CREATE TABLE IF NOT EXISTS care_team (patient_id VARCHAR, care_team VARCHAR, care_team_ref VARCHAR);
