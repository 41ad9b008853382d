-- The worklist as exported: every column of `worklist` in its order, listed patients in priority order.
SELECT * EXCLUDE (rank) FROM worklist ORDER BY rank;
