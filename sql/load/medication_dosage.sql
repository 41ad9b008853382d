-- medication_dosage: every dosage line of every medication use, in the order written (line_no from 1).
-- MedicationStatement.dosage[], MedicationRequest / MedicationDispense.dosageInstruction[] and the single
-- MedicationAdministration.dosage (its `dose` in place of doseAndRate). clinical-rules.md 8: "every dosage line
-- counts"; sequence, bounds and route are per line (sql/model/50_medication.sql schedules them).
CREATE OR REPLACE TEMP TABLE _dosage_raw AS
SELECT resource_type AS source_type, id AS use_id, unnest(lines) AS d, generate_subscripts(lines, 1) AS line_no
FROM (
    SELECT r.resource_type, r.id,
           CASE r.resource_type
               WHEN 'MedicationStatement' THEN json_extract(r.body, '$.dosage[*]')
               WHEN 'MedicationAdministration' THEN
                   CASE WHEN json_extract(r.body, '$.dosage') IS NOT NULL THEN [json_extract(r.body, '$.dosage')] END
               ELSE json_extract(r.body, '$.dosageInstruction[*]')
           END AS lines
    FROM resource_raw r
    WHERE r.resource_type IN ('MedicationStatement', 'MedicationRequest', 'MedicationAdministration',
                              'MedicationDispense')
)
WHERE len(lines) > 0;

CREATE OR REPLACE TABLE medication_dosage AS
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

DROP TABLE _dosage_raw;
