-- Full rebuild of the typed tables (screening/load/typed.py): every current resource is derived again.
-- _typed_src: the resources whose typed rows are (re)derived; _typed_key: their (resource_type, id).
CREATE OR REPLACE TEMP TABLE _typed_key AS SELECT resource_type, id FROM resource_raw;
CREATE OR REPLACE TEMP VIEW _typed_src AS SELECT * FROM resource_raw;
