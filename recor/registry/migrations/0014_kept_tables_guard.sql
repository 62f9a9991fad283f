-- 0014: the GraceTHD kept tables and the official geographic code, written only as the
-- registry's other audit tables are (0005).
--
-- GraceTHD tables (0006): editors keep INSERT (binary COPY, fast), but every row must belong
-- to the running batch this transaction opened: a statement trigger reads the inserted rows
-- (transition table) and refuses any other batch. No UPDATE, DELETE or TRUNCATE for anyone.
--
-- The import profile's code_prefix is kept with each table version: the registry codes made
-- from the table are prefix + delivered code, and an export matches them back.
--
-- Official geographic code (0010): replaced whole, and recorded, by the owner's function
-- only, as the reference layers are; editors lose their direct INSERT and DELETE (they could
-- not record the import anyway since 0005 revoked INSERT on reference_imports).

ALTER TABLE recor.gracethd_table_versions ADD COLUMN code_prefix text NOT NULL DEFAULT '';

CREATE FUNCTION recor.require_own_batch_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    other bigint;
BEGIN
    SELECT b INTO other
    FROM (SELECT DISTINCT batch_id AS b FROM inserted) AS d
    WHERE NOT recor.own_batch(b)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'rows of recor.% under batch %: only the running batch this transaction opened may add them',
            TG_TABLE_NAME, other USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;

-- Kept rows are a record: never changed, never emptied.
CREATE FUNCTION recor.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of recor.% are a record of a delivery: never changed or emptied', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER gracethd_table_versions_own_batch AFTER INSERT ON recor.gracethd_table_versions
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION recor.require_own_batch_rows();
CREATE TRIGGER gracethd_rows_own_batch AFTER INSERT ON recor.gracethd_rows
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION recor.require_own_batch_rows();
CREATE TRIGGER gracethd_table_versions_no_update BEFORE UPDATE ON recor.gracethd_table_versions
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_change();
CREATE TRIGGER gracethd_rows_no_update BEFORE UPDATE ON recor.gracethd_rows
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_change();
CREATE TRIGGER gracethd_table_versions_no_truncate BEFORE TRUNCATE ON recor.gracethd_table_versions
    FOR EACH STATEMENT EXECUTE FUNCTION recor.refuse_change();
CREATE TRIGGER gracethd_rows_no_truncate BEFORE TRUNCATE ON recor.gracethd_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recor.refuse_change();

-- The official geographic code, replaced whole from one JSON array of rows.
CREATE FUNCTION recor.replace_reference_cog(source_file text, sha256 text, rows jsonb)
RETURNS TABLE (import_id bigint, imported_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
DECLARE
    import bigint;
    at timestamptz;
BEGIN
    INSERT INTO recor.reference_imports (kind, source_file, sha256, source_crs, features, db_user)
    VALUES ('cog', source_file, sha256, 'none (table)', jsonb_array_length(rows), session_user)
    RETURNING id, reference_imports.imported_at INTO import, at;
    DELETE FROM recor.reference_cog;
    INSERT INTO recor.reference_cog (code, name, type, departement, parent, chief_town_rank,
                                     population, epci_code, epci_name, epci_type, import_id)
    SELECT r.code, r.name, r.type, r.departement, r.parent, r.chief_town_rank, r.population,
           r.epci_code, r.epci_name, r.epci_type, import
    FROM jsonb_to_recordset(rows) AS r (code text, name text, type text, departement text,
        parent text, chief_town_rank integer, population integer, epci_code text,
        epci_name text, epci_type text);
    RETURN QUERY SELECT import, at;
END
$$;

REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON recor.reference_cog FROM recor_editor, recor_reader, PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON recor.gracethd_table_versions, recor.gracethd_rows
    FROM recor_editor, recor_reader, PUBLIC;
REVOKE ALL ON FUNCTION recor.replace_reference_cog(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recor.replace_reference_cog(text, text, jsonb) TO recor_editor;
