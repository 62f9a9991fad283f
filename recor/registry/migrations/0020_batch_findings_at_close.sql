-- 0020: a batch's findings may be recorded after it opens, once, by the transaction that
-- runs it.
--
-- recor import opens the batch while the delivery's last checks (segment layout, site
-- statuses, disconnected parts: they only report) still run beside the load, in the
-- importing process; their findings join the batch row before it closes. A batch opened
-- with findings keeps them: only one opened with none ('[]') takes them later, once (a
-- non-empty list), and only from the transaction that opened it, while it runs. That is no new power: the same transaction
-- could have given them when it opened the batch. Once the batch is closed its findings
-- never change, as before.

CREATE FUNCTION recor.record_batch_findings(batch bigint, given jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
BEGIN
    IF NOT recor.own_batch(batch) THEN
        RAISE EXCEPTION 'batch % was not opened by this transaction', batch
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (CASE WHEN jsonb_typeof(given) = 'array' THEN jsonb_array_length(given) = 0 ELSE true END) THEN
        RAISE EXCEPTION 'findings of batch %: a JSON array of at least one finding expected', batch
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE recor.import_batches SET findings = given
    WHERE id = batch AND outcome = 'running' AND findings = '[]'::jsonb;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'findings of batch %: recorded once, while the batch runs, if it opened with none', batch
            USING ERRCODE = 'restrict_violation';
    END IF;
END
$$;

REVOKE ALL ON FUNCTION recor.record_batch_findings(bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recor.record_batch_findings(bigint, jsonb) TO recor_editor;

-- As 0017, with one more case: the findings of a running batch that opened with none, set
-- by its own transaction.
CREATE OR REPLACE FUNCTION recor.guard_batch_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.started_at, NEW.db_user, NEW.app_user, NEW.profile, NEW.note,
        NEW.source_files, NEW.txid)
       IS DISTINCT FROM (OLD.id, OLD.started_at, OLD.db_user, OLD.app_user, OLD.profile,
        OLD.note, OLD.source_files, OLD.txid)
       OR (NEW.findings IS DISTINCT FROM OLD.findings
           AND NOT (OLD.outcome = 'running' AND NEW.outcome = 'running'
                    AND OLD.txid = pg_current_xact_id()
                    AND OLD.findings = '[]'::jsonb
                    AND CASE WHEN jsonb_typeof(NEW.findings) = 'array'
                             THEN jsonb_array_length(NEW.findings) > 0 ELSE false END)) THEN
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
