-- One branch per row of config/plausible_ranges.csv (screening/load/fields.py repeats it with UNION ALL, because
-- DuckDB wants wildcard JSON paths as constants): the values at {path} of every record of the listed types.
-- {path} is checked against a strict FHIR-path pattern before it is put in; {rule} is the row number.
SELECT rec_no, {rule} AS rule, {values} AS vals FROM _res WHERE rtype IN (SELECT unnest(types) FROM _range WHERE rule = {rule}) AND text LIKE '%{leaf}%'
