-- One branch per resource type of config/plausible_ranges.csv (screening/load/fields.py repeats it with UNION ALL,
-- because DuckDB wants JSON paths as constants): the values of every rule on {type} records, from ONE parse of the
-- record. json_extract with a list of paths takes no wildcard, so {roots} are the rule paths cut before their
-- first [*]; {values} then reads each wildcard rule's rest from its small root fragment. {rules} are the rule row
-- numbers, in the order of {values}; {type} and the paths are checked against strict patterns before they are put in.
SELECT rec_no, unnest([{rules}]) AS rule, unnest([{values}]) AS vals
FROM (SELECT rec_no, json_extract(text, [{roots}]) AS f FROM _res WHERE rtype = '{type}')
