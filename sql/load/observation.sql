-- observation: one row per Observation (first valueQuantity, first referenceRange, first bodySite coding).
-- observation_coding: Observation.code.coding exploded; observation_component: components with their codes.
-- value_string_num: a valueString that is a plain number ("-2.6", "−2.6" with a Unicode minus, "-2.6 SD"),
-- else NULL (clinical-rules.md 8); any other text stays in value_string only.
CREATE OR REPLACE MACRO string_num(s) AS TRY_CAST(
    regexp_extract(regexp_replace(replace(replace(replace(trim(s), '−', '-'), '–', '-'), ',', '.'), '\s+', '', 'g'),
                   '^([+-]?[0-9]+(\.[0-9]+)?)(sd|SD|Sd)?$', 1) AS DOUBLE);
CREATE OR REPLACE TEMP TABLE _obs AS
SELECT r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
       json_transform(r.body, '{
         "status": "VARCHAR",
         "category": [{"coding": [{"system": "VARCHAR", "code": "VARCHAR"}], "text": "VARCHAR"}],
         "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "subject": {"reference": "VARCHAR"},
         "effectiveDateTime": "VARCHAR", "effectiveInstant": "VARCHAR",
         "effectivePeriod": {"start": "VARCHAR", "end": "VARCHAR"},
         "issued": "VARCHAR",
         "valueQuantity": {"value": "DOUBLE", "unit": "VARCHAR", "system": "VARCHAR", "code": "VARCHAR",
                           "comparator": "VARCHAR"},
         "valueString": "VARCHAR",
         "valueCodeableConcept": {"coding": [{"system": "VARCHAR", "code": "VARCHAR"}], "text": "VARCHAR"},
         "interpretation": [{"coding": [{"system": "VARCHAR", "code": "VARCHAR"}]}],
         "referenceRange": [{"low": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"},
                             "high": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"},
                             "text": "VARCHAR"}],
         "bodySite": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "method": {"text": "VARCHAR"},
         "component": [{"code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}],
                                 "text": "VARCHAR"},
                        "valueQuantity": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"},
                        "valueString": "VARCHAR"}]
       }') AS j,
       m.ref AS mapped_subject
FROM _typed_src r
LEFT JOIN bundle_ref_map m
  ON m.source_file = r.source_file AND m.full_url = json_extract_string(r.body, '$.subject.reference')
WHERE r.resource_type = 'Observation';

CREATE OR REPLACE TEMP VIEW _observation_rows AS
SELECT
    id,
    j.status AS status,
    ref_id(coalesce(mapped_subject, j.subject.reference), 'Patient') AS patient_id,
    coalesce(j.effectiveDateTime, j.effectiveInstant, j.effectivePeriod."start") AS effective_raw,
    fhir_date(coalesce(j.effectiveDateTime, j.effectiveInstant, j.effectivePeriod."start")) AS effective_date,
    j.issued AS issued_raw,
    j.code.text AS code_text,
    list_transform(j.category, lambda c: c.coding[1].code) AS category_codes,
    j.valueQuantity.value AS value_num,
    j.valueQuantity.comparator AS value_comparator,
    j.valueQuantity.unit AS value_unit,
    j.valueQuantity.code AS value_unit_code,
    j.valueString AS value_string,
    string_num(j.valueString) AS value_string_num,
    j.valueCodeableConcept.coding[1].code AS value_code,
    j.interpretation[1].coding[1].code AS interpretation_code,
    j.referenceRange[1].low.value AS ref_low,
    j.referenceRange[1].high.value AS ref_high,
    coalesce(j.referenceRange[1].low.code, j.referenceRange[1].low.unit,
             j.referenceRange[1].high.code, j.referenceRange[1].high.unit) AS ref_unit,
    j.bodySite.coding[1].system AS body_site_system,
    j.bodySite.coding[1].code AS body_site_code,
    coalesce(j.bodySite.text, j.bodySite.coding[1].display) AS body_site_text,
    j.method.text AS method_text,
    -- all_text: the code text and every coding display (of codings with a code, sorted) in one string, read by the
    -- text rules (DXA score type / site, lab names); code_systems: the raw systems of those codings (the screen
    -- tells LOINC by its configured aliases). Per row here, so the screen needs no aggregation over the codings.
    -- One coding is the common case: read directly, the list functions run only for the others.
    CASE WHEN len(j.code.coding) = 1
         THEN concat_ws(' ', j.code.text, CASE WHEN j.code.coding[1].code IS NOT NULL THEN j.code.coding[1].display END)
         ELSE concat_ws(' ', j.code.text, nullif(array_to_string(list_sort(list_filter(list_transform(
             list_filter(j.code.coding, lambda c: c.code IS NOT NULL), lambda c: c.display),
             lambda d: d IS NOT NULL)), ' '), '')) END AS all_text,
    CASE WHEN len(j.code.coding) = 1
         THEN CASE WHEN j.code.coding[1].code IS NOT NULL AND j.code.coding[1].system IS NOT NULL
                   THEN [j.code.coding[1].system] ELSE [] END
         ELSE list_filter(list_transform(list_filter(j.code.coding, lambda c: c.code IS NOT NULL),
                                         lambda c: c.system), lambda s: s IS NOT NULL) END AS code_systems,
    version_id, last_updated, source_file, source_line
FROM _obs;
CREATE TABLE IF NOT EXISTS observation AS FROM _observation_rows LIMIT 0;
DELETE FROM observation WHERE id IN (SELECT id FROM _typed_key WHERE resource_type = 'Observation');
INSERT INTO observation FROM _observation_rows;
DROP VIEW _observation_rows;

CREATE OR REPLACE TEMP VIEW _observation_coding_rows AS
SELECT id AS observation_id, c.system AS system, c.code AS code, c.display AS display
FROM (SELECT id, unnest(j.code.coding) AS c FROM _obs)
WHERE c.code IS NOT NULL;
CREATE TABLE IF NOT EXISTS observation_coding AS FROM _observation_coding_rows LIMIT 0;
DELETE FROM observation_coding WHERE observation_id IN (SELECT id FROM _typed_key WHERE resource_type = 'Observation');
INSERT INTO observation_coding FROM _observation_coding_rows;
DROP VIEW _observation_coding_rows;

CREATE OR REPLACE TEMP VIEW _observation_component_rows AS
WITH comp AS (
    SELECT id, unnest(j.component) AS c, generate_subscripts(j.component, 1) - 1 AS component_index FROM _obs
)
SELECT comp.id AS observation_id, component_index, c.code.text AS code_text, cc.system AS system, cc.code AS code,
       cc.display AS display,
       c.valueQuantity.value AS value_num, coalesce(c.valueQuantity.code, c.valueQuantity.unit) AS value_unit,
       c.valueString AS value_string, string_num(c.valueString) AS value_string_num
FROM comp, LATERAL (SELECT unnest(CASE WHEN len(coalesce(c.code.coding, [])) = 0
                                       THEN [{'system': NULL::VARCHAR, 'code': NULL::VARCHAR, 'display': NULL::VARCHAR}]
                                       ELSE c.code.coding END) AS cc);
CREATE TABLE IF NOT EXISTS observation_component AS FROM _observation_component_rows LIMIT 0;
DELETE FROM observation_component WHERE observation_id IN (SELECT id FROM _typed_key WHERE resource_type = 'Observation');
INSERT INTO observation_component FROM _observation_component_rows;
DROP VIEW _observation_component_rows;

DROP TABLE _obs;
