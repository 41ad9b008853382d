-- Listed patients by priority and by unaddressed cause (rule ids from config: no patient data).
SELECT 'priority' AS dimension, priority AS value, count(*) AS patients FROM worklist GROUP BY ALL
UNION ALL
SELECT 'cause', cause, count(*) FROM (SELECT unnest(string_split(unaddressed, ';')) AS cause FROM worklist)
WHERE cause <> '' GROUP BY ALL
ORDER BY dimension DESC, patients DESC, value;
