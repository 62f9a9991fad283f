-- 0011: the same rules on the write path, proven once per statement instead of once per row.
--
-- A bulk import writes hundreds of thousands of rows in a few statements; per-row checks
-- (foreign-key triggers that look up and share-lock the end sites of every segment, a
-- PL/pgSQL stamp called for every row) cost more than the rows themselves. Each is replaced
-- by something that proves the same thing:
--
-- * segment end sites exist: the two foreign keys segments.site_a/site_b → sites.id become
--   one anti-join over an insert's new rows (a statement-level trigger with a transition
--   table), a check of the rows of an update that move an end, both with owner's rights so
--   no role can skip or bend them, plus "a site's id never changes" (rows are never
--   deleted already: refuse_delete). Foreign keys also lock the referenced rows against a
--   concurrent delete; here no row is ever deleted, and every writer holds the registry's
--   write lock (migration 0005), so no other transaction can remove a site between the
--   check and the commit.
-- * geometries and segment end sites are indexed only while active;
-- * history is written once per statement, its batch read once (not once per row);
-- * every new version is stamped with the transaction's time and batch: the stamp trigger
--   now fires only for a row that is not already stamped so (a WHEN condition, evaluated
--   without calling PL/pgSQL); the loader writes the stamp itself, any other client gets it
--   overwritten exactly as before.

ALTER TABLE recor.segments
    DROP CONSTRAINT segments_site_a_fkey,
    DROP CONSTRAINT segments_site_b_fkey;

CREATE FUNCTION recor.check_segment_sites_exist() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    -- ORDER BY, not a bare LIMIT: the planner then anti-joins by hash over many rows
    -- (a LIMIT alone makes it probe the index row by row), and names the first code.
    SELECT * INTO bad FROM (
        SELECT n.code, 'site_a' AS end_name, n.site_a AS site_id FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM recor.sites s WHERE s.id = n.site_a)
        UNION ALL
        SELECT n.code, 'site_b', n.site_b FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM recor.sites s WHERE s.id = n.site_b)
    ) AS missing ORDER BY code, end_name LIMIT 1;
    IF bad.code IS NOT NULL THEN
        RAISE EXCEPTION 'segment %: % refers to site id %, which is not in recor.sites',
            bad.code, bad.end_name, bad.site_id
            USING ERRCODE = 'foreign_key_violation', SCHEMA = 'recor', TABLE = 'segments',
                  COLUMN = bad.end_name, CONSTRAINT = 'segments_end_sites_exist';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER segments_end_sites_exist AFTER INSERT ON recor.segments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recor.check_segment_sites_exist();

-- An update is checked, as a foreign key would be, only where it moves an end to another
-- site: a row trigger whose WHEN condition is false for every other row (an undo or a
-- change of attributes calls nothing).
CREATE FUNCTION recor.check_moved_segment_ends() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
DECLARE
    end_name text;
    site_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM recor.sites WHERE id = NEW.site_a) THEN
        end_name := 'site_a';
        site_id := NEW.site_a;
    ELSIF NOT EXISTS (SELECT 1 FROM recor.sites WHERE id = NEW.site_b) THEN
        end_name := 'site_b';
        site_id := NEW.site_b;
    ELSE
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'segment %: % refers to site id %, which is not in recor.sites',
        NEW.code, end_name, site_id
        USING ERRCODE = 'foreign_key_violation', SCHEMA = 'recor', TABLE = 'segments',
              COLUMN = end_name, CONSTRAINT = 'segments_end_sites_exist';
END
$$;
CREATE TRIGGER segments_end_sites_moved AFTER UPDATE OF site_a, site_b ON recor.segments
    FOR EACH ROW WHEN (NEW.site_a IS DISTINCT FROM OLD.site_a OR NEW.site_b IS DISTINCT FROM OLD.site_b)
    EXECUTE FUNCTION recor.check_moved_segment_ends();

-- Segments refer to sites by id: an id never changes (GENERATED ALWAYS still lets an
-- UPDATE set it to DEFAULT, i.e. a new number).
CREATE FUNCTION recor.refuse_id_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the id of a row of recor.% never changes (% → %): segments refer to it',
        TG_TABLE_NAME, OLD.id, NEW.id
        USING ERRCODE = 'foreign_key_violation', SCHEMA = 'recor', TABLE = TG_TABLE_NAME,
              CONSTRAINT = TG_TABLE_NAME || '_id_fixed';
END
$$;
CREATE TRIGGER sites_id_fixed BEFORE UPDATE OF id ON recor.sites
    FOR EACH ROW WHEN (NEW.id IS DISTINCT FROM OLD.id)
    EXECUTE FUNCTION recor.refuse_id_change();

REVOKE ALL ON FUNCTION recor.check_segment_sites_exist(), recor.check_moved_segment_ends()
    FROM PUBLIC;

-- History: the batch that ends the versions is read once per statement, not once per row.
CREATE OR REPLACE FUNCTION recor.keep_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO recor.%I SELECT o.*, now(), $1 FROM old_rows o WHERE o.valid_from < now()',
        TG_TABLE_NAME || '_history') USING recor.current_batch();
    RETURN NULL;
END
$$;

-- Stamps: called only for rows not already stamped with this transaction's time and batch.
DO $$
DECLARE
    t text;
    stamped constant text := '(NEW.valid_from IS DISTINCT FROM now()'
        ' OR NEW.batch_id::text IS DISTINCT FROM current_setting(''recor.batch_id'', true))';
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'segments', 'risk_groups', 'segment_risk_groups'] LOOP
        EXECUTE format('DROP TRIGGER %I ON recor.%I', t || '_stamp_insert', t);
        EXECUTE format('DROP TRIGGER %I ON recor.%I', t || '_stamp', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON recor.%I FOR EACH ROW WHEN %s '
                       'EXECUTE FUNCTION recor.stamp_version()', t || '_stamp_insert', t, stamped);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON recor.%I FOR EACH ROW WHEN %s '
                       'EXECUTE FUNCTION recor.stamp_version()', t || '_stamp', t, stamped);
    END LOOP;
END
$$;

-- Spatial and end-site indexes serve only questions about active rows (every read, view and
-- export filters on NOT retired, the end check and a junction still in use too): indexing
-- retired versions made every retirement (an undo of a whole delivery) pay a GiST insert
-- per site and three index inserts per segment for entries nothing reads.
DROP INDEX recor.segments_site_a_idx, recor.segments_site_b_idx,
    recor.segments_geom_idx, recor.sites_geom_idx;
CREATE INDEX segments_site_a_idx ON recor.segments (site_a) WHERE NOT retired;
CREATE INDEX segments_site_b_idx ON recor.segments (site_b) WHERE NOT retired;
CREATE INDEX segments_geom_idx ON recor.segments USING gist (geom) WHERE NOT retired;
CREATE INDEX sites_geom_idx ON recor.sites USING gist (geom) WHERE NOT retired;
