-- GraceTHD v2.0.1 tables kept with their import batch, so that nothing delivered is lost and
-- a delivery can be written back. One version of a table per batch that delivered it changed
-- (identical re-deliveries store nothing); the current content of a table is its last version.
CREATE TABLE recor.gracethd_table_versions (
    batch_id    bigint NOT NULL REFERENCES recor.import_batches (id),
    table_name  text NOT NULL CHECK (table_name ~ '^t_[a-z_]+$'),
    digest      text NOT NULL,
    row_count   integer NOT NULL CHECK (row_count >= 0),
    PRIMARY KEY (batch_id, table_name)
);

CREATE TABLE recor.gracethd_rows (
    batch_id    bigint NOT NULL,
    table_name  text NOT NULL,
    row_number  integer NOT NULL CHECK (row_number >= 0),
    attributes  jsonb NOT NULL,
    geom        geometry(Geometry, 2154),
    PRIMARY KEY (batch_id, table_name, row_number),
    FOREIGN KEY (batch_id, table_name)
        REFERENCES recor.gracethd_table_versions (batch_id, table_name)
);

CREATE INDEX gracethd_table_versions_table ON recor.gracethd_table_versions (table_name, batch_id);
CREATE INDEX gracethd_rows_geom ON recor.gracethd_rows USING gist (geom);

CREATE TRIGGER gracethd_table_versions_no_delete BEFORE DELETE ON recor.gracethd_table_versions
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_delete();
CREATE TRIGGER gracethd_rows_no_delete BEFORE DELETE ON recor.gracethd_rows
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_delete();

GRANT SELECT ON recor.gracethd_table_versions, recor.gracethd_rows TO recor_reader;
GRANT INSERT ON recor.gracethd_table_versions, recor.gracethd_rows TO recor_editor;
