-- 0015: every new row version and every history row belongs to the batch this transaction
-- opened, checked on the rows themselves.
--
-- Until now the batch was checked once before each statement (require_open_batch) and then
-- read per row from the setting recor.batch_id, which a client can change in the middle of
-- its own statement (set_config in a FROM clause): an editor could attribute new versions,
-- and the history rows they end, to another (closed) batch, after which that batch could no
-- longer be undone. Now, after each statement, the new versions (transition table, one query
-- per statement) must all carry a running batch opened by this transaction, and the history
-- trigger refuses to end versions under any other batch.

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'segments', 'risk_groups', 'segment_risk_groups'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON recor.%I REFERENCING NEW TABLE AS inserted '
                       'FOR EACH STATEMENT EXECUTE FUNCTION recor.require_own_batch_rows()',
                       t || '_own_batch_insert', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON recor.%I REFERENCING NEW TABLE AS inserted '
                       'FOR EACH STATEMENT EXECUTE FUNCTION recor.require_own_batch_rows()',
                       t || '_own_batch_update', t);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION recor.keep_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = recor, public, pg_temp AS $$
DECLARE
    batch bigint := recor.current_batch();
BEGIN
    IF NOT recor.own_batch(batch) THEN
        RAISE EXCEPTION 'versions of recor.% ended under batch %: only the running batch this transaction opened may end them',
            TG_TABLE_NAME, batch USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format(
        'INSERT INTO recor.%I SELECT o.*, now(), $1 FROM old_rows o WHERE o.valid_from < now()',
        TG_TABLE_NAME || '_history') USING batch;
    RETURN NULL;
END
$$;
