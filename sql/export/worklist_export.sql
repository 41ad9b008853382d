-- The worklist as exported for run $run_id: every column of `worklist`, then the run's status columns; patients
-- with an open disposition (suppressed) are left out. Row order: the worklist's own (sql/screens/95_worklist.sql).
SELECT w.* EXCLUDE (rank), h.status, h.care_team, coalesce(h.last_disposition, '') AS last_disposition,
       h.first_listed, h.safety
FROM worklist w
JOIN worklist_history h ON h.patient_id = w.patient_id AND h.run_id = $run_id
WHERE NOT h.suppressed
ORDER BY h.ord;
