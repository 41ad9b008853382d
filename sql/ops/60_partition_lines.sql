-- Partitioned mode: the patient each staged record belongs to (_part_stage: file_no, line_no, raw).
-- Patient -> its own id; other resources -> subject / patient / beneficiary reference (Patient/<id>, also at the
-- end of an absolute URL); no patient -> NULL (a shared resource: Medication, Practitioner, Organization...).
-- Invalid JSON -> '' (kept in partition 0 only, where the loader quarantines it once).
CREATE OR REPLACE TEMP TABLE _part_keyed AS
WITH t AS (SELECT file_no, line_no, raw, rtrim(ltrim(try(decode(raw)), chr(65279)), chr(10) || chr(13)) AS txt FROM _part_stage),
v AS (SELECT *, txt IS NOT NULL AND json_valid(txt) AS ok FROM t)
SELECT file_no, line_no, raw,
       CASE WHEN NOT ok THEN ''
            WHEN json_extract_string(txt, '$.resourceType') = 'Patient' THEN json_extract_string(txt, '$.id')
            ELSE nullif(regexp_extract(coalesce(json_extract_string(txt, '$.subject.reference'),
                                                json_extract_string(txt, '$.patient.reference'),
                                                json_extract_string(txt, '$.beneficiary.reference'), ''),
                                       '(?:^|/)Patient/([^/]+?)(?:/_history/[^/]*)?$', 1), '')
       END AS patient
FROM v;
