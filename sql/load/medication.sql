-- medication / medication_coding: Medication resources (referenced by medicationReference).
-- medication_use: MedicationStatement, MedicationRequest, MedicationAdministration and MedicationDispense in one
-- shape (first dosage; every dosage line is in medication_dosage, below).
-- Dates (clinical-rules.md 8): start = validityPeriod.start else authoredOn (request), whenHandedOver else
-- whenPrepared (dispense), effectiveDateTime / effectivePeriod.start (statement, administration); end_raw is
-- effectivePeriod.end only: validityPeriod.end is how long a prescription may be filled, never exposure.
-- Supply: expectedSupplyDuration x (1 + repeats) (request), daysSupply (dispense, never x repeats).
-- medication_use_coding: every coding of the drug, whether inline, in a contained Medication or a referenced one.
CREATE OR REPLACE TEMP TABLE _med AS
SELECT r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
       json_transform(r.body, '{
         "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "form": {"coding": [{"code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"}
       }') AS j
FROM _typed_src r WHERE r.resource_type = 'Medication';

CREATE OR REPLACE TEMP VIEW _medication_rows AS
SELECT id, j.code.text AS code_text, coalesce(j.form.text, j.form.coding[1].display) AS form_text,
       version_id, last_updated, source_file, source_line
FROM _med;
CREATE TABLE IF NOT EXISTS medication AS FROM _medication_rows LIMIT 0;
DELETE FROM medication WHERE id IN (SELECT id FROM _typed_key WHERE resource_type = 'Medication');
INSERT INTO medication FROM _medication_rows;
DROP VIEW _medication_rows;

CREATE OR REPLACE TEMP VIEW _medication_coding_rows AS
SELECT id AS medication_id, c.system AS system, c.code AS code, c.display AS display
FROM (SELECT id, unnest(j.code.coding) AS c FROM _med) WHERE c.code IS NOT NULL;
CREATE TABLE IF NOT EXISTS medication_coding AS FROM _medication_coding_rows LIMIT 0;
DELETE FROM medication_coding WHERE medication_id IN (SELECT id FROM _typed_key WHERE resource_type = 'Medication');
INSERT INTO medication_coding FROM _medication_coding_rows;
DROP VIEW _medication_coding_rows;

DROP TABLE _med;

-- The three resource types differ in where the drug, dates and supply sit; their first Dosage is cut out as JSON
-- and typed once below (MedicationAdministration.dosage has `dose` instead of `doseAndRate`).
CREATE OR REPLACE TEMP TABLE _use_raw AS
WITH base AS (
    SELECT r.resource_type AS source_type, r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
           json_transform(r.body, '{
             "status": "VARCHAR", "intent": "VARCHAR",
             "medicationCodeableConcept": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}],
                                           "text": "VARCHAR"},
             "medicationReference": {"reference": "VARCHAR", "display": "VARCHAR"},
             "contained": [{"resourceType": "VARCHAR", "id": "VARCHAR",
                            "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}],
                                     "text": "VARCHAR"}}],
             "subject": {"reference": "VARCHAR"},
             "effectiveDateTime": "VARCHAR", "effectivePeriod": {"start": "VARCHAR", "end": "VARCHAR"},
             "dateAsserted": "VARCHAR", "authoredOn": "VARCHAR",
             "whenHandedOver": "VARCHAR", "whenPrepared": "VARCHAR",
             "daysSupply": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"},
             "quantity": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"},
             "dispenseRequest": {"validityPeriod": {"start": "VARCHAR", "end": "VARCHAR"},
                                 "numberOfRepeatsAllowed": "BIGINT",
                                 "quantity": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"},
                                 "expectedSupplyDuration": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"}}
           }') AS j,
           CASE r.resource_type
               WHEN 'MedicationStatement' THEN json_extract(r.body, '$.dosage')
               WHEN 'MedicationAdministration' THEN json_extract(r.body, '$.dosage')
               ELSE json_extract(r.body, '$.dosageInstruction')
           END AS dosage_list
    FROM _typed_src r
    WHERE r.resource_type IN ('MedicationStatement', 'MedicationRequest', 'MedicationAdministration',
                              'MedicationDispense')
)
SELECT source_type, id, source_file, source_line, version_id, last_updated, j, dosage_list,
       json_transform(CASE WHEN source_type = 'MedicationAdministration' THEN dosage_list
                           ELSE json_extract(dosage_list, '$[0]') END, '{
         "text": "VARCHAR", "asNeededBoolean": "BOOLEAN",
         "route": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "timing": {"repeat": {"frequency": "DOUBLE", "period": "DOUBLE", "periodUnit": "VARCHAR",
                               "boundsDuration": {"value": "DOUBLE", "code": "VARCHAR", "unit": "VARCHAR"}}},
         "doseAndRate": [{"doseQuantity": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"}}],
         "dose": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"}
       }') AS d
FROM base;

CREATE OR REPLACE TEMP TABLE _use AS
SELECT source_type, id, source_file, source_line, version_id, last_updated,
       j.status AS status, j.intent AS intent, j.subject.reference AS subject_ref,
       j.medicationCodeableConcept AS med_cc, j.medicationReference.reference AS med_ref,
       j.medicationReference.display AS med_ref_display, j.contained AS contained,
       CASE source_type WHEN 'MedicationRequest' THEN coalesce(j.dispenseRequest.validityPeriod."start", j.authoredOn)
                        WHEN 'MedicationDispense' THEN coalesce(j.whenHandedOver, j.whenPrepared)
            ELSE coalesce(j.effectiveDateTime, j.effectivePeriod."start") END AS start_raw,
       CASE WHEN source_type IN ('MedicationRequest', 'MedicationDispense') THEN NULL
            ELSE j.effectivePeriod."end" END AS end_raw,
       CASE source_type WHEN 'MedicationRequest' THEN j.authoredOn WHEN 'MedicationStatement' THEN j.dateAsserted
       END AS asserted_raw,
       CASE WHEN source_type = 'MedicationDispense' THEN j.daysSupply.value
            ELSE j.dispenseRequest.expectedSupplyDuration.value END AS supply_value,
       CASE WHEN source_type = 'MedicationDispense' THEN   -- daysSupply is days unless it says weeks / months
                CASE WHEN lower(coalesce(j.daysSupply.code, j.daysSupply.unit)) IN ('wk', 'week', 'weeks', 'mo',
                                                                                   'month', 'months')
                     THEN coalesce(j.daysSupply.code, j.daysSupply.unit) ELSE 'd' END
            ELSE coalesce(j.dispenseRequest.expectedSupplyDuration.code, j.dispenseRequest.expectedSupplyDuration.unit)
       END AS supply_unit,
       CASE WHEN source_type = 'MedicationRequest' THEN j.dispenseRequest.numberOfRepeatsAllowed END AS repeats,
       CASE WHEN source_type = 'MedicationDispense' THEN j.quantity.value ELSE j.dispenseRequest.quantity.value END
           AS quantity_value,
       CASE WHEN source_type = 'MedicationDispense' THEN coalesce(j.quantity.code, j.quantity.unit)
            ELSE coalesce(j.dispenseRequest.quantity.code, j.dispenseRequest.quantity.unit) END AS quantity_unit,
       d.route AS route, d.text AS dosage_text, d.asNeededBoolean AS as_needed, d.timing.repeat AS rep,
       coalesce(d.doseAndRate[1].doseQuantity.value, d.dose.value) AS dose_value,
       coalesce(d.doseAndRate[1].doseQuantity.code, d.doseAndRate[1].doseQuantity.unit, d.dose.code, d.dose.unit)
           AS dose_unit
FROM _use_raw;

-- medication_dosage: every dosage line of every medication use, in the order written (line_no from 1):
-- MedicationStatement.dosage[], MedicationRequest / MedicationDispense.dosageInstruction[] and the single
-- MedicationAdministration.dosage (its `dose` in place of doseAndRate). clinical-rules.md 8: "every dosage line
-- counts"; sequence, bounds and route are per line (sql/model/50_medication.sql schedules them). Cut from the
-- dosage JSON already extracted above, so the resource body is parsed once.
CREATE OR REPLACE TEMP TABLE _dosage_raw AS
SELECT source_type, id AS use_id, unnest(lines) AS d, generate_subscripts(lines, 1) AS line_no
FROM (
    SELECT source_type, id,
           CASE WHEN source_type = 'MedicationAdministration' THEN
                    CASE WHEN dosage_list IS NOT NULL THEN [dosage_list] END
                ELSE json_extract(dosage_list, '$[*]') END AS lines
    FROM _use_raw WHERE dosage_list IS NOT NULL
)
WHERE len(lines) > 0;

CREATE OR REPLACE TEMP VIEW _medication_dosage_rows AS
WITH t AS (
    SELECT source_type, use_id, line_no,
           json_transform(d, '{
             "sequence": "BIGINT", "text": "VARCHAR", "asNeededBoolean": "BOOLEAN",
             "route": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
             "timing": {"repeat": {"frequency": "DOUBLE", "period": "DOUBLE", "periodUnit": "VARCHAR",
                                   "boundsDuration": {"value": "DOUBLE", "code": "VARCHAR", "unit": "VARCHAR"},
                                   "boundsPeriod": {"start": "VARCHAR", "end": "VARCHAR"}}},
             "doseAndRate": [{"doseQuantity": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"}}],
             "dose": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"}
           }') AS x
    FROM _dosage_raw
)
SELECT source_type, use_id, line_no, x.sequence AS sequence, x.text AS dosage_text, x.asNeededBoolean AS as_needed,
       x.route.coding[1].system AS route_system, x.route.coding[1].code AS route_code,
       coalesce(x.route.text, x.route.coding[1].display) AS route_text,
       coalesce(x.doseAndRate[1].doseQuantity.value, x.dose.value) AS dose_value,
       coalesce(x.doseAndRate[1].doseQuantity.code, x.doseAndRate[1].doseQuantity.unit, x.dose.code, x.dose.unit)
           AS dose_unit,
       x.timing.repeat.frequency AS timing_frequency, x.timing.repeat.period AS timing_period,
       x.timing.repeat.periodUnit AS timing_period_unit,
       duration_days(x.timing.repeat.boundsDuration.value,
                     coalesce(x.timing.repeat.boundsDuration.code, x.timing.repeat.boundsDuration.unit)) AS bounds_days,
       fhir_date(x.timing.repeat.boundsPeriod."start") AS bounds_start,
       fhir_date_end(x.timing.repeat.boundsPeriod."end") AS bounds_end
FROM t;
CREATE TABLE IF NOT EXISTS medication_dosage AS FROM _medication_dosage_rows LIMIT 0;
DELETE FROM medication_dosage WHERE (source_type, use_id) IN (SELECT resource_type, id FROM _typed_key);
INSERT INTO medication_dosage FROM _medication_dosage_rows;
DROP VIEW _medication_dosage_rows;

DROP TABLE _dosage_raw;
DROP TABLE _use_raw;

CREATE OR REPLACE TEMP VIEW _medication_use_rows AS
SELECT
    u.source_type, u.id,
    ref_id(coalesce(m1.ref, u.subject_ref), 'Patient') AS patient_id,
    u.status, u.intent,
    -- 'Medication/x' for a referenced Medication, '#x' for a contained one
    CASE WHEN u.med_ref LIKE '#%' THEN u.med_ref
         ELSE 'Medication/' || ref_id(coalesce(m2.ref, u.med_ref), 'Medication') END AS medication_ref,
    coalesce(u.med_cc.text, u.med_cc.coding[1].display, u.med_ref_display,
             list_filter(u.contained, lambda c: '#' || c.id = u.med_ref)[1].code.text,
             list_filter(u.contained, lambda c: '#' || c.id = u.med_ref)[1].code.coding[1].display,
             md.code_text, md_first.display) AS medication_text,
    u.start_raw, fhir_date(u.start_raw) AS start_date,
    u.end_raw, fhir_date_end(u.end_raw) AS end_date,
    u.asserted_raw, fhir_date(u.asserted_raw) AS asserted_date,
    duration_days(u.supply_value, u.supply_unit) AS supply_days,
    u.repeats, u.quantity_value, u.quantity_unit,
    u.route.coding[1].system AS route_system,
    u.route.coding[1].code AS route_code,
    coalesce(u.route.text, u.route.coding[1].display) AS route_text,
    u.dosage_text, u.as_needed,
    u.dose_value, u.dose_unit,
    u.rep.frequency AS timing_frequency, u.rep.period AS timing_period, u.rep.periodUnit AS timing_period_unit,
    duration_days(u.rep.boundsDuration.value, coalesce(u.rep.boundsDuration.code, u.rep.boundsDuration.unit))
        AS bounds_days,
    u.version_id, u.last_updated, u.source_file, u.source_line
FROM _use u
LEFT JOIN bundle_ref_map m1 ON m1.source_file = u.source_file AND m1.full_url = u.subject_ref
LEFT JOIN bundle_ref_map m2 ON m2.source_file = u.source_file AND m2.full_url = u.med_ref
LEFT JOIN medication md ON md.id = ref_id(coalesce(m2.ref, u.med_ref), 'Medication')
LEFT JOIN (SELECT medication_id, min(display) AS display FROM medication_coding GROUP BY ALL) md_first
       ON md_first.medication_id = md.id;
CREATE TABLE IF NOT EXISTS medication_use AS FROM _medication_use_rows LIMIT 0;
DELETE FROM medication_use WHERE (source_type, id) IN (SELECT resource_type, id FROM _typed_key);
INSERT INTO medication_use FROM _medication_use_rows;
DROP VIEW _medication_use_rows;

CREATE OR REPLACE TEMP VIEW _medication_use_coding_rows AS
SELECT source_type, id AS use_id, c.system AS system, c.code AS code, c.display AS display, 'inline' AS via
FROM (SELECT source_type, id, unnest(med_cc.coding) AS c FROM _use)
WHERE c.code IS NOT NULL
UNION ALL
SELECT source_type, id, c.system, c.code, c.display, 'contained'
FROM (SELECT source_type, id, unnest(list_filter(contained, lambda x: '#' || x.id = med_ref)[1].code.coding) AS c
      FROM _use WHERE med_ref LIKE '#%')
WHERE c.code IS NOT NULL
UNION ALL
SELECT u.source_type, u.id, mc.system, mc.code, mc.display, 'reference'
FROM medication_use u JOIN medication_coding mc ON u.medication_ref = 'Medication/' || mc.medication_id
WHERE (u.source_type, u.id) IN (SELECT source_type, id FROM _use);
CREATE TABLE IF NOT EXISTS medication_use_coding AS FROM _medication_use_coding_rows LIMIT 0;
DELETE FROM medication_use_coding WHERE (source_type, use_id) IN (SELECT resource_type, id FROM _typed_key);
INSERT INTO medication_use_coding FROM _medication_use_coding_rows;
DROP VIEW _medication_use_coding_rows;

DROP TABLE _use;
