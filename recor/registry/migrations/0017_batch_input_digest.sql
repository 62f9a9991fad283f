-- 0017: a loaded batch remembers the digest of its input (every delivered file's SHA-256,
-- the profile, the import options and the recor code that read them).
--
-- A re-import of byte-identical files, read the same way, while that batch is still the
-- registry's newest, cannot change anything: recor then answers "identical to batch N"
-- without reading the delivery again (recor import --recheck reads and checks it anyway).
-- The digest is recorded once, by the transaction that runs the batch, and never changes.

ALTER TABLE recor.import_batches ADD COLUMN input_digest text;
COMMENT ON COLUMN recor.import_batches.input_digest IS
    'SHA-256 of the delivered files, profile, options and recor code of the load (NULL: not recorded)';

CREATE FUNCTION recor.record_batch_input(batch bigint, digest text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
BEGIN
    IF NOT recor.own_batch(batch) THEN
        RAISE EXCEPTION 'batch % was not opened by this transaction', batch
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF digest !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'input digest of batch %: 64 hexadecimal digits expected', batch
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE recor.import_batches SET input_digest = digest
    WHERE id = batch AND outcome = 'running' AND input_digest IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'input digest of batch %: recorded once, while the batch runs', batch
            USING ERRCODE = 'restrict_violation';
    END IF;
END
$$;

-- Outcomes move forward only; provenance (now with the input digest) never changes once the
-- batch is closed; an undo link is set once.
CREATE OR REPLACE FUNCTION recor.guard_batch_update() RETURNS trigger
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
    IF NEW.input_digest IS DISTINCT FROM OLD.input_digest THEN
        RAISE EXCEPTION 'import batch %: the input digest never changes once the batch is closed', OLD.id
            USING ERRCODE = 'restrict_violation';
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

REVOKE ALL ON FUNCTION recor.record_batch_input(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recor.record_batch_input(bigint, text) TO recor_editor;
