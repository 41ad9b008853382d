-- medication / medication_coding: Medication resources (referenced by medicationReference).
-- medication_use: MedicationStatement, MedicationRequest and MedicationAdministration in one shape (first dosage).
-- medication_use_coding: every coding of the drug, whether inline, in a contained Medication or a referenced one.
CREATE OR REPLACE TEMP TABLE _med AS
SELECT r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
       json_transform(r.body, '{
         "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "form": {"coding": [{"code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"}
       }') AS j
FROM resource_raw r WHERE r.resource_type = 'Medication';

CREATE OR REPLACE TABLE medication AS
SELECT id, j.code.text AS code_text, coalesce(j.form.text, j.form.coding[1].display) AS form_text,
       version_id, last_updated, source_file, source_line
FROM _med;

CREATE OR REPLACE TABLE medication_coding AS
SELECT id AS medication_id, c.system AS system, c.code AS code, c.display AS display
FROM (SELECT id, unnest(j.code.coding) AS c FROM _med) WHERE c.code IS NOT NULL;

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
             "dispenseRequest": {"validityPeriod": {"start": "VARCHAR", "end": "VARCHAR"},
                                 "numberOfRepeatsAllowed": "BIGINT",
                                 "quantity": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"},
                                 "expectedSupplyDuration": {"value": "DOUBLE", "unit": "VARCHAR", "code": "VARCHAR"}}
           }') AS j,
           CASE r.resource_type
               WHEN 'MedicationStatement' THEN json_extract(r.body, '$.dosage[0]')
               WHEN 'MedicationRequest' THEN json_extract(r.body, '$.dosageInstruction[0]')
               ELSE json_extract(r.body, '$.dosage')
           END AS dosage_json
    FROM resource_raw r
    WHERE r.resource_type IN ('MedicationStatement', 'MedicationRequest', 'MedicationAdministration')
)
SELECT source_type, id, source_file, source_line, version_id, last_updated, j,
       json_transform(dosage_json, '{
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
       CASE WHEN source_type = 'MedicationRequest' THEN coalesce(j.dispenseRequest.validityPeriod."start", j.authoredOn)
            ELSE coalesce(j.effectiveDateTime, j.effectivePeriod."start") END AS start_raw,
       CASE WHEN source_type = 'MedicationRequest' THEN j.dispenseRequest.validityPeriod."end"
            ELSE j.effectivePeriod."end" END AS end_raw,
       CASE WHEN source_type = 'MedicationRequest' THEN j.authoredOn ELSE j.dateAsserted END AS asserted_raw,
       j.dispenseRequest.expectedSupplyDuration.value AS supply_value,
       coalesce(j.dispenseRequest.expectedSupplyDuration.code, j.dispenseRequest.expectedSupplyDuration.unit)
           AS supply_unit,
       j.dispenseRequest.numberOfRepeatsAllowed AS repeats,
       j.dispenseRequest.quantity.value AS quantity_value,
       coalesce(j.dispenseRequest.quantity.code, j.dispenseRequest.quantity.unit) AS quantity_unit,
       d.route AS route, d.text AS dosage_text, d.asNeededBoolean AS as_needed, d.timing.repeat AS rep,
       coalesce(d.doseAndRate[1].doseQuantity.value, d.dose.value) AS dose_value,
       coalesce(d.doseAndRate[1].doseQuantity.code, d.doseAndRate[1].doseQuantity.unit, d.dose.code, d.dose.unit)
           AS dose_unit
FROM _use_raw;

DROP TABLE _use_raw;

CREATE OR REPLACE TABLE medication_use AS
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

CREATE OR REPLACE TABLE medication_use_coding AS
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
FROM medication_use u JOIN medication_coding mc ON u.medication_ref = 'Medication/' || mc.medication_id;

DROP TABLE _use;
