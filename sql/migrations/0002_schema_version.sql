-- 0.1.0 (schema 1) -> schema 2: the database records its schema version. Added columns of the load tables are
-- applied by screening/migrations.py from sql/schema/ itself (additive, nullable); this file holds the steps that
-- are not a plain column addition.
CREATE TABLE IF NOT EXISTS schema_version (
    version        INTEGER NOT NULL,
    release        VARCHAR NOT NULL,    -- osteoscreen version that wrote this row
    schema_digest  VARCHAR NOT NULL,    -- sha256 of the sql/schema files it brought the database to
    applied_at     TIMESTAMPTZ NOT NULL,
    backup         VARCHAR              -- copy of the database taken before migrating (NULL for a new database)
);
