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
       json_extract_string(text, '$.resourceType') || '/' ||
       coalesce(json_extract_string(text, '$.id'), regexp_extract(full_url, '^urn:uuid:(.+)$', 1)) AS ref
FROM _record
WHERE full_url IS NOT NULL AND text IS NOT NULL AND request_method IS DISTINCT FROM 'DELETE';

CREATE OR REPLACE TEMP TABLE _res AS
SELECT row_number() OVER (ORDER BY source_file, source_line, source_entry) AS rec_no,
       source_file, source_line, source_entry, full_url, text, file_kind,
       json_extract_string(text, '$.resourceType') AS rtype,
       json_transform(text, '{
         "id": "JSON",
         "meta": {"versionId": "JSON", "lastUpdated": "VARCHAR"},
         "subject": {"reference": "VARCHAR"},
         "status": "JSON",
         "clinicalStatus": {"coding": [{"code": "VARCHAR"}]},
         "verificationStatus": {"coding": [{"code": "VARCHAR"}]},
         "birthDate": "VARCHAR",
         "effectiveDateTime": "VARCHAR", "effectiveInstant": "VARCHAR",
         "effectivePeriod": {"start": "VARCHAR", "end": "VARCHAR"},
         "issued": "VARCHAR",
         "onsetDateTime": "VARCHAR", "recordedDate": "VARCHAR", "abatementDateTime": "VARCHAR",
         "authoredOn": "VARCHAR", "dateAsserted": "VARCHAR",
         "performedDateTime": "VARCHAR", "performedPeriod": {"start": "VARCHAR", "end": "VARCHAR"},
         "valueQuantity": {"value": "JSON"},
         "dosage": "JSON",
         "dosageInstruction": "JSON",
         "dispenseRequest": {"expectedSupplyDuration": {"value": "JSON"},
                             "validityPeriod": {"start": "VARCHAR", "end": "VARCHAR"}}
       }') AS c
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
           coalesce(m.ref, c.subject.reference) AS subject_resolved
    FROM _res r
    LEFT JOIN _ref_map_new m ON m.source_file = r.source_file AND m.full_url = r.c.subject.reference;

CREATE OR REPLACE TEMP TABLE _problem AS
WITH base AS (SELECT * FROM _base), p AS (
    SELECT rec_no, 'id' AS field, 'missing id' AS reason
    FROM base WHERE c.id IS NULL AND coalesce(full_url, '') NOT LIKE 'urn:uuid:%'
    UNION ALL
    SELECT rec_no, 'id', 'id is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)'
    FROM base WHERE c.id IS NOT NULL
      AND (id_text IS NULL OR NOT regexp_full_match(id_text, '[A-Za-z0-9\-\.]{1,64}'))
    UNION ALL
    SELECT rec_no, 'resourceType', 'resourceType ' || rtype || ' in a file for ' || file_type
    FROM base WHERE file_kind = 'ndjson' AND file_type IN (SELECT rtype FROM _known_types) AND rtype <> file_type
    UNION ALL
    SELECT rec_no, 'subject', 'missing subject reference'
    FROM base WHERE rtype IN (SELECT rtype FROM _subject_types) AND c.subject.reference IS NULL
    UNION ALL
    SELECT rec_no, 'subject', 'subject reference ' || c.subject.reference || ' resolves to no entry of its Bundle'
    FROM base WHERE rtype IN (SELECT rtype FROM _subject_types)
      AND c.subject.reference LIKE 'urn:uuid:%' AND subject_resolved LIKE 'urn:uuid:%'
    UNION ALL
    SELECT rec_no, 'subject', 'subject is not a Patient reference'
    FROM base WHERE rtype IN (SELECT rtype FROM _subject_types)
      AND c.subject.reference IS NOT NULL AND c.subject.reference NOT LIKE 'urn:uuid:%'
      AND ref_id(subject_resolved, 'Patient') IS NULL
    UNION ALL
    SELECT rec_no, 'status', 'missing required status'
    FROM base WHERE rtype IN (SELECT rtype FROM _status_vs) AND c.status IS NULL
    UNION ALL
    SELECT b.rec_no, 'status', 'status ' || CAST(b.c.status AS VARCHAR) || ' is not in the FHIR value set'
    FROM base b JOIN _status_vs v ON v.rtype = b.rtype
    WHERE b.c.status IS NOT NULL
      AND (json_type(b.c.status) <> 'VARCHAR' OR NOT list_contains(v.codes, b.c.status ->> '$'))
    UNION ALL
    SELECT rec_no, f.field, 'invalid date ''' || f.val || ''''
    FROM base, LATERAL (SELECT unnest(list_filter([
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
    ], lambda x: x.val IS NOT NULL AND fhir_date_invalid(x.val))) AS f)
    UNION ALL
    SELECT rec_no, 'effectivePeriod', 'effectivePeriod ends before it starts'
    FROM base WHERE fhir_date_end(c.effectivePeriod."end") < fhir_date(c.effectivePeriod."start")
    UNION ALL
    SELECT rec_no, n.field, 'a number written as ' || lower(json_type(n.val))
           || ' (' || left(CAST(n.val AS VARCHAR), 40) || '); FHIR JSON requires a JSON number'
    FROM base, LATERAL (SELECT unnest([
        {'field': 'valueQuantity.value', 'val': c.valueQuantity.value},
        {'field': 'dosage[0].doseAndRate[0].doseQuantity.value',
         'val': json_extract(c.dosage, '$[0].doseAndRate[0].doseQuantity.value')},
        {'field': 'dosage.dose.value', 'val': json_extract(c.dosage, '$.dose.value')},
        {'field': 'dosageInstruction[0].doseAndRate[0].doseQuantity.value',
         'val': json_extract(c.dosageInstruction, '$[0].doseAndRate[0].doseQuantity.value')},
        {'field': 'dispenseRequest.expectedSupplyDuration.value',
         'val': c.dispenseRequest.expectedSupplyDuration.value}
    ]) AS n)
    WHERE n.val IS NOT NULL AND json_type(n.val) NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')
    UNION ALL
    SELECT rec_no, 'dispenseRequest.expectedSupplyDuration.value', 'supply duration must be positive'
    FROM base WHERE json_type(c.dispenseRequest.expectedSupplyDuration.value) IN ('BIGINT', 'UBIGINT', 'DOUBLE')
      AND CAST(c.dispenseRequest.expectedSupplyDuration.value AS DOUBLE) <= 0
    UNION ALL
    SELECT rec_no, d.field, 'timing period must be positive'
    FROM base, LATERAL (SELECT unnest([
        {'field': 'dosage[0].timing.repeat.period', 'val': json_extract(c.dosage, '$[0].timing.repeat.period')},
        {'field': 'dosageInstruction[0].timing.repeat.period',
         'val': json_extract(c.dosageInstruction, '$[0].timing.repeat.period')}
    ]) AS d)
    WHERE json_type(d.val) IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND CAST(d.val AS DOUBLE) <= 0
    UNION ALL
    SELECT rec_no, d.field, 'dose must not be negative'
    FROM base, LATERAL (SELECT unnest([
        {'field': 'dosage[0].doseAndRate[0].doseQuantity.value',
         'val': json_extract(c.dosage, '$[0].doseAndRate[0].doseQuantity.value')},
        {'field': 'dosage.dose.value', 'val': json_extract(c.dosage, '$.dose.value')},
        {'field': 'dosageInstruction[0].doseAndRate[0].doseQuantity.value',
         'val': json_extract(c.dosageInstruction, '$[0].doseAndRate[0].doseQuantity.value')}
    ]) AS d)
    WHERE json_type(d.val) IN ('BIGINT', 'DOUBLE') AND CAST(d.val AS DOUBLE) < 0
)
SELECT rec_no, first(field ORDER BY field) AS field, string_agg(field || ': ' || reason, '; ' ORDER BY field) AS reason
FROM p GROUP BY rec_no;

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
