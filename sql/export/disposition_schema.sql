-- The dispositions file's one table (also the shape of disposition_snapshot in the main database).
-- Rows are only ever added. A later version that needs a column adds it below with
-- ALTER TABLE disposition ADD COLUMN IF NOT EXISTS ..., so an older file keeps working.
CREATE TABLE IF NOT EXISTS disposition (
    id          VARCHAR PRIMARY KEY,
    patient_id  VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,     -- a status of config/dispositions.csv
    note        VARCHAR,              -- free text (PHI: never logged, never in de-identified output)
    review_date DATE,
    recorded_by VARCHAR NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    source      VARCHAR NOT NULL      -- cli | import:<file name>
);
