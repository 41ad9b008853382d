-- DXA results written as report text (clinical-rules.md section 8, "DXA report as text"; docs/dxa-report-text.md).
-- dxa_text_report: DiagnosticReport (final / amended / corrected) and DocumentReference (current) that are DXA reports
--   by code (code list dxa_report, local codes included), by their title, or, when uncoded, by their text.
-- dxa_report_read: every text source of those reports read once by dxa_report_read() (screening/reports: base64,
--   HTML / RTF / PDF to text, then the pattern grammar config/dxa_report/grammar.toml).
-- dxa_report_finding: one row per score read: scan date from the text, else effective, else issued.
-- dxa_report_score (T/Z, into dxa_result by model/20_dxa_result.sql) and dxa_report_frax (FRAX MOF / hip, read by
--   screens/markers/high_fracture_risk.sql), both inside their look-backs.
-- Lumbar: when a report gives L1-L4 (or "lumbar spine"), L2-L4 is kept as an extracted value with site 'other'.

-- The sentence as the worklist quotes it: no ';' (the list separator) and no double quotes; at most 160 chars.
CREATE OR REPLACE MACRO dxa_quote(q) AS
    CASE WHEN length(q) > 160 THEN rtrim(left(replace(replace(q, ';', ','), '"', ''''), 157)) || '...'
         ELSE replace(replace(q, ';', ','), '"', '''') END;

-- Why a text source gave no score, as the data-quality warning says it.
CREATE OR REPLACE MACRO dxa_read_reason(status) AS CASE status
    WHEN 'no_scores' THEN 'no T/Z score in the text' WHEN 'pdf_unreadable' THEN 'PDF without a text layer'
    WHEN 'unsupported_type' THEN 'unsupported attachment type' WHEN 'url_unresolved' THEN 'attachment not in the load'
    WHEN 'too_large' THEN 'attachment above the record-size limit' WHEN 'bad_base64' THEN 'attachment data not base64'
    WHEN 'no_content' THEN 'attachment without data' WHEN 'empty' THEN 'empty text'
    WHEN 'extract_error' THEN 'text could not be processed' ELSE status END;

CREATE OR REPLACE TABLE dxa_text_report AS
WITH coded AS (
    SELECT DISTINCT c.report_ref
    FROM report_doc_coding c
    LEFT JOIN cfg_code_system cs ON cs.alias = lower(rtrim(trim(c.system), '/'))
    JOIN vs_code v ON v.concept = 'dxa_report' AND v.match = 'exact'
                  AND v.system = coalesce(cs.canonical, trim(c.system)) AND v.code_norm = upper(trim(c.code))
)
SELECT d.*, d.report_ref IN (SELECT report_ref FROM coded) AS by_code, dxa_report_title(d.title) AS by_title
FROM report_doc d
WHERE d.patient_id IS NOT NULL
  AND ((d.resource_type = 'DiagnosticReport' AND d.status IN ('final', 'amended', 'corrected'))
       OR (d.resource_type = 'DocumentReference' AND d.status = 'current'
           AND coalesce(d.doc_status, 'final') NOT IN ('entered-in-error', 'preliminary')))
  AND (d.report_ref IN (SELECT report_ref FROM coded) OR dxa_report_title(d.title) OR d.uncoded);

CREATE OR REPLACE TABLE dxa_report_read AS
WITH src AS (
    SELECT s.*,
           CASE WHEN s.binary_id IS NOT NULL THEN json_extract_string(b.body, '$.data')
                WHEN s.part <> 'conclusion' AND s.data_chars IS NOT NULL
                    THEN json_extract_string(r.body, CASE s.part WHEN 'presentedForm'
                                                   THEN '$.presentedForm[' || s.part_index || '].data'
                                                   ELSE '$.content[' || s.part_index || '].attachment.data' END)
           END AS data
    FROM report_text_source s
    JOIN dxa_text_report d USING (report_ref)
    JOIN resource_raw r ON r.resource_type = d.resource_type AND r.id = d.id
    LEFT JOIN resource_raw b ON b.resource_type = 'Binary' AND b.id = s.binary_id
)
SELECT report_ref, part, part_index, content_type, binary_id, url_unresolved,
       CASE WHEN url_unresolved THEN {'status': 'url_unresolved', 'dxa_words': false, 'scan_date': NULL::DATE,
                                       'unattributed': 0, 'findings': []}
            WHEN data_chars > $load_record_size_limit_mib * 1048576 * 4 / 3
                THEN {'status': 'too_large', 'dxa_words': false, 'scan_date': NULL::DATE, 'unattributed': 0,
                      'findings': []}
            ELSE dxa_report_read(content_type, inline_text, data,
                                 CAST($load_record_size_limit_mib * 1048576 AS BIGINT)) END AS r
FROM src;

-- An uncoded, untitled report counts only when its text reads as a DXA report.
DELETE FROM dxa_text_report d
WHERE NOT d.by_code AND NOT d.by_title
  AND NOT EXISTS (SELECT 1 FROM dxa_report_read r WHERE r.report_ref = d.report_ref AND r.r.dxa_words);

DELETE FROM dxa_report_read WHERE report_ref NOT IN (SELECT report_ref FROM dxa_text_report);

CREATE OR REPLACE TABLE dxa_report_finding AS
WITH f AS (
    SELECT r.report_ref, r.part, r.part_index, r.r.scan_date AS text_date, unnest(r.r.findings) AS f
    FROM dxa_report_read r
),
dated AS (
    SELECT d.patient_id, f.report_ref, f.part, f.part_index, f.f.kind AS kind, f.f.site AS site,
           f.f.model_site AS model_site, f.f.label AS label, f.f.side AS side, f.f.value AS value,
           f.f.rank AS rank, f.f.span_start AS span_start, f.f.span_end AS span_end, dxa_quote(f.f.quote) AS quote,
           coalesce(f.text_date, d.effective_date, d.issued_date) AS eff_date,
           CASE WHEN f.text_date IS NOT NULL THEN 'text' WHEN d.effective_date IS NOT NULL THEN 'effective'
                WHEN d.issued_date IS NOT NULL THEN 'issued' END AS date_source
    FROM f JOIN dxa_text_report d USING (report_ref)
)
-- the same score read from two text sources of one report (conclusion and presentedForm) counts once
SELECT * FROM dated
QUALIFY row_number() OVER (PARTITION BY report_ref, kind, site, coalesce(side, ''), value
                           ORDER BY part, part_index, span_start) = 1;

CREATE OR REPLACE TABLE dxa_report_score AS
WITH s AS (
    SELECT * FROM dxa_report_finding
    WHERE kind IN ('T', 'Z') AND eff_date IS NOT NULL AND eff_date <= $as_of
      AND eff_date >= $as_of - to_months(CAST($lookback_dxa_months AS INTEGER))
)
SELECT s.*,
       CASE WHEN s.model_site = 'lumbar_spine'
                 AND s.rank > min(CASE WHEN s.model_site = 'lumbar_spine' THEN s.rank END)
                                  OVER (PARTITION BY s.report_ref, s.kind)
            THEN 'other' ELSE s.model_site END AS screen_site
FROM s;

CREATE OR REPLACE TABLE dxa_report_frax AS
SELECT * FROM dxa_report_finding
WHERE kind = 'FRAX' AND eff_date IS NOT NULL AND eff_date <= $as_of
  AND eff_date >= $as_of - to_months(CAST($lookback_frax_months AS INTEGER));

-- Per report: what could be read (data-quality warnings in screens/data_quality_reports.sql).
CREATE OR REPLACE TABLE dxa_report_status AS
WITH rd AS (
    SELECT report_ref, sum(r.unattributed) AS unattributed, count(*) AS text_sources,
           string_agg(DISTINCT dxa_read_reason(r.status), ', ' ORDER BY dxa_read_reason(r.status))
               FILTER (WHERE r.status <> 'read') AS statuses
    FROM dxa_report_read GROUP BY report_ref
),
fd AS (
    SELECT report_ref, min(eff_date) AS eff_date, count(*) FILTER (WHERE kind IN ('T', 'Z')) AS scores,
           count(*) FILTER (WHERE kind = 'FRAX') AS frax
    FROM dxa_report_finding GROUP BY report_ref
)
SELECT d.report_ref, d.patient_id, coalesce(fd.eff_date, d.effective_date, d.issued_date) AS report_date,
       coalesce(fd.scores, 0) AS scores, coalesce(fd.frax, 0) AS frax, coalesce(rd.unattributed, 0) AS unattributed,
       coalesce(rd.statuses, CASE WHEN rd.report_ref IS NULL THEN 'no text' ELSE 'no T/Z score in the text' END)
           AS statuses, coalesce(rd.text_sources, 0) AS text_sources
FROM dxa_text_report d
LEFT JOIN rd USING (report_ref)
LEFT JOIN fd USING (report_ref);
