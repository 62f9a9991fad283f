-- 0005: one writer at a time, and an audit trail only recor writes.
--
-- The write lock is a row lock on recor.write_lock, a table of the owner that nobody else
-- may lock: editors take it only through recor.take_write_lock() (owner's rights, EXECUTE
-- granted to recor_editor alone). A reader can no longer block imports as it could with an
-- advisory lock any connected role may take.
--
-- Batches, history, pending checks and reference layers are written only by the registry's
-- own functions and triggers (owner's rights): editors keep INSERT/UPDATE on the registry
-- tables themselves, whose triggers stamp every row with the batch of the transaction and
-- keep the replaced version. A batch belongs to the transaction that opened it
-- (import_batches.txid): a change can never be attributed to another batch, and outcomes
-- only move forward (running → loaded → undone, running → undo).

CREATE TABLE recor.write_lock (
    id boolean PRIMARY KEY DEFAULT true CHECK (id)
);
INSERT INTO recor.write_lock VALUES (true);

-- The registry's version as writers see it: the newest committed batch. Imports read it
-- before their registry lookup and compare it once they hold the lock.
CREATE FUNCTION recor.registry_generation() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(id), 0) FROM recor.import_batches
$$;

-- Waits for the lock (the caller bounds the wait with lock_timeout), then says so in
-- pg_stat_activity's application_name, which every role can read: "recor:w:<batch>:<since
-- epoch>:<user>". A waiting import reads it to say whom it waits for.
CREATE FUNCTION recor.take_write_lock(app_user text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
BEGIN
    PERFORM 1 FROM recor.write_lock FOR UPDATE;
    PERFORM set_config('application_name',
        format('recor:w:-:%s:%s', extract(epoch FROM clock_timestamp())::bigint,
               left(regexp_replace(coalesce(app_user, ''), '[^ -~]', '?', 'g'), 30)), true);
    RETURN recor.registry_generation();
END
$$;

ALTER TABLE recor.import_batches ADD COLUMN txid xid8;
COMMENT ON COLUMN recor.import_batches.txid IS
    'the transaction that opened the batch: only it may change rows under this batch';

-- The batch of the current transaction, if it opened one.
CREATE FUNCTION recor.own_batch(batch bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM recor.import_batches
                   WHERE id = batch AND outcome = 'running' AND txid = pg_current_xact_id())
$$;

CREATE OR REPLACE FUNCTION recor.require_open_batch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT recor.own_batch(recor.current_batch()) THEN
        RAISE EXCEPTION 'import batch % is not open in this transaction: changes need the running batch this transaction opened',
            recor.current_batch() USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

-- Opens the batch of this transaction (under the write lock, which it takes without
-- waiting when this transaction holds it already).
CREATE FUNCTION recor.begin_batch(
    app_user text, profile text, note text, source_files jsonb, findings jsonb
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
DECLARE
    batch bigint;
    raw text := current_setting('recor.batch_id', true);
BEGIN
    PERFORM 1 FROM recor.write_lock FOR UPDATE NOWAIT;
    IF raw IS NOT NULL AND raw <> '' AND recor.own_batch(raw::bigint) THEN
        RAISE EXCEPTION 'this transaction already has batch %: one batch per transaction', raw
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO recor.import_batches (db_user, app_user, profile, note, source_files, findings, txid)
    VALUES (session_user, coalesce(app_user, ''), coalesce(profile, ''), coalesce(note, ''),
            coalesce(source_files, '[]'), coalesce(findings, '[]'), pg_current_xact_id())
    RETURNING id INTO batch;
    PERFORM set_config('recor.batch_id', batch::text, true);
    PERFORM set_config('application_name',
        regexp_replace(current_setting('application_name'), '^recor:w:-:', format('recor:w:%s:', batch)),
        true);
    RETURN batch;
END
$$;

-- Closes the batch of this transaction: counts, end time, outcome 'loaded' or 'undo'.
CREATE FUNCTION recor.finish_batch(batch bigint, counts jsonb, outcome recor.batch_outcome)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
BEGIN
    IF NOT recor.own_batch(batch) THEN
        RAISE EXCEPTION 'batch % was not opened by this transaction', batch
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE recor.import_batches
    SET counts = finish_batch.counts, outcome = finish_batch.outcome,
        finished_at = clock_timestamp()
    WHERE id = batch;
END
$$;

-- Links an undo batch (of this transaction) and the loaded batch it undoes.
CREATE FUNCTION recor.mark_undone(target bigint, undo bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
BEGIN
    IF NOT recor.own_batch(undo) THEN
        RAISE EXCEPTION 'batch % was not opened by this transaction', undo
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE recor.import_batches SET undoes = target WHERE id = undo;
    UPDATE recor.import_batches SET outcome = 'undone', undone_by = undo WHERE id = target;
END
$$;

-- Outcomes move forward only; provenance never changes; an undo link is set once.
CREATE FUNCTION recor.guard_batch_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.started_at, NEW.db_user, NEW.app_user, NEW.profile, NEW.note,
        NEW.source_files, NEW.findings, NEW.txid)
       IS DISTINCT FROM (OLD.id, OLD.started_at, OLD.db_user, OLD.app_user, OLD.profile,
        OLD.note, OLD.source_files, OLD.findings, OLD.txid) THEN
        RAISE EXCEPTION 'import batch %: provenance never changes', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.outcome = 'running' AND NEW.outcome IN ('running', 'loaded', 'undo')
       AND OLD.undone_by IS NULL AND NEW.undone_by IS NULL
       AND OLD.txid = pg_current_xact_id() THEN
        RETURN NEW;
    END IF;
    IF OLD.outcome = 'loaded' AND NEW.outcome = 'undone' AND OLD.undone_by IS NULL
       AND recor.own_batch(NEW.undone_by)
       AND (NEW.counts, NEW.finished_at, NEW.undoes)
           IS NOT DISTINCT FROM (OLD.counts, OLD.finished_at, OLD.undoes) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'import batch %: outcome % cannot become % (allowed: running → loaded → undone, running → undo, by the transaction of the batch)',
        OLD.id, OLD.outcome, NEW.outcome USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER import_batches_guard BEFORE UPDATE ON recor.import_batches
    FOR EACH ROW EXECUTE FUNCTION recor.guard_batch_update();

-- A batch is opened under the write lock, by the registry's function, in this transaction.
CREATE FUNCTION recor.guard_batch_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.outcome <> 'running' OR NEW.txid IS DISTINCT FROM pg_current_xact_id()
       OR NEW.undoes IS NOT NULL OR NEW.undone_by IS NOT NULL THEN
        RAISE EXCEPTION 'import batches are opened by recor.begin_batch() only'
            USING ERRCODE = 'restrict_violation';
    END IF;
    NEW.started_at := now();
    NEW.finished_at := NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER import_batches_guard_insert BEFORE INSERT ON recor.import_batches
    FOR EACH ROW EXECUTE FUNCTION recor.guard_batch_insert();

-- No batch stays 'running' once its transaction commits.
CREATE FUNCTION recor.check_batch_closed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM recor.import_batches WHERE id = NEW.id AND outcome = 'running') THEN
        RAISE EXCEPTION 'import batch % was never finished: nothing of it is kept', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER import_batches_closed_at_commit
    AFTER INSERT ON recor.import_batches
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION recor.check_batch_closed();

-- Every new version, inserted or updated, is stamped with the transaction's time and batch:
-- a client cannot backdate a row or give it to another batch.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'segments', 'risk_groups', 'segment_risk_groups'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON recor.%I '
                       'FOR EACH ROW EXECUTE FUNCTION recor.stamp_version()', t || '_stamp_insert', t);
    END LOOP;
END
$$;

-- History is written by the owner's trigger only.
ALTER FUNCTION recor.keep_history() SECURITY DEFINER;
ALTER FUNCTION recor.keep_history() SET search_path = recor, public, pg_temp;

-- The end check: requested once per transaction through a row only the owner writes, and
-- run whatever that table holds. A row already there for this transaction id that this
-- transaction did not make (pre-inserted before an upgrade) is replaced, so the deferred
-- check fires anyway.
DELETE FROM recor.pending_checks;
ALTER TABLE recor.pending_checks ADD COLUMN requested_at timestamptz NOT NULL DEFAULT now();

CREATE OR REPLACE FUNCTION recor.request_end_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
BEGIN
    INSERT INTO recor.pending_checks VALUES (pg_current_xact_id(), now())
        ON CONFLICT DO NOTHING;
    IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM recor.pending_checks
                                 WHERE txid = pg_current_xact_id() AND requested_at = now()) THEN
        DELETE FROM recor.pending_checks WHERE txid = pg_current_xact_id();
        INSERT INTO recor.pending_checks VALUES (pg_current_xact_id(), now());
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION recor.check_segment_ends() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
DECLARE
    tolerance double precision;
    bad record;
BEGIN
    SELECT value::double precision INTO tolerance
    FROM recor.registry_settings WHERE key = 'end_tolerance_m';
    SELECT s.code, a.code AS a_code, b.code AS b_code, a.retired AS a_retired,
           b.retired AS b_retired,
           ST_Distance(ST_StartPoint(s.geom), a.geom) AS da,
           ST_Distance(ST_EndPoint(s.geom), b.geom) AS db
    INTO bad
    FROM recor.segments s
    JOIN recor.sites a ON a.id = s.site_a
    JOIN recor.sites b ON b.id = s.site_b
    WHERE NOT s.retired
      AND (s.valid_from = now() OR a.valid_from = now() OR b.valid_from = now())
      AND (a.retired OR b.retired
           OR NOT ST_DWithin(ST_StartPoint(s.geom), a.geom, tolerance)
           OR NOT ST_DWithin(ST_EndPoint(s.geom), b.geom, tolerance))
    LIMIT 1;
    IF bad.code IS NOT NULL THEN
        IF bad.a_retired OR bad.b_retired THEN
            RAISE EXCEPTION 'segment % is in service of a retired site (% or %)',
                bad.code, bad.a_code, bad.b_code
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RAISE EXCEPTION 'segment % does not end on its sites: start is % m from site %, end is % m from site % (tolerance % m)',
            bad.code, round(bad.da::numeric, 2), bad.a_code, round(bad.db::numeric, 2), bad.b_code, tolerance
            USING ERRCODE = 'check_violation';
    END IF;
    DELETE FROM recor.pending_checks WHERE txid = pg_current_xact_id();
    RETURN NULL;
END
$$;

-- Reference layers: replaced whole, and recorded, by the owner's function only.
CREATE FUNCTION recor.replace_reference_layer(
    layer text, source_file text, sha256 text, source_crs text,
    codes text[], names text[], geoms bytea[]
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
DECLARE
    import bigint;
BEGIN
    INSERT INTO recor.reference_imports (kind, source_file, sha256, source_crs, features, db_user)
    VALUES (layer, source_file, sha256, source_crs, coalesce(cardinality(codes), 0), session_user)
    RETURNING id INTO import;
    DELETE FROM recor.reference_areas WHERE kind = layer;
    INSERT INTO recor.reference_areas (kind, code, name, import_id, geom)
    SELECT layer, c, n, import, ST_Multi(ST_GeomFromEWKB(g))
    FROM unnest(codes, names, geoms) AS u (c, n, g);
    RETURN import;
END
$$;

CREATE TRIGGER reference_imports_no_change BEFORE UPDATE OR DELETE ON recor.reference_imports
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_delete();
CREATE TRIGGER reference_imports_no_truncate BEFORE TRUNCATE ON recor.reference_imports
    FOR EACH STATEMENT EXECUTE FUNCTION recor.refuse_delete();

-- Even the owner's own statements cannot add history or pending checks directly: rows
-- arrive only from the registry's triggers (a nested trigger depth).
CREATE FUNCTION recor.refuse_direct_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'rows of recor.% are written by the registry''s triggers only', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites_history', 'segments_history', 'risk_groups_history',
                             'segment_risk_groups_history', 'pending_checks'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON recor.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION recor.refuse_direct_insert()',
                       t || '_no_direct_insert', t);
    END LOOP;
END
$$;

-- Privileges: editors lose every direct write on the audit trail.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON recor.import_batches, recor.sites_history,
    recor.segments_history, recor.risk_groups_history, recor.segment_risk_groups_history,
    recor.pending_checks, recor.reference_areas, recor.reference_imports, recor.write_lock
    FROM recor_editor, recor_reader, PUBLIC;
REVOKE ALL ON FUNCTION recor.take_write_lock(text), recor.begin_batch(text, text, text, jsonb, jsonb),
    recor.finish_batch(bigint, jsonb, recor.batch_outcome), recor.mark_undone(bigint, bigint),
    recor.replace_reference_layer(text, text, text, text, text[], text[], bytea[]),
    recor.keep_history(), recor.request_end_check(),
    recor.check_segment_ends(), recor.check_batch_closed()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recor.take_write_lock(text), recor.begin_batch(text, text, text, jsonb, jsonb),
    recor.finish_batch(bigint, jsonb, recor.batch_outcome), recor.mark_undone(bigint, bigint),
    recor.replace_reference_layer(text, text, text, text, text[], text[], bytea[])
    TO recor_editor;
GRANT SELECT ON recor.write_lock TO recor_reader;
