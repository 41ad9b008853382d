-- care_team: one row per Patient, the team a care manager works the patient under (issue 11, point 3).
-- Rule: the organization of the first Patient.generalPractitioner (through a loaded PractitionerRole: the role
-- itself, or the first role, by id, of the referenced Practitioner), else the Organization it references, else
-- Patient.managingOrganization, else 'Unassigned'. A referenced Organization is named by its loaded `name`,
-- else the reference's `display`, else the reference text. `Bundle` urn:uuid references resolve via bundle_ref_map.
CREATE OR REPLACE TEMP TABLE _ct_org AS
SELECT id, json_extract_string(body, '$.name') AS name
FROM resource_raw WHERE resource_type = 'Organization';

CREATE OR REPLACE TEMP TABLE _ct_role AS
SELECT r.id,
       ref_id(coalesce(mp.ref, json_extract_string(r.body, '$.practitioner.reference')), 'Practitioner')
           AS practitioner_id,
       coalesce(mo.ref, json_extract_string(r.body, '$.organization.reference')) AS org_ref,
       json_extract_string(r.body, '$.organization.display') AS org_display
FROM resource_raw r
LEFT JOIN bundle_ref_map mp
  ON mp.source_file = r.source_file AND mp.full_url = json_extract_string(r.body, '$.practitioner.reference')
LEFT JOIN bundle_ref_map mo
  ON mo.source_file = r.source_file AND mo.full_url = json_extract_string(r.body, '$.organization.reference')
WHERE r.resource_type = 'PractitionerRole';

CREATE OR REPLACE TEMP TABLE _ct_pat AS
SELECT r.id AS patient_id,
       coalesce(mg.ref, json_extract_string(r.body, '$.generalPractitioner[0].reference')) AS gp_ref,
       json_extract_string(r.body, '$.generalPractitioner[0].display') AS gp_display,
       coalesce(mm.ref, json_extract_string(r.body, '$.managingOrganization.reference')) AS mo_ref,
       json_extract_string(r.body, '$.managingOrganization.display') AS mo_display
FROM resource_raw r
LEFT JOIN bundle_ref_map mg
  ON mg.source_file = r.source_file AND mg.full_url = json_extract_string(r.body, '$.generalPractitioner[0].reference')
LEFT JOIN bundle_ref_map mm
  ON mm.source_file = r.source_file AND mm.full_url = json_extract_string(r.body, '$.managingOrganization.reference')
WHERE r.resource_type = 'Patient';

CREATE OR REPLACE TABLE care_team AS
WITH first_role AS (   -- a Practitioner's first role (by id) that names an organization
    SELECT practitioner_id, arg_min(id, id) AS role_id
    FROM _ct_role WHERE practitioner_id IS NOT NULL AND org_ref IS NOT NULL GROUP BY ALL
),
via AS (
    SELECT p.patient_id, p.mo_ref, p.mo_display,
           CASE WHEN ref_id(p.gp_ref, 'Organization') IS NOT NULL THEN p.gp_ref
                ELSE coalesce(rr.org_ref, pr.org_ref) END AS gp_org_ref,
           CASE WHEN ref_id(p.gp_ref, 'Organization') IS NOT NULL THEN p.gp_display
                ELSE coalesce(rr.org_display, pr.org_display) END AS gp_org_display
    FROM _ct_pat p
    LEFT JOIN _ct_role rr ON rr.id = ref_id(p.gp_ref, 'PractitionerRole')
    LEFT JOIN first_role fr ON fr.practitioner_id = ref_id(p.gp_ref, 'Practitioner')
    LEFT JOIN _ct_role pr ON pr.id = fr.role_id
)
SELECT v.patient_id,
       coalesce(nullif(trim(o1.name), ''), nullif(trim(v.gp_org_display), ''), v.gp_org_ref,
                nullif(trim(o2.name), ''), nullif(trim(v.mo_display), ''), v.mo_ref, 'Unassigned') AS care_team,
       coalesce(CASE WHEN v.gp_org_ref IS NOT NULL THEN 'Organization/' || ref_id(v.gp_org_ref, 'Organization') END,
                CASE WHEN v.mo_ref IS NOT NULL THEN 'Organization/' || ref_id(v.mo_ref, 'Organization') END)
           AS care_team_ref
FROM via v
LEFT JOIN _ct_org o1 ON o1.id = ref_id(v.gp_org_ref, 'Organization')
LEFT JOIN _ct_org o2 ON o2.id = ref_id(v.mo_ref, 'Organization');
