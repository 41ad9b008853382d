-- Every run so far, oldest first: the trend chart of the report and the summary's counts.
SELECT run_id, run_seq, as_of, screened, listed, active, suppressed, new, continuing, changed, back, resolved
FROM worklist_run ORDER BY run_seq;
