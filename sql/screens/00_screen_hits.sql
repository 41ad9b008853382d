-- screen_hits: one row per fact behind a flag. kind = marker | cause | addressed | safety | modifier | data_quality.
-- rule_id = the rule's code (low_z_score, glucocorticoid, ...; for `addressed` the cause it addresses);
-- resource_ref = the FHIR resource backing the fact (Observation/abc); detail = the human-readable evidence.
CREATE OR REPLACE TABLE screen_hits (
    patient_id    VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    rule_id       VARCHAR NOT NULL,
    resource_ref  VARCHAR,
    value         DOUBLE,
    unit          VARCHAR,
    evidence_date DATE,
    detail        VARCHAR,
    code          VARCHAR,
    qualifier     VARCHAR      -- site (DXA, fracture), sub-kind (celiac, lab_pattern, dose_unknown, ...)
);

-- Site names as the worklist writes them.
CREATE OR REPLACE MACRO site_label(s) AS replace(s, '_', ' ');

-- Evidence text for a coded condition / procedure (its own display text, else the code) and for a lab value.
CREATE OR REPLACE MACRO cond_detail(label, code, d) AS
    label || ' ' || code || coalesce(' (' || fmt_date(d) || ')', '');

CREATE OR REPLACE MACRO lab_label(a) AS CASE a
    WHEN 'vitamin_d' THEN '25(OH)D' WHEN 'pth' THEN 'PTH' WHEN 'alp' THEN 'ALP' WHEN 'tsh' THEN 'TSH'
    WHEN 'ttg_iga' THEN 'tTG-IgA' WHEN 'myeloma_workup' THEN 'protein electrophoresis / free light chains'
    WHEN 'egfr' THEN 'eGFR' ELSE a END;

CREATE OR REPLACE MACRO lab_detail(a, v, u, d, corrected) AS
    lab_label(a) || CASE WHEN corrected THEN ' (albumin-corrected)' ELSE '' END || ' ' || fmt_num(v) || ' ' || u
    || ' (' || fmt_date(d) || ')';

-- Causes that come from a code list alone (active conditions, completed procedures; history concepts at any
-- clinical status, marked "(history, <status>)").
CREATE OR REPLACE MACRO coded_cause(cause_id, label) AS TABLE
    SELECT patient_id, 'cause' AS kind, cause_id AS rule_id, resource_ref, NULL::DOUBLE AS value, NULL AS unit,
           fact_date AS evidence_date,
           cond_detail(label, display_or_code(display, code), fact_date)
               || CASE WHEN history_only THEN ' (history, ' || coalesce(clinical_status, 'inactive') || ')' ELSE '' END
               AS detail,
           code, qualifier
    FROM condition_fact
    WHERE concept = cause_id AND is_active;
