-- dispositions.csv: every disposition the run read, oldest first.
SELECT patient_id, status, note, review_date, recorded_by, recorded_at, source
FROM disposition_snapshot ORDER BY recorded_at, id;
