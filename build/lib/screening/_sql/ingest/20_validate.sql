-- Step 2: check each resource record for what the schema needs. A record with any problem goes to
-- quarantine with every problem named (field: reason); the rest are _good. DELETE entries become _deletion.
CREATE OR REPLACE TEMP TABLE _deletion AS
SELECT source_file, source_line, source_entry, request_url,
       regexp_extract(request_url, '([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})/?$', 1) AS resource_type,
       regexp_extract(request_url, '([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})/?$', 2) AS id
FROM _record WHERE request_method = 'DELETE';

INSERT INTO _q
SELECT source_file, source_line, source_entry, NULL, NULL, 'request.url',
       'DELETE entry without a Type/id request.url', encode(coalesce(request_url, ''))
FROM _deletion WHERE coalesce(id, '') = '';
DELETE FROM _deletion WHERE coalesce(id, '') = '';

-- urn:uuid fullUrls of this batch, so references inside a Bundle resolve to Type/id.
CREATE OR REPLACE TEMP TABLE _ref_map_new AS
SELECT DISTINCT source_file, full_url,
       rtype || '/' || coalesce(c.id ->> '$', regexp_extract(full_url, '^urn:uuid:(.+)$', 1)) AS ref
FROM _record
WHERE full_url IS NOT NULL AND c IS NOT NULL AND request_method IS DISTINCT FROM 'DELETE';

CREATE OR REPLACE TEMP VIEW _res AS
SELECT rec_no, source_file, source_line, source_entry, full_url, text, file_kind, rtype, c
FROM _record
WHERE request_method IS DISTINCT FROM 'DELETE';

CREATE OR REPLACE TEMP TABLE _status_vs AS
SELECT * FROM (VALUES
  ('Observation', ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error',
                   'unknown']),
  ('MedicationStatement', ['active', 'completed', 'entered-in-error', 'intended', 'stopped', 'on-hold', 'unknown',
                           'not-taken']),
  ('MedicationRequest', ['active', 'on-hold', 'cancelled', 'completed', 'entered-in-error', 'stopped', 'draft',
                         'unknown']),
  ('MedicationAdministration', ['in-progress', 'not-done', 'on-hold', 'completed', 'entered-in-error', 'stopped',
                                'unknown']),
  ('Procedure', ['preparation', 'in-progress', 'not-done', 'on-hold', 'stopped', 'completed', 'entered-in-error',
                 'unknown'])
) t(rtype, codes);

-- Resource types whose records must point at a Patient to be screened.
CREATE OR REPLACE TEMP TABLE _subject_types AS
SELECT unnest(['Observation', 'Condition', 'MedicationStatement', 'MedicationRequest', 'MedicationAdministration',
               'Procedure', 'Encounter', 'ServiceRequest']) AS rtype;

-- File names that name a resource type (Bulk Data style: Observation.ndjson, Observation.000.ndjson.gz).
CREATE OR REPLACE TEMP TABLE _known_types AS
SELECT unnest(['Patient', 'Observation', 'Condition', 'MedicationStatement', 'MedicationRequest',
               'MedicationAdministration', 'MedicationDispense', 'Medication', 'Procedure', 'Encounter',
               'ServiceRequest', 'DiagnosticReport', 'AllergyIntolerance', 'Immunization', 'Claim',
               'ExplanationOfBenefit', 'CarePlan', 'CareTeam', 'Device', 'DocumentReference', 'ImagingStudy',
               'Organization', 'Practitioner', 'PractitionerRole', 'Location', 'Group', 'Provenance',
               'FamilyMemberHistory', 'Coverage']) AS rtype;

CREATE OR REPLACE TEMP TABLE _base AS
    SELECT r.rec_no, r.rtype, r.c, r.full_url, r.file_kind, r.source_file,
           CASE WHEN json_type(c.id) = 'VARCHAR' THEN c.id ->> '$' END AS id_text,
           regexp_extract(regexp_replace(r.source_file, '^.*/', ''), '^([A-Z][A-Za-z]+)', 1) AS file_type,
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
                THEN json_extract(r.c.dosageInstruction, '$[0].timing.repeat.period') END AS period_mr
    FROM _res r
    LEFT JOIN _ref_map_new m ON m.source_file = r.source_file AND m.full_url = r.c.subject.reference;

-- One pass: every check yields a {field, reason} or NULL; a record with any problem is quarantined.
CREATE OR REPLACE TEMP TABLE _problem AS
WITH checks AS (
    SELECT b.rec_no,
        list_filter([
            CASE WHEN b.c.id IS NULL AND coalesce(b.full_url, '') NOT LIKE 'urn:uuid:%'
                 THEN {'field': 'id', 'reason': 'missing id'} END,
            CASE WHEN b.c.id IS NOT NULL
                      AND (b.id_text IS NULL OR NOT regexp_full_match(b.id_text, '[A-Za-z0-9\-\.]{1,64}'))
                 THEN {'field': 'id', 'reason': 'id is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)'} END,
            CASE WHEN b.file_kind = 'ndjson' AND b.rtype <> b.file_type AND kt.rtype IS NOT NULL
                 THEN {'field': 'resourceType', 'reason': 'resourceType ' || b.rtype || ' in a file for ' || b.file_type}
            END,
            CASE WHEN st.rtype IS NOT NULL AND b.c.subject.reference IS NULL
                 THEN {'field': 'subject', 'reason': 'missing subject reference'} END,
            CASE WHEN st.rtype IS NOT NULL AND b.c.subject.reference LIKE 'urn:uuid:%'
                      AND b.subject_resolved LIKE 'urn:uuid:%'
                 THEN {'field': 'subject', 'reason': 'subject reference ' || b.c.subject.reference
                                                    || ' resolves to no entry of its Bundle'} END,
            CASE WHEN st.rtype IS NOT NULL AND b.c.subject.reference IS NOT NULL
                      AND b.c.subject.reference NOT LIKE 'urn:uuid:%' AND ref_id(b.subject_resolved, 'Patient') IS NULL
                 THEN {'field': 'subject', 'reason': 'subject is not a Patient reference'} END,
            CASE WHEN v.rtype IS NOT NULL AND b.c.status IS NULL
                 THEN {'field': 'status', 'reason': 'missing required status'} END,
            CASE WHEN v.rtype IS NOT NULL AND b.c.status IS NOT NULL
                      AND (json_type(b.c.status) <> 'VARCHAR' OR NOT list_contains(v.codes, b.c.status ->> '$'))
                 THEN {'field': 'status', 'reason': 'status ' || CAST(b.c.status AS VARCHAR)
                                                   || ' is not in the FHIR value set'} END,
            CASE WHEN fhir_date_end(b.c.effectivePeriod."end") < fhir_date(b.c.effectivePeriod."start")
                 THEN {'field': 'effectivePeriod', 'reason': 'effectivePeriod ends before it starts'} END,
            CASE WHEN json_type(b.c.dispenseRequest.expectedSupplyDuration.value) IN ('BIGINT', 'UBIGINT', 'DOUBLE')
                      AND CAST(b.c.dispenseRequest.expectedSupplyDuration.value AS DOUBLE) <= 0
                 THEN {'field': 'dispenseRequest.expectedSupplyDuration.value',
                       'reason': 'supply duration must be positive'} END
        ], lambda x: x IS NOT NULL)
        || list_transform(list_filter([
            {'field': 'birthDate', 'val': b.c.birthDate},
            {'field': 'effectiveDateTime', 'val': b.c.effectiveDateTime},
            {'field': 'effectiveInstant', 'val': b.c.effectiveInstant},
            {'field': 'effectivePeriod.start', 'val': b.c.effectivePeriod."start"},
            {'field': 'effectivePeriod.end', 'val': b.c.effectivePeriod."end"},
            {'field': 'issued', 'val': b.c.issued},
            {'field': 'onsetDateTime', 'val': b.c.onsetDateTime},
            {'field': 'recordedDate', 'val': b.c.recordedDate},
            {'field': 'abatementDateTime', 'val': b.c.abatementDateTime},
            {'field': 'authoredOn', 'val': b.c.authoredOn},
            {'field': 'dateAsserted', 'val': b.c.dateAsserted},
            {'field': 'performedDateTime', 'val': b.c.performedDateTime},
            {'field': 'performedPeriod.start', 'val': b.c.performedPeriod."start"},
            {'field': 'performedPeriod.end', 'val': b.c.performedPeriod."end"},
            {'field': 'dispenseRequest.validityPeriod.start', 'val': b.c.dispenseRequest.validityPeriod."start"},
            {'field': 'dispenseRequest.validityPeriod.end', 'val': b.c.dispenseRequest.validityPeriod."end"},
            {'field': 'meta.lastUpdated', 'val': b.c.meta.lastUpdated}
        ], lambda x: x.val IS NOT NULL AND fhir_date_invalid(x.val)),
            lambda x: {'field': x.field, 'reason': 'invalid date ''' || x.val || ''''})
        || list_transform(list_filter([
            {'field': 'valueQuantity.value', 'val': b.c.valueQuantity.value},
            {'field': 'dosage[0].doseAndRate[0].doseQuantity.value', 'val': b.dose_ms},
            {'field': 'dosage.dose.value', 'val': b.dose_ma},
            {'field': 'dosageInstruction[0].doseAndRate[0].doseQuantity.value', 'val': b.dose_mr},
            {'field': 'dispenseRequest.expectedSupplyDuration.value',
             'val': b.c.dispenseRequest.expectedSupplyDuration.value}
        ], lambda x: x.val IS NOT NULL AND json_type(x.val) NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')),
            lambda x: {'field': x.field, 'reason': 'a number written as ' || lower(json_type(x.val)) || ' ('
                       || left(CAST(x.val AS VARCHAR), 40) || '); FHIR JSON requires a JSON number'})
        || list_transform(list_filter([
            {'field': 'dosage[0].timing.repeat.period', 'val': b.period_ms},
            {'field': 'dosageInstruction[0].timing.repeat.period', 'val': b.period_mr}
        ], lambda x: json_type(x.val) IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND CAST(x.val AS DOUBLE) <= 0),
            lambda x: {'field': x.field, 'reason': 'timing period must be positive'})
        || list_transform(list_filter([
            {'field': 'dosage[0].doseAndRate[0].doseQuantity.value', 'val': b.dose_ms},
            {'field': 'dosage.dose.value', 'val': b.dose_ma},
            {'field': 'dosageInstruction[0].doseAndRate[0].doseQuantity.value', 'val': b.dose_mr}
        ], lambda x: json_type(x.val) IN ('BIGINT', 'DOUBLE') AND CAST(x.val AS DOUBLE) < 0),
            lambda x: {'field': x.field, 'reason': 'dose must not be negative'}) AS problems
    FROM _base b
    LEFT JOIN _status_vs v ON v.rtype = b.rtype
    LEFT JOIN _subject_types st ON st.rtype = b.rtype
    LEFT JOIN _known_types kt ON kt.rtype = b.file_type
)
SELECT rec_no, problems[1].field AS field,
       array_to_string(list_transform(problems, lambda x: x.field || ': ' || x.reason), '; ') AS reason
FROM checks WHERE len(problems) > 0;

DROP TABLE _base;

INSERT INTO _q
SELECT r.source_file, r.source_line, r.source_entry, r.rtype,
       CASE WHEN json_type(r.c.id) = 'VARCHAR' THEN r.c.id ->> '$' END, p.field, p.reason, encode(r.text)
FROM _res r JOIN _problem p USING (rec_no);

CREATE OR REPLACE TEMP TABLE _good AS
SELECT r.rec_no, r.rtype AS resource_type,
       coalesce(r.c.id ->> '$', regexp_extract(r.full_url, '^urn:uuid:(.+)$', 1)) AS id,
       CASE WHEN r.c.meta.versionId IS NOT NULL THEN r.c.meta.versionId ->> '$' END AS version_id,
       r.c.meta.lastUpdated AS last_updated,
       r.source_file, r.source_line, r.source_entry, r.text
FROM _res r ANTI JOIN _problem p USING (rec_no);
