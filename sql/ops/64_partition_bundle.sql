-- A .json file staged as one record: the distinct partitions of the patients it holds (Patient entries and
-- subject / patient references of its entries, or of the resource itself), NULL when it names none.
WITH t AS (SELECT rtrim(ltrim(try(decode(raw)), chr(65279)), chr(10) || chr(13)) AS txt FROM _part_stage),
r AS (
    SELECT unnest(CASE WHEN json_extract_string(txt, '$.resourceType') = 'Bundle'
                       THEN json_extract(txt, '$.entry[*].resource') ELSE [json(txt)] END) AS res
    FROM t WHERE txt IS NOT NULL AND json_valid(txt)
),
p AS (
    SELECT CASE WHEN json_extract_string(res, '$.resourceType') = 'Patient' THEN json_extract_string(res, '$.id')
                ELSE nullif(regexp_extract(coalesce(json_extract_string(res, '$.subject.reference'),
                                                    json_extract_string(res, '$.patient.reference'), ''),
                                           '(?:^|/)Patient/([^/]+?)$', 1), '') END AS patient
    FROM r
)
SELECT list(DISTINCT CAST(CAST(('0x' || left(md5(coalesce(c.canonical, p.patient)), 8)) AS UBIGINT)
                          % $partitions AS INTEGER))
FROM p LEFT JOIN _part_canon c ON c.id = p.patient
WHERE p.patient IS NOT NULL;
