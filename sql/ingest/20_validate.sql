-- Step 2b: the checks. Element rules (config/plausible_ranges.csv, in _range; their values in _fv, one row per
-- record and rule): a value of the wrong JSON type makes the record ill-formed (quarantined); a number outside its
-- plausible range, or non-finite, is a field problem (the record loads without that field).
CREATE OR REPLACE TEMP TABLE _fv_flat AS
SELECT f.rec_no, f.rule, g.path, g.json_type, g.lo, g.hi, v, json_type(v) AS jt
FROM (SELECT rec_no, rule, unnest(vals) AS v FROM _fv) f JOIN _range g USING (rule)
WHERE v IS NOT NULL;

CREATE OR REPLACE TEMP TABLE _fv_type AS
SELECT rec_no, list({'field': path, 'reason': CASE json_type
                        WHEN 'number' THEN 'a number written as ' || lower(jt) || ' (' || left(CAST(v AS VARCHAR), 40)
                                           || '); FHIR JSON requires a JSON number'
                        ELSE 'a boolean written as ' || lower(jt) || ' (' || left(CAST(v AS VARCHAR), 40)
                             || '); FHIR JSON requires true or false' END} ORDER BY rule) AS problems
FROM _fv_flat
WHERE (json_type = 'number' AND jt NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT'))
   OR (json_type = 'boolean' AND jt <> 'BOOLEAN')
GROUP BY rec_no;

CREATE OR REPLACE TEMP TABLE _fv_range AS
SELECT rec_no, path AS field,
       'implausible value ' || left(CAST(v AS VARCHAR), 40) || ': outside the plausible range ['
       || coalesce(CAST(lo AS VARCHAR), '-inf') || ', ' || coalesce(CAST(hi AS VARCHAR), 'inf')
       || '] of config/plausible_ranges.csv; the field is treated as absent' AS reason
FROM _fv_flat
WHERE json_type = 'number' AND jt IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')
  AND NOT (isfinite(CAST(v AS DOUBLE)) AND CAST(v AS DOUBLE) >= coalesce(lo, -1e308)
           AND CAST(v AS DOUBLE) <= coalesce(hi, 1e308));

DROP TABLE _fv_flat;
DROP TABLE _fv;

-- The type an NDJSON file is named for (Observation.ndjson, Observation.002.ndjson), once per file, not per record.
CREATE OR REPLACE TEMP TABLE _file_type AS
SELECT source_file, nullif(file_type, '') AS file_type, list_contains($fhir_types, file_type) AS known
FROM (SELECT source_file, regexp_extract(regexp_replace(source_file, '^.*/', ''), '^([A-Z][A-Za-z]+)', 1) AS file_type
      FROM (SELECT DISTINCT source_file FROM _res WHERE file_kind = 'ndjson'));

-- A view, read once by _problem: the checked struct of every record is not copied again.
CREATE OR REPLACE TEMP VIEW _base AS
    SELECT r.rec_no, r.rtype, r.c, r.full_url, r.file_kind, r.source_file,
           CASE WHEN json_type(c.id) = 'VARCHAR' THEN c.id ->> '$' END AS id_text,
           ft.file_type, coalesce(ft.known, false) AS file_type_known,
           coalesce(m.ref, c.subject.reference) AS subject_resolved,
           CASE WHEN r.c.dosage IS NOT NULL AND json_type(r.c.dosage) = 'ARRAY'
                THEN json_extract(r.c.dosage, '$[0].doseAndRate[0].doseQuantity.value') END AS dose_ms,
           CASE WHEN r.c.dosage IS NOT NULL AND json_type(r.c.dosage) = 'OBJECT'
                THEN json_extract(r.c.dosage, '$.dose.value') END AS dose_ma,
           CASE WHEN r.c.dosageInstruction IS NOT NULL
                THEN json_extract(r.c.dosageInstruction, '$[0].doseAndRate[0].doseQuantity.value') END AS dose_mr,
           CASE WHEN r.c.dosage IS NOT NULL AND json_type(r.c.dosage) = 'ARRAY'
                THEN json_extract(r.c.dosage, '$[0].timing.repeat.period') END AS period_ms,
           CASE WHEN r.c.dosageInstruction IS NOT NULL
                THEN json_extract(r.c.dosageInstruction, '$[0].timing.repeat.period') END AS period_mr,
           CASE WHEN r.c.dosage IS NOT NULL AND json_type(r.c.dosage) = 'ARRAY'
                THEN json_extract(r.c.dosage, '$[*].doseAndRate[*].doseQuantity.value') END AS doses_ms,
           CASE WHEN r.c.dosageInstruction IS NOT NULL AND json_type(r.c.dosageInstruction) = 'ARRAY'
                THEN json_extract(r.c.dosageInstruction, '$[*].doseAndRate[*].doseQuantity.value') END AS doses_mr
    FROM _res r
    LEFT JOIN _ref_map_new m ON m.source_file = r.source_file AND m.full_url = r.c.subject.reference
    LEFT JOIN _file_type ft ON ft.source_file = r.source_file AND r.file_kind = 'ndjson';

-- The dates of a batch, each distinct value checked once (records share dates): the invalid ones. Usually none,
-- and then _problem builds no date list at all.
CREATE OR REPLACE TEMP TABLE _bad_date AS
WITH dates AS MATERIALIZED (SELECT DISTINCT d FROM (
    SELECT unnest([c.birthDate, c.effectiveDateTime, c.effectiveInstant, c.effectivePeriod."start",
                   c.effectivePeriod."end", c.issued, c.onsetDateTime, c.recordedDate, c.abatementDateTime,
                   c.authoredOn, c.dateAsserted, c.performedDateTime, c.performedPeriod."start",
                   c.performedPeriod."end", c.dispenseRequest.validityPeriod."start",
                   c.dispenseRequest.validityPeriod."end", c.meta.lastUpdated]) AS d FROM _res
))
SELECT d FROM dates WHERE d IS NOT NULL AND fhir_date_invalid(d);

-- Every check is a boolean in `flags` (one pass, no lists); the {field, reason} list is built only for the few
-- records where one is true (building it for every record was a fifth of this statement's time). A record with any
-- problem is quarantined, every problem named.
CREATE OR REPLACE TEMP TABLE _problem AS
WITH flags AS (
    SELECT b.rec_no, b.rtype, b.c, b.file_type, b.subject_resolved, b.dose_ms, b.dose_ma, b.dose_mr,
           b.period_ms, b.period_mr, b.doses_ms, cf.field AS cf_field, cf.reason AS cf_reason,
           ft.problems AS type_problems, bd.dates,
           b.c.id IS NULL AND coalesce(b.full_url, '') NOT LIKE 'urn:uuid:%' AS id_missing,
           b.c.id IS NOT NULL AND (b.id_text IS NULL OR NOT regexp_full_match(b.id_text, '[A-Za-z0-9\-\.]{1,64}'))
               AS id_invalid,
           b.file_kind = 'ndjson' AND b.file_type_known AND b.rtype <> b.file_type AS wrong_file,
           st.rtype IS NOT NULL AND b.c.subject.reference IS NULL AS subject_missing,
           st.rtype IS NOT NULL AND b.c.subject.reference LIKE 'urn:uuid:%' AND b.subject_resolved LIKE 'urn:uuid:%'
               AS subject_unresolved,
           st.rtype IS NOT NULL AND b.c.subject.reference IS NOT NULL AND b.c.subject.reference NOT LIKE 'urn:uuid:%'
               AND ref_id(b.subject_resolved, 'Patient') IS NULL AS subject_not_patient,
           v.rtype IS NOT NULL AND b.c.status IS NULL AS status_missing,
           v.rtype IS NOT NULL AND b.c.status IS NOT NULL
               AND (json_type(b.c.status) <> 'VARCHAR' OR NOT list_contains(v.codes, b.c.status ->> '$')) AS status_bad,
           fhir_date_end(b.c.effectivePeriod."end") < fhir_date(b.c.effectivePeriod."start") AS period_reversed,
           json_not_positive(b.c.dispenseRequest.expectedSupplyDuration.value) AS supply_not_positive,
           list_bool_or(list_transform(coalesce(b.doses_ms, []) || coalesce(b.doses_mr, []),
                                       lambda x: json_type(x) IN ('BIGINT', 'DOUBLE', 'HUGEINT')
                                                 AND CAST(x AS DOUBLE) < 0))
               AND NOT coalesce(json_negative(b.dose_ms), false) AND NOT coalesce(json_negative(b.dose_mr), false)
               AS later_dose_negative,
           [b.c.valueQuantity.value, b.dose_ms, b.dose_ma, b.dose_mr, b.c.dispenseRequest.expectedSupplyDuration.value]
               AS nums,
           list_bool_or(list_transform(nums, lambda x: json_not_number(x))) AS num_text,
           list_bool_or(list_transform([b.period_ms, b.period_mr], lambda x: json_not_positive(x)))
               AS period_not_positive,
           list_bool_or(list_transform([b.dose_ms, b.dose_ma, b.dose_mr], lambda x: json_negative(x))) AS dose_negative
    FROM _base b
    LEFT JOIN _status_vs v ON v.rtype = b.rtype
    LEFT JOIN _subject_types st ON st.rtype = b.rtype
    LEFT JOIN _conflict cf ON cf.rec_no = b.rec_no
    LEFT JOIN _fv_type ft ON ft.rec_no = b.rec_no
    CROSS JOIN (SELECT list(d) AS dates FROM _bad_date) bd
), checks AS (
    SELECT f.rec_no,
        list_filter([
            CASE WHEN id_missing THEN {'field': 'id', 'reason': 'missing id'} END,
            CASE WHEN id_invalid
                 THEN {'field': 'id', 'reason': 'id is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)'} END,
            CASE WHEN wrong_file
                 THEN {'field': 'resourceType',
                       'reason': 'resourceType ' || rtype || ' in a file for ' || file_type} END,
            CASE WHEN subject_missing THEN {'field': 'subject', 'reason': 'missing subject reference'} END,
            CASE WHEN subject_unresolved
                 THEN {'field': 'subject', 'reason': 'subject reference ' || c.subject.reference
                                                    || ' resolves to no entry of its Bundle'} END,
            CASE WHEN subject_not_patient THEN {'field': 'subject', 'reason': 'subject is not a Patient reference'} END,
            CASE WHEN status_missing THEN {'field': 'status', 'reason': 'missing required status'} END,
            CASE WHEN status_bad
                 THEN {'field': 'status', 'reason': 'status ' || CAST(c.status AS VARCHAR)
                                                   || ' is not in the FHIR value set'} END,
            CASE WHEN period_reversed
                 THEN {'field': 'effectivePeriod', 'reason': 'effectivePeriod ends before it starts'} END,
            CASE WHEN supply_not_positive
                 THEN {'field': 'dispenseRequest.expectedSupplyDuration.value',
                       'reason': 'supply duration must be positive'} END,
            CASE WHEN cf_field IS NOT NULL THEN {'field': cf_field, 'reason': cf_reason} END,
            CASE WHEN later_dose_negative
                 THEN {'field': CASE WHEN doses_ms IS NOT NULL THEN 'dosage[*].doseAndRate[*].doseQuantity.value'
                                     ELSE 'dosageInstruction[*].doseAndRate[*].doseQuantity.value' END,
                       'reason': 'dose must not be negative (a later dosage line)'} END
        ], lambda x: x IS NOT NULL)
        || coalesce(type_problems, [])
        || CASE WHEN len(dates) > 0 THEN list_transform(list_filter([
            {'field': 'birthDate', 'val': c.birthDate},
            {'field': 'effectiveDateTime', 'val': c.effectiveDateTime},
            {'field': 'effectiveInstant', 'val': c.effectiveInstant},
            {'field': 'effectivePeriod.start', 'val': c.effectivePeriod."start"},
            {'field': 'effectivePeriod.end', 'val': c.effectivePeriod."end"},
            {'field': 'issued', 'val': c.issued},
            {'field': 'onsetDateTime', 'val': c.onsetDateTime},
            {'field': 'recordedDate', 'val': c.recordedDate},
            {'field': 'abatementDateTime', 'val': c.abatementDateTime},
            {'field': 'authoredOn', 'val': c.authoredOn},
            {'field': 'dateAsserted', 'val': c.dateAsserted},
            {'field': 'performedDateTime', 'val': c.performedDateTime},
            {'field': 'performedPeriod.start', 'val': c.performedPeriod."start"},
            {'field': 'performedPeriod.end', 'val': c.performedPeriod."end"},
            {'field': 'dispenseRequest.validityPeriod.start', 'val': c.dispenseRequest.validityPeriod."start"},
            {'field': 'dispenseRequest.validityPeriod.end', 'val': c.dispenseRequest.validityPeriod."end"},
            {'field': 'meta.lastUpdated', 'val': c.meta.lastUpdated}
        ], lambda x: x.val IS NOT NULL AND list_contains(dates, x.val)),
            lambda x: {'field': x.field, 'reason': 'invalid date ''' || x.val || ''''}) ELSE [] END
        || CASE WHEN num_text THEN list_transform(list_filter([
            {'field': 'valueQuantity.value', 'val': nums[1]},
            {'field': 'dosage[0].doseAndRate[0].doseQuantity.value', 'val': nums[2]},
            {'field': 'dosage.dose.value', 'val': nums[3]},
            {'field': 'dosageInstruction[0].doseAndRate[0].doseQuantity.value', 'val': nums[4]},
            {'field': 'dispenseRequest.expectedSupplyDuration.value', 'val': nums[5]}
        ], lambda x: json_not_number(x.val)),
            lambda x: {'field': x.field, 'reason': 'a number written as ' || lower(json_type(x.val)) || ' ('
                       || left(CAST(x.val AS VARCHAR), 40) || '); FHIR JSON requires a JSON number'}) ELSE [] END
        || CASE WHEN period_not_positive THEN list_transform(list_filter([
            {'field': 'dosage[0].timing.repeat.period', 'val': period_ms},
            {'field': 'dosageInstruction[0].timing.repeat.period', 'val': period_mr}
        ], lambda x: json_not_positive(x.val)),
            lambda x: {'field': x.field, 'reason': 'timing period must be positive'}) ELSE [] END
        || CASE WHEN dose_negative THEN list_transform(list_filter([
            {'field': 'dosage[0].doseAndRate[0].doseQuantity.value', 'val': dose_ms},
            {'field': 'dosage.dose.value', 'val': dose_ma},
            {'field': 'dosageInstruction[0].doseAndRate[0].doseQuantity.value', 'val': dose_mr}
        ], lambda x: json_negative(x.val)),
            lambda x: {'field': x.field, 'reason': 'dose must not be negative'}) ELSE [] END AS problems
    FROM flags f
    WHERE id_missing OR id_invalid OR wrong_file OR subject_missing OR subject_unresolved OR subject_not_patient
       OR status_missing OR status_bad OR period_reversed OR supply_not_positive OR cf_field IS NOT NULL
       OR later_dose_negative OR type_problems IS NOT NULL OR len(dates) > 0 OR num_text OR period_not_positive
       OR dose_negative
)
SELECT rec_no, problems[1].field AS field,
       array_to_string(list_transform(problems, lambda x: x.field || ': ' || x.reason), '; ') AS reason
FROM checks WHERE len(problems) > 0;

DROP VIEW _base;
DROP TABLE _bad_date;

INSERT INTO _q
SELECT r.source_file, r.source_line, r.source_entry, r.rtype,
       CASE WHEN json_type(r.c.id) = 'VARCHAR' THEN r.c.id ->> '$' END, p.field, p.reason, encode(r.text), 'record'
FROM _res r JOIN _problem p USING (rec_no);

-- Straight into the load's accumulator (created by screening/load/loader.py): the text is copied once here.
INSERT INTO _acc_good
SELECT r.rec_no, r.rtype AS resource_type,
       coalesce(r.c.id ->> '$', regexp_extract(r.full_url, '^urn:uuid:(.+)$', 1)) AS id,
       CASE WHEN r.c.meta.versionId IS NOT NULL THEN r.c.meta.versionId ->> '$' END AS version_id,
       r.c.meta.lastUpdated AS last_updated,
       r.source_file, r.source_line, r.source_entry, r.text
FROM _res r ANTI JOIN _problem p USING (rec_no);

-- Field problems of records that load: implausible numbers, and a subject on another server. An absolute reference
-- is ours only when its base is the base recorded for this load ($fhir_base: the extraction's server); otherwise it
-- stays external and the field is quarantined (the record loads without it: it belongs to no local patient).
CREATE OR REPLACE TEMP TABLE _fieldq AS
SELECT rec_no, field, reason FROM _fv_range
UNION ALL
SELECT rec_no, 'subject.reference',
       'reference to another FHIR server (' || base || '); only references to '
       || coalesce('the load''s server ' || $fhir_base, 'a recorded server (none was recorded for this load)')
       || ' resolve locally; the field is treated as absent'
FROM (SELECT rec_no, regexp_extract(c.subject.reference, '^(https?://.*?)/?Patient/[^/]+(/_history/[^/]+)?$', 1) AS base
      FROM _res WHERE regexp_matches(c.subject.reference, '^https?://'))
WHERE base <> '' AND base IS DISTINCT FROM rtrim($fhir_base, '/');
DELETE FROM _fieldq WHERE rec_no IN (SELECT rec_no FROM _problem);
DROP TABLE _fv_range;

INSERT INTO _q
SELECT r.source_file, r.source_line, r.source_entry, r.rtype,
       CASE WHEN json_type(r.c.id) = 'VARCHAR' THEN r.c.id ->> '$' END, f.field, f.reason, encode(r.text), 'field'
FROM _res r JOIN _fieldq f USING (rec_no);
