-- patient: one row per Patient. mrn = the identifier typed MR (v2-0203); name = official name, else the first.
-- replaced_by: the Patient this record's `link` (type replaced-by) points to (clinical-rules.md 8, merged patients).
CREATE OR REPLACE TEMP VIEW _patient_rows AS
WITH src AS (
    SELECT r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
           json_transform(r.body, '{
             "identifier": [{"use": "VARCHAR", "system": "VARCHAR", "value": "VARCHAR",
                             "type": {"coding": [{"system": "VARCHAR", "code": "VARCHAR"}], "text": "VARCHAR"}}],
             "name": [{"use": "VARCHAR", "text": "VARCHAR", "family": "VARCHAR", "given": ["VARCHAR"]}],
             "gender": "VARCHAR", "birthDate": "VARCHAR",
             "deceasedBoolean": "BOOLEAN", "deceasedDateTime": "VARCHAR",
             "link": [{"type": "VARCHAR", "other": {"reference": "VARCHAR"}}]}') AS j
    FROM _typed_src r
    WHERE r.resource_type = 'Patient'
)
SELECT
    id,
    list_filter(j.identifier, lambda x: list_contains(list_transform(x.type.coding, lambda c: c.code), 'MR'))[1].value
        AS mrn,
    coalesce(list_filter(j.name, lambda n: n.use = 'official')[1], j.name[1]).family AS family_name,
    array_to_string(coalesce(list_filter(j.name, lambda n: n.use = 'official')[1], j.name[1]).given, ' ')
        AS given_name,
    j.gender AS gender,
    j.birthDate AS birth_date_raw,
    fhir_date(j.birthDate) AS birth_date,
    coalesce(j.deceasedBoolean, j.deceasedDateTime IS NOT NULL) AS deceased,
    fhir_date(j.deceasedDateTime) AS deceased_date,
    ref_id(list_filter(j.link, lambda l: l.type = 'replaced-by')[1].other.reference, 'Patient') AS replaced_by,
    list_transform(list_filter(j.link, lambda l: l.type = 'replaces'),
                   lambda l: ref_id(l.other.reference, 'Patient')) AS replaces,
    version_id, last_updated, source_file, source_line
FROM src;

-- Maintained for _typed_key (sql/load/00_all.sql: every resource; 00_changed.sql: the changed ones).
CREATE TABLE IF NOT EXISTS patient AS FROM _patient_rows LIMIT 0;
DELETE FROM patient WHERE id IN (SELECT id FROM _typed_key WHERE resource_type = 'Patient');
INSERT INTO patient FROM _patient_rows;
DROP VIEW _patient_rows;
