-- One branch per row of config/plausible_ranges.csv (screening/load/fields.py repeats it with UNION ALL, because
-- DuckDB wants wildcard JSON paths as constants): the values at {path} of every record of the listed types.
-- {path} and {types} are checked against strict patterns (FHIR path, type names) before they are put in; {rule} is
-- the row number. The type test runs first, then a plain substring test, so only records that can hold the element
-- are parsed again.
SELECT rec_no, {rule} AS rule, {values} AS vals FROM _res WHERE rtype IN ({types}) AND contains(text, '{leaf}')
