-- Shared macros and the one join of every coding against the code lists (vs_code, loaded from config/valuesets).
-- coding_all: every coding of the typed tables with its system canonicalised (cfg_code_system) and code normalised.
-- coding_concept: which concept (code list) each resource belongs to; the most specific match gives the qualifier.
CREATE OR REPLACE MACRO code_norm(sys, c) AS CASE
    WHEN sys = 'http://hl7.org/fhir/sid/icd-10-cm' THEN replace(upper(trim(c)), '.', '')
    ELSE upper(trim(c)) END;

-- Age in completed years at a date.
CREATE OR REPLACE MACRO age_at(birth, d) AS date_sub('year', birth, d);

-- A number as people write it (no trailing zeros): -2.40 -> '-2.4'.
CREATE OR REPLACE MACRO fmt_num(v) AS
    regexp_replace(CAST(CAST(round(v, 2) AS DECIMAL(18, 2)) AS VARCHAR), '\.?0+$', '');

CREATE OR REPLACE MACRO fmt_date(d) AS strftime(d, '%Y-%m-%d');

-- Name patterns (code lists, match = name): words compared after lower-casing and turning every run of
-- non-alphanumerics into one space, so "25(OH)D", "Vit D, 25-OH" and "1,25-dihydroxy" compare as words.
-- A pattern matches whole words; a trailing * makes its last word a prefix ("25-hydroxy*" = "25 hydroxyvitamin").
CREATE OR REPLACE MACRO name_norm(t) AS ' ' || trim(regexp_replace(lower(coalesce(t, '')), '[^a-z0-9]+', ' ', 'g')) || ' ';
CREATE OR REPLACE MACRO name_hit(norm_text, pattern) AS
    contains(norm_text, CASE WHEN ends_with(pattern, '*') THEN rtrim(name_norm(rtrim(pattern, '*')))
                             ELSE name_norm(pattern) END);

-- Evidence text: the resource's own display text when present, else the code (a ';' inside a text is replaced:
-- it separates list items).
CREATE OR REPLACE MACRO display_or_code(txt, code) AS
    coalesce(nullif(trim(replace(txt, ';', ',')), ''), code);

CREATE OR REPLACE TABLE coding_all AS
WITH raw AS (
    SELECT 'Observation' AS resource_type, observation_id AS resource_id, system, code, display
    FROM observation_coding
    UNION ALL SELECT 'Condition', condition_id, system, code, display FROM condition_coding
    UNION ALL SELECT 'Procedure', procedure_id, system, code, display FROM procedure_coding
    UNION ALL SELECT resource_type, event_id, system, code, display FROM care_event_coding
    UNION ALL SELECT source_type, use_id, system, code, display FROM medication_use_coding
    UNION ALL SELECT 'DiagnosticReport', report_id, system, code, display FROM diagnostic_report_coding
    UNION ALL SELECT 'DocumentReference', document_id, system, code, display FROM document_reference_coding
)
SELECT r.resource_type, r.resource_id, coalesce(cs.canonical, trim(r.system)) AS system, r.code, r.display,
       code_norm(coalesce(cs.canonical, trim(r.system)), r.code) AS code_norm
FROM raw r
LEFT JOIN cfg_code_system cs ON cs.alias = lower(rtrim(trim(r.system), '/'));

CREATE OR REPLACE TABLE coding_concept AS
WITH lens AS (SELECT DISTINCT length(code_norm) AS len FROM vs_code WHERE match = 'prefix'),
hits AS (
    SELECT c.resource_type, c.resource_id, v.concept, v.qualifier, c.system, c.code, c.display,
           1000 + length(v.code_norm) AS specificity
    FROM coding_all c
    JOIN vs_code v ON v.match = 'exact' AND v.system = c.system AND v.code_norm = c.code_norm
    UNION ALL
    SELECT c.resource_type, c.resource_id, v.concept, v.qualifier, c.system, c.code, c.display, l.len
    FROM coding_all c
    CROSS JOIN lens l
    JOIN vs_code v ON v.match = 'prefix' AND v.system = c.system AND length(v.code_norm) = l.len
                  AND v.code_norm = left(c.code_norm, l.len)
)
SELECT resource_type, resource_id, concept, nullif(qualifier, '') AS qualifier, system, code, display
FROM hits
QUALIFY row_number() OVER (PARTITION BY resource_type, resource_id, concept
                           ORDER BY specificity DESC, code) = 1;

-- observation_text: per Observation, its code text and every coding display in one string (for text rules: DXA
-- score type / site, lab names), and whether it carries a LOINC code. One aggregation instead of a lookup per row.
CREATE OR REPLACE TABLE observation_text AS
SELECT o.id AS observation_id,
       concat_ws(' ', o.code_text, d.displays) AS all_text,
       coalesce(d.loinc_coded, false) AS loinc_coded
FROM observation o
LEFT JOIN (SELECT resource_id, string_agg(display, ' ' ORDER BY display) AS displays,
                  bool_or(system = 'http://loinc.org') AS loinc_coded
           FROM coding_all WHERE resource_type = 'Observation' GROUP BY resource_id) d ON d.resource_id = o.id;
