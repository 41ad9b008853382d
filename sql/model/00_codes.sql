-- Shared macros and the one join of every coding against the code lists (vs_code, loaded from config/valuesets).
-- coding_all: every coding of the typed tables with its system canonicalised (cfg_code_system) and code normalised.
-- coding_concept: which concept (code list) each resource belongs to; the most specific match gives the qualifier.
CREATE OR REPLACE MACRO code_norm(sys, c) AS CASE
    WHEN sys = 'http://hl7.org/fhir/sid/icd-10-cm' THEN replace(upper(trim(c)), '.', '')
    ELSE upper(trim(c)) END;

-- Age in completed years at a date.
CREATE OR REPLACE MACRO age_at(birth, d) AS date_sub('year', birth, d);

-- A number as people write it (no trailing zeros): -2.40 -> '-2.4'.
-- Guarded (loader issue 8): a product of plausible inputs (dose x frequency / period) can exceed DECIMAL(18, 2);
-- such a number is written as DuckDB prints a DOUBLE instead of failing the screen stage for everyone.
CREATE OR REPLACE MACRO fmt_num(v) AS CASE
    WHEN isfinite(v) AND abs(v) < 1e15
        THEN regexp_replace(CAST(CAST(round(v, 2) AS DECIMAL(18, 2)) AS VARCHAR), '\.?0+$', '')
    ELSE CAST(v AS VARCHAR) END;

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

-- coding_all is a per-run TEMP table (never persisted: writing its ~9 rows per patient cost more than building it;
-- the typed *_coding tables hold the same codings). System aliases are resolved once per distinct raw system.
DROP TABLE IF EXISTS main.coding_all;
CREATE OR REPLACE TEMP TABLE coding_all AS
WITH raw AS (
    SELECT 'Observation' AS resource_type, observation_id AS resource_id, system, code, display
    FROM observation_coding
    UNION ALL SELECT 'Condition', condition_id, system, code, display FROM condition_coding
    UNION ALL SELECT 'Procedure', procedure_id, system, code, display FROM procedure_coding
    UNION ALL SELECT resource_type, event_id, system, code, display FROM care_event_coding
    UNION ALL SELECT source_type, use_id, system, code, display FROM medication_use_coding
    UNION ALL SELECT 'DiagnosticReport', report_id, system, code, display FROM diagnostic_report_coding
    UNION ALL SELECT 'DocumentReference', document_id, system, code, display FROM document_reference_coding
),
sys AS (
    SELECT s.system AS raw_system, coalesce(cs.canonical, trim(s.system)) AS system
    FROM (SELECT DISTINCT system FROM raw WHERE system IS NOT NULL) s
    LEFT JOIN cfg_code_system cs ON cs.alias = lower(rtrim(trim(s.system), '/'))
)
SELECT r.resource_type, r.resource_id, s.system, r.code, r.display, code_norm(s.system, r.code) AS code_norm
FROM raw r
LEFT JOIN sys s ON s.raw_system = r.system;

-- The code lists are matched once per distinct (system, code) (a few thousand), not once per coding.
-- coding_concept is per-run TEMP as well (160k rows at 100k patients: building it costs less than committing it);
-- the screens read it within their run, analysts read the matched facts (condition_fact, lab_result, dxa_result).
DROP TABLE IF EXISTS main.coding_concept;
CREATE OR REPLACE TEMP TABLE coding_concept AS
WITH keys AS (SELECT DISTINCT system, code_norm FROM coding_all),
lens AS (SELECT DISTINCT length(code_norm) AS len FROM vs_code WHERE match = 'prefix'),
key_hits AS (
    SELECT k.system, k.code_norm, v.concept, v.qualifier, 1000 + length(v.code_norm) AS specificity
    FROM keys k
    JOIN vs_code v ON v.match = 'exact' AND v.system = k.system AND v.code_norm = k.code_norm
    UNION ALL
    SELECT k.system, k.code_norm, v.concept, v.qualifier, l.len
    FROM keys k
    CROSS JOIN lens l
    JOIN vs_code v ON v.match = 'prefix' AND v.system = k.system AND length(v.code_norm) = l.len
                  AND v.code_norm = left(k.code_norm, l.len)
),
hits AS (
    SELECT c.resource_type, c.resource_id, h.concept, h.qualifier, c.system, c.code, c.display, h.specificity
    FROM coding_all c
    JOIN key_hits h ON h.system = c.system AND h.code_norm = c.code_norm
)
SELECT resource_type, resource_id, concept, nullif(qualifier, '') AS qualifier, system, code, display
FROM hits
QUALIFY row_number() OVER (PARTITION BY resource_type, resource_id, concept
                           ORDER BY specificity DESC, code) = 1;

-- observation_loinc (per-run TEMP, one row): the raw code systems that are LOINC under the configured aliases; an
-- Observation is LOINC-coded when one of its observation.code_systems is listed. The per-Observation text
-- (observation.all_text) is built by the load, so no aggregation over the codings runs here.
CREATE OR REPLACE TEMP TABLE observation_loinc AS
SELECT coalesce(list(s.system) FILTER (WHERE coalesce(cs.canonical, trim(s.system)) = 'http://loinc.org'), [])
           AS systems
FROM (SELECT DISTINCT system FROM observation_coding WHERE system IS NOT NULL) s
LEFT JOIN cfg_code_system cs ON cs.alias = lower(rtrim(trim(s.system), '/'));
