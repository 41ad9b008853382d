-- The elements the load checks, typed in one JSON parse per record. "JSON" keeps a fragment whose JSON type is
-- checked later (a number written as a string, an id that is not a string). try(): NULL for text that is not JSON.
CREATE OR REPLACE TEMP MACRO fhir_check(t) AS try(json_transform(t, '{
         "resourceType": "JSON",
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
       }'));

-- The one rule for resourceType (line or Bundle entry): a JSON string naming a resource type exactly. A wrong-case
-- or padded name of a known type is quarantined with that reason (never normalised); an unknown but well-formed
-- name loads (kept in resource_raw, not modelled). $fhir_types: config/fhir_resource_types.csv.
CREATE OR REPLACE TEMP MACRO rtype_problem(rt, types) AS CASE
    WHEN rt IS NULL THEN 'not a FHIR resource: no resourceType string'
    WHEN json_type(rt) <> 'VARCHAR' THEN 'not a FHIR resource: no resourceType string (it is '
                                         || lower(json_type(rt)) || ')'
    WHEN list_contains(types, rt ->> '$') THEN NULL
    WHEN trim(rt ->> '$') <> rt ->> '$' THEN 'resourceType has leading or trailing whitespace'
    WHEN list_contains(list_transform(types, lambda t: lower(t)), lower(rt ->> '$'))
        THEN 'resourceType in the wrong case (FHIR names are case-sensitive)'
    WHEN NOT regexp_full_match(rt ->> '$', '[A-Z][A-Za-z]{0,63}') THEN 'resourceType is not a FHIR type name'
END;

-- The number checks of sql/ingest/20_validate.sql, each written once: `_problem` uses them both to flag a record and
-- to name its fields. A JSON value that is present but not a number; a number <= 0 (periods, supply durations); a
-- negative number (doses).
CREATE OR REPLACE TEMP MACRO json_not_number(x) AS
    x IS NOT NULL AND json_type(x) NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT');
CREATE OR REPLACE TEMP MACRO json_not_positive(x) AS
    json_type(x) IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND CAST(x AS DOUBLE) <= 0;
CREATE OR REPLACE TEMP MACRO json_negative(x) AS
    json_type(x) IN ('BIGINT', 'DOUBLE') AND CAST(x AS DOUBLE) < 0;
