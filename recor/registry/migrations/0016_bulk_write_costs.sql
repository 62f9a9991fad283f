-- 0016: the same guarantees for a bulk write, at the cost of the statement, not of each row.
--
-- * The check that every new version carries a running batch of this transaction (0014,
--   0015) asked recor.own_batch() once per distinct batch in intention only: the planner
--   pushed the test below the DISTINCT, so it ran one SQL function (an executor start and an
--   index scan of import_batches) for every row written: 0.7–1 s of a 200,000-segment load
--   and as much of its undo.
--   The distinct batches are now taken first (OFFSET 0 keeps the test above them), then each
--   is tested once: the same rule, the same refusal.
CREATE OR REPLACE FUNCTION recor.require_own_batch_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    other bigint;
BEGIN
    SELECT b INTO other
    FROM (SELECT DISTINCT batch_id AS b FROM inserted OFFSET 0) AS d
    WHERE NOT recor.own_batch(b)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'rows of recor.% under batch %: only the running batch this transaction opened may add them',
            TG_TABLE_NAME, other USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;

-- * The end check at commit (0001, 0005) joins every active segment to its two end sites
--   under a LIMIT 1: the planner expects an early stop and probes the sites' primary key
--   twice per segment, 400,000 index probes after a 200,000-segment load (and as many after
--   any small change, since which rows changed is only known after the join). Hash joins
--   read each table once: 0.5 s instead of 0.8–1.2 s after that load. Same query, same
--   refusals.
ALTER FUNCTION recor.check_segment_ends() SET enable_nestloop = off;

-- * A segment's geometry was proven valid row by row through GEOS (ST_IsValid converts every
--   line) and its length computed twice (the generated length_m, then the check). For a
--   LineString, GEOS validity is exactly "finite coordinates and two distinct points at
--   least" (no ring rules apply), which holds exactly when the length is positive and
--   finite: any NaN or infinite coordinate makes the length NaN or infinite, and NaN is not
--   below 'Infinity' in PostgreSQL's float order. The checks now read length_m, computed
--   before the checks in the same statement, and keep their names (a zero-length or empty
--   line is still refused by segments_geom_not_zero_length, a non-finite one by
--   segments_geom_valid). The rule is the same; an update that does not move a geometry
--   (an undo retiring 200,000 rows) no longer converts each one to GEOS.
ALTER TABLE recor.segments
    DROP CONSTRAINT segments_geom_valid,
    DROP CONSTRAINT segments_geom_not_zero_length,
    ADD CONSTRAINT segments_geom_not_zero_length CHECK (length_m > 0),
    ADD CONSTRAINT segments_geom_valid CHECK (length_m < 'Infinity'::double precision);
