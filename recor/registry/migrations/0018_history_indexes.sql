-- 0018: history indexes suited to append-only tables.
--
-- Every version a batch ends is appended to its history table by the batch's own statement
-- (keep_history). Three b-trees per table were maintained for each such row:
-- (ended_by_batch, batch_id) for the undo, (valid_from, valid_to) for "as of" reads and
-- (id, valid_from), which no query used (for links: the pair and valid_from). An undo of a 200,000-segment delivery appends
-- 360,000 history rows, and each b-tree cost it about 0.28 s of server CPU.
--
-- History rows are appended in the order batches end them (one writer at a time, under the
-- write lock), so the batch that ended a version and the end of its life grow with the
-- table's physical order: a BRIN index (a few pages, updated once per page range) finds the
-- rows ended by one batch, or ended after a given time, as well as a b-tree did, at a
-- fraction of the cost. No b-tree is left: the version history of one code (recor history
-- CODE) reads the table as it did before (a b-tree on code, measured, would cost every
-- undo as much as it saves that command).
--
-- Queries and results are unchanged; the undo also states that a version a batch made can
-- only have been ended by a later batch (batches run one after another, their ids rising),
-- which lets the index skip everything ended before it.

DROP INDEX recor.sites_history_id_idx, recor.segments_history_id_idx,
    recor.risk_groups_history_id_idx, recor.segment_risk_groups_history_idx,
    recor.sites_history_batches_idx, recor.segments_history_batches_idx,
    recor.risk_groups_history_batches_idx, recor.segment_risk_groups_history_batches_idx,
    recor.sites_history_period_idx, recor.segments_history_period_idx;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'segments', 'risk_groups', 'segment_risk_groups'] LOOP
        EXECUTE format('CREATE INDEX %I ON recor.%I USING brin (ended_by_batch)',
                       t || '_history_ended_by_idx', t || '_history');
        EXECUTE format('CREATE INDEX %I ON recor.%I USING brin (valid_to)',
                       t || '_history_valid_to_idx', t || '_history');
    END LOOP;
END
$$;
