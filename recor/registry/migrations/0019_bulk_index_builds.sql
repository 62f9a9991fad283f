-- 0019: a batch that adds more rows than a table holds builds that table's search indexes
-- once, after its INSERT, instead of inserting into them row by row.
--
-- A first load of 200,000 segments and 160,025 sites spent about half of the server's time
-- inserting one entry at a time into the GiST indexes of the geometries and the btree
-- indexes of the segments' end sites (each insert descends the tree, often splits a page and
-- writes a WAL record). Building the same index over the loaded table sorts once: 0.3 s for
-- each GiST index, 0.07 s for each btree index, where the row-by-row inserts cost 2-3 s.
--
-- Only indexes that refuse nothing are ever suspended: sites_geom_idx, segments_geom_idx,
-- segments_site_a_idx, segments_site_b_idx (partial indexes of the active rows, 0011), and
-- only while they are as the migrations made them: one the owner moved to a tablespace,
-- commented or marked for CLUSTER (none of which its definition carries) is left alone. The
-- primary keys and the unique codes (which refuse a duplicate code row by row, with their
-- own message), the BRIN indexes and every trigger and CHECK are untouched: every rule and
-- every refusal is the same, at the same statement.
--
-- * recor.suspend_bulk_indexes(table) (the loader calls it under its running batch, for
--   'sites' or 'segments' only) takes the table's ACCESS EXCLUSIVE lock without waiting
--   (NOWAIT: if any other session holds a lock on the table, e.g. a reader in the middle of
--   a query, it returns false and the load inserts into the indexes as before, so a loader
--   never waits behind a reader and never makes readers queue behind its own lock request),
--   records each index's exact definition (pg_get_indexdef) and drops it. A table with a
--   deferred trigger (none today) is never suspended: its pending events would forbid the
--   rebuild.
-- * recor.restore_bulk_indexes() re-creates every index this transaction suspended, from
--   its recorded definition, name and all. The loader calls it right after its INSERT.
-- * A deferred constraint trigger re-creates at commit any index still suspended: no
--   transaction can commit with an index missing, whatever its client does. A rolled-back
--   load (any refusal, a dry run) gets its indexes back with the rollback itself.
--
-- The cost, weighed: from the suspension to the commit (a few seconds for 200,000 rows)
-- readers of that table wait for the load instead of reading the rows as they were. The
-- loader suspends only when the batch adds more rows than the table holds (a first load,
-- where there is nothing to read yet, or a registry more than doubled), and the query that
-- waits then sees the new rows at once.

CREATE TABLE recor.suspended_indexes (
    txid       xid8 NOT NULL,
    index_name text NOT NULL,
    definition text NOT NULL,
    PRIMARY KEY (txid, index_name)
);
COMMENT ON TABLE recor.suspended_indexes IS
    'indexes dropped by recor.suspend_bulk_indexes() for a bulk INSERT, re-created before commit';
REVOKE ALL ON recor.suspended_indexes FROM recor_editor, recor_reader, PUBLIC;

CREATE FUNCTION recor.suspend_bulk_indexes(tbl text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
DECLARE
    idx record;
BEGIN
    IF NOT recor.own_batch(recor.current_batch()) THEN
        RAISE EXCEPTION 'indexes of recor.% are suspended only under the running batch this transaction opened', tbl
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF tbl IS NULL OR tbl NOT IN ('sites', 'segments') THEN
        RAISE EXCEPTION 'indexes of %: only those of recor.sites and recor.segments are ever suspended', tbl
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A table with deferred triggers (none today) could hold events still to fire when the
    -- indexes are re-created, which PostgreSQL refuses: never suspended.
    IF EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgrelid = format('recor.%I', tbl)::regclass AND tgdeferrable) THEN
        RETURN false;
    END IF;
    -- Another session holding any lock on the table (lock_not_available), or the table in
    -- use in this session (object_in_use): nothing is suspended, the INSERT fills the indexes.
    BEGIN
        EXECUTE format('LOCK TABLE recor.%I IN ACCESS EXCLUSIVE MODE NOWAIT', tbl);
        FOR idx IN
            SELECT c.relname, pg_get_indexdef(i.indexrelid) AS definition
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = format('recor.%I', tbl)::regclass AND i.indisvalid
              AND NOT i.indisunique
              -- what pg_get_indexdef leaves out stays where the owner put it: an index
              -- moved to a tablespace, commented or marked for CLUSTER is never suspended
              AND c.reltablespace = 0 AND NOT i.indisclustered
              AND obj_description(c.oid, 'pg_class') IS NULL
              AND c.relname IN ('sites_geom_idx', 'segments_geom_idx',
                                'segments_site_a_idx', 'segments_site_b_idx')
            ORDER BY c.relname
        LOOP
            INSERT INTO recor.suspended_indexes
                VALUES (pg_current_xact_id(), idx.relname, idx.definition);
            EXECUTE format('DROP INDEX recor.%I', idx.relname);
        END LOOP;
    EXCEPTION WHEN lock_not_available OR object_in_use THEN
        RETURN false;
    END;
    RETURN true;
END
$$;

-- Builds run in this backend (no parallel workers: the machine's other loads keep their
-- cores) with the memory of a bulk write.
CREATE FUNCTION recor.restore_bulk_indexes() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp
SET maintenance_work_mem = '256MB' SET max_parallel_maintenance_workers = 0
SET default_tablespace = '' AS $$
DECLARE
    idx record;
    restored integer := 0;
BEGIN
    FOR idx IN
        DELETE FROM recor.suspended_indexes WHERE txid = pg_current_xact_id()
        RETURNING index_name, definition
    LOOP
        EXECUTE idx.definition;
        restored := restored + 1;
    END LOOP;
    RETURN restored;
END
$$;

CREATE FUNCTION recor.restore_bulk_indexes_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
BEGIN
    PERFORM recor.restore_bulk_indexes();
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER suspended_indexes_restored_at_commit
    AFTER INSERT ON recor.suspended_indexes
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION recor.restore_bulk_indexes_at_commit();

REVOKE ALL ON FUNCTION recor.suspend_bulk_indexes(text), recor.restore_bulk_indexes(),
    recor.restore_bulk_indexes_at_commit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recor.suspend_bulk_indexes(text), recor.restore_bulk_indexes()
    TO recor_editor;
