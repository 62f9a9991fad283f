-- 0001: the registry — sites, segments, shared-risk groups, import batches, full history.
--
-- Rules the database enforces by itself (whatever client writes):
--   typed geometry columns (SRID 2154, Point / LineString), valid, non-empty, inside France;
--   enumerations as types; fibre counts non-negative and consistent; unique codes;
--   every change made inside an import batch; no row ever deleted (rows are retired);
--   every update keeps the previous version in *_history; segment ends on their end sites.

-- The schema, PostGIS and the three roles are created by the migration runner's bootstrap
-- (recor/registry/migrate.py), which needs an administrator once.

CREATE TYPE recor.site_kind AS ENUM (
    'datacentre', 'chaton', 'pop', 'junction', 'chamber', 'public_site', 'other');
CREATE TYPE recor.lifecycle_status AS ENUM (
    'planned', 'under_construction', 'in_service', 'out_of_service', 'abandoned');
CREATE TYPE recor.installation_kind AS ENUM ('duct', 'buried', 'aerial', 'facade', 'other');
CREATE TYPE recor.risk_kind AS ENUM ('duct', 'trench', 'bridge_crossing', 'other');
CREATE TYPE recor.batch_outcome AS ENUM ('running', 'loaded', 'undone', 'undo');

-- Registry-wide settings the rules read (stated, not hidden in code).
CREATE TABLE recor.registry_settings (
    key   text PRIMARY KEY,
    value text NOT NULL,
    note  text NOT NULL
);
INSERT INTO recor.registry_settings VALUES
    ('end_tolerance_m', '1.0', 'max distance between a segment end and its end site, metres');

CREATE TABLE recor.import_batches (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    db_user      text NOT NULL DEFAULT current_user,
    app_user     text NOT NULL DEFAULT '',
    profile      text NOT NULL DEFAULT '',
    note         text NOT NULL DEFAULT '',
    source_files jsonb NOT NULL DEFAULT '[]',
    counts       jsonb NOT NULL DEFAULT '{}',
    findings     jsonb NOT NULL DEFAULT '[]',
    outcome      recor.batch_outcome NOT NULL DEFAULT 'running',
    undoes       bigint REFERENCES recor.import_batches (id),
    undone_by    bigint REFERENCES recor.import_batches (id)
);

-- The batch every change of this transaction belongs to (set by the loader). Cheap: rows
-- call it; that the batch exists and is open is checked once per statement
-- (recor.require_open_batch), which is why batch_id columns carry no per-row foreign key.
CREATE FUNCTION recor.current_batch() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    raw text := current_setting('recor.batch_id', true);
BEGIN
    IF raw IS NULL OR raw = '' THEN
        RAISE EXCEPTION 'registry rows can only change inside an import batch'
            USING ERRCODE = 'check_violation',
                  HINT = 'load through recor (recor import / load_delivery)';
    END IF;
    RETURN raw::bigint;
END
$$;

CREATE FUNCTION recor.require_open_batch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM recor.import_batches
                   WHERE id = recor.current_batch() AND outcome = 'running') THEN
        RAISE EXCEPTION 'import batch % is not open: changes need a running batch',
            recor.current_batch() USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TABLE recor.sites (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text NOT NULL,
    name       text NOT NULL DEFAULT '',
    kind       recor.site_kind NOT NULL,
    operator   text NOT NULL DEFAULT '',
    status     recor.lifecycle_status NOT NULL,
    source     text NOT NULL DEFAULT '',
    extra      jsonb NOT NULL DEFAULT '{}',
    geom       geometry(Point, 2154) NOT NULL,
    retired    boolean NOT NULL DEFAULT false,
    valid_from timestamptz NOT NULL DEFAULT now(),
    batch_id   bigint NOT NULL DEFAULT recor.current_batch(),
    CONSTRAINT sites_code_unique UNIQUE (code),
    CONSTRAINT sites_code_not_blank CHECK (btrim(code) <> ''),
    CONSTRAINT sites_geom_not_empty CHECK (NOT ST_IsEmpty(geom)),
    CONSTRAINT sites_geom_in_france CHECK (
        ST_X(geom) BETWEEN 0 AND 1300000 AND ST_Y(geom) BETWEEN 6000000 AND 7200000),
    CONSTRAINT sites_extra_is_object CHECK (jsonb_typeof(extra) = 'object')
);

CREATE TABLE recor.segments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            text NOT NULL,
    site_a          bigint NOT NULL REFERENCES recor.sites (id),
    site_b          bigint NOT NULL REFERENCES recor.sites (id),
    geom            geometry(LineString, 2154) NOT NULL,
    length_m        double precision GENERATED ALWAYS AS (ST_Length(geom)) STORED,
    fibre_count     integer,
    fibres_used     integer,
    cable_type      text NOT NULL DEFAULT '',
    installation    recor.installation_kind NOT NULL DEFAULT 'other',
    status          recor.lifecycle_status NOT NULL,
    owner           text NOT NULL DEFAULT '',
    operator        text NOT NULL DEFAULT '',
    commissioned_on date,
    source          text NOT NULL DEFAULT '',
    extra           jsonb NOT NULL DEFAULT '{}',
    retired         boolean NOT NULL DEFAULT false,
    valid_from      timestamptz NOT NULL DEFAULT now(),
    batch_id        bigint NOT NULL DEFAULT recor.current_batch(),
    CONSTRAINT segments_code_unique UNIQUE (code),
    CONSTRAINT segments_code_not_blank CHECK (btrim(code) <> ''),
    CONSTRAINT segments_distinct_ends CHECK (site_a <> site_b),
    CONSTRAINT segments_geom_valid CHECK (NOT ST_IsEmpty(geom) AND ST_IsValid(geom)),
    CONSTRAINT segments_geom_not_zero_length CHECK (ST_Length(geom) > 0),
    CONSTRAINT segments_geom_in_france CHECK (
        ST_XMin(geom) >= 0 AND ST_XMax(geom) <= 1300000
        AND ST_YMin(geom) >= 6000000 AND ST_YMax(geom) <= 7200000),
    CONSTRAINT segments_fibre_count_non_negative CHECK (fibre_count >= 0),
    CONSTRAINT segments_fibres_used_non_negative CHECK (fibres_used >= 0),
    CONSTRAINT segments_fibres_used_within_count CHECK (fibres_used <= fibre_count),
    CONSTRAINT segments_extra_is_object CHECK (jsonb_typeof(extra) = 'object')
);

CREATE TABLE recor.risk_groups (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text NOT NULL,
    kind       recor.risk_kind NOT NULL,
    name       text NOT NULL DEFAULT '',
    source     text NOT NULL DEFAULT '',
    extra      jsonb NOT NULL DEFAULT '{}',
    retired    boolean NOT NULL DEFAULT false,
    valid_from timestamptz NOT NULL DEFAULT now(),
    batch_id   bigint NOT NULL DEFAULT recor.current_batch(),
    CONSTRAINT risk_groups_code_unique UNIQUE (code),
    CONSTRAINT risk_groups_code_not_blank CHECK (btrim(code) <> ''),
    CONSTRAINT risk_groups_extra_is_object CHECK (jsonb_typeof(extra) = 'object')
);

CREATE TABLE recor.segment_risk_groups (
    segment_id    bigint NOT NULL REFERENCES recor.segments (id),
    risk_group_id bigint NOT NULL REFERENCES recor.risk_groups (id),
    retired       boolean NOT NULL DEFAULT false,
    valid_from    timestamptz NOT NULL DEFAULT now(),
    batch_id      bigint NOT NULL DEFAULT recor.current_batch(),
    PRIMARY KEY (segment_id, risk_group_id)
);

-- Batch and time indexes are BRIN: rows arrive in batch order, and BRIN costs next to
-- nothing on bulk loads.
CREATE INDEX sites_geom_idx ON recor.sites USING gist (geom);
CREATE INDEX segments_geom_idx ON recor.segments USING gist (geom);
CREATE INDEX segments_site_a_idx ON recor.segments (site_a);
CREATE INDEX segments_site_b_idx ON recor.segments (site_b);
CREATE INDEX sites_batch_idx ON recor.sites USING brin (batch_id);
CREATE INDEX segments_batch_idx ON recor.segments USING brin (batch_id);
CREATE INDEX risk_groups_batch_idx ON recor.risk_groups (batch_id);
CREATE INDEX segment_risk_groups_batch_idx ON recor.segment_risk_groups (batch_id);
CREATE INDEX segment_risk_groups_group_idx ON recor.segment_risk_groups (risk_group_id);
CREATE INDEX segments_valid_from_idx ON recor.segments USING brin (valid_from);
CREATE INDEX sites_valid_from_idx ON recor.sites USING brin (valid_from);

-- History: one table per registry table, same columns plus the end of the version's life.
CREATE TABLE recor.sites_history (LIKE recor.sites);
CREATE TABLE recor.segments_history (LIKE recor.segments);
CREATE TABLE recor.risk_groups_history (LIKE recor.risk_groups);
CREATE TABLE recor.segment_risk_groups_history (LIKE recor.segment_risk_groups);
ALTER TABLE recor.sites_history
    ADD COLUMN valid_to timestamptz NOT NULL, ADD COLUMN ended_by_batch bigint NOT NULL;
ALTER TABLE recor.segments_history
    ADD COLUMN valid_to timestamptz NOT NULL, ADD COLUMN ended_by_batch bigint NOT NULL;
ALTER TABLE recor.risk_groups_history
    ADD COLUMN valid_to timestamptz NOT NULL, ADD COLUMN ended_by_batch bigint NOT NULL;
ALTER TABLE recor.segment_risk_groups_history
    ADD COLUMN valid_to timestamptz NOT NULL, ADD COLUMN ended_by_batch bigint NOT NULL;
CREATE INDEX sites_history_id_idx ON recor.sites_history (id, valid_from);
CREATE INDEX segments_history_id_idx ON recor.segments_history (id, valid_from);
CREATE INDEX risk_groups_history_id_idx ON recor.risk_groups_history (id, valid_from);
CREATE INDEX segment_risk_groups_history_idx
    ON recor.segment_risk_groups_history (segment_id, risk_group_id, valid_from);
CREATE INDEX sites_history_batches_idx ON recor.sites_history (ended_by_batch, batch_id);
CREATE INDEX segments_history_batches_idx ON recor.segments_history (ended_by_batch, batch_id);
CREATE INDEX risk_groups_history_batches_idx ON recor.risk_groups_history (ended_by_batch, batch_id);
CREATE INDEX segment_risk_groups_history_batches_idx
    ON recor.segment_risk_groups_history (ended_by_batch, batch_id);
CREATE INDEX sites_history_period_idx ON recor.sites_history (valid_from, valid_to);
CREATE INDEX segments_history_period_idx ON recor.segments_history (valid_from, valid_to);

-- A new version: stamp it with the transaction time and the current batch.
CREATE FUNCTION recor.stamp_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.valid_from := now();
    NEW.batch_id := recor.current_batch();
    RETURN NEW;
END
$$;

-- Keep every replaced version. Versions born and replaced in one transaction never existed
-- outside it and are not kept.
CREATE FUNCTION recor.keep_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO recor.%I SELECT o.*, now(), recor.current_batch() '
        'FROM old_rows o WHERE o.valid_from < now()',
        TG_TABLE_NAME || '_history');
    RETURN NULL;
END
$$;

CREATE FUNCTION recor.refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of recor.% are never deleted: retire them (retired = true)', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

-- Ends of active segments must lie on their (active) end sites. Checked once per
-- transaction, at commit, over every row the transaction touched: a site and its segments
-- may move together in any order.
CREATE TABLE recor.pending_checks (txid xid8 PRIMARY KEY);

CREATE FUNCTION recor.request_end_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO recor.pending_checks VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION recor.check_segment_ends() RETURNS trigger
LANGUAGE plpgsql AS $$
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
    DELETE FROM recor.pending_checks WHERE txid = pg_current_xact_id();
    IF FOUND AND bad.code IS NOT NULL THEN
        IF bad.a_retired OR bad.b_retired THEN
            RAISE EXCEPTION 'segment % is in service of a retired site (% or %)',
                bad.code, bad.a_code, bad.b_code
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RAISE EXCEPTION 'segment % does not end on its sites: start is % m from site %, end is % m from site % (tolerance % m)',
            bad.code, round(bad.da::numeric, 2), bad.a_code, round(bad.db::numeric, 2), bad.b_code, tolerance
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER segment_ends_on_sites
    AFTER INSERT ON recor.pending_checks
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION recor.check_segment_ends();

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'segments', 'risk_groups', 'segment_risk_groups'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON recor.%I '
                       'FOR EACH ROW EXECUTE FUNCTION recor.stamp_version()', t || '_stamp', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON recor.%I '
                       'REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION recor.keep_history()', t || '_history', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON recor.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION recor.require_open_batch()',
                       t || '_open_batch', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE ON recor.%I '
                       'FOR EACH ROW EXECUTE FUNCTION recor.refuse_delete()', t || '_no_delete', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON recor.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION recor.refuse_delete()', t || '_no_truncate', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['sites', 'segments'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE ON recor.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION recor.request_end_check()', t || '_end_check', t);
    END LOOP;
END
$$;

-- Batches are provenance: never deleted either.
CREATE TRIGGER import_batches_no_delete BEFORE DELETE ON recor.import_batches
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_delete();
CREATE TRIGGER import_batches_no_truncate BEFORE TRUNCATE ON recor.import_batches
    FOR EACH STATEMENT EXECUTE FUNCTION recor.refuse_delete();

-- History tables are append-only too.
CREATE TRIGGER sites_history_no_change BEFORE UPDATE OR DELETE ON recor.sites_history
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_delete();
CREATE TRIGGER segments_history_no_change BEFORE UPDATE OR DELETE ON recor.segments_history
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_delete();
CREATE TRIGGER risk_groups_history_no_change BEFORE UPDATE OR DELETE ON recor.risk_groups_history
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_delete();
CREATE TRIGGER segment_risk_groups_history_no_change
    BEFORE UPDATE OR DELETE ON recor.segment_risk_groups_history
    FOR EACH ROW EXECUTE FUNCTION recor.refuse_delete();

-- Views of what is active now, for QGIS and read-only users.
CREATE VIEW recor.active_sites AS
    SELECT id, code, name, kind, operator, status, source, extra, geom, valid_from, batch_id
    FROM recor.sites WHERE NOT retired;
CREATE VIEW recor.active_segments AS
    SELECT s.id, s.code, a.code AS site_a, b.code AS site_b, s.length_m, s.fibre_count,
           s.fibres_used, s.cable_type, s.installation, s.status, s.owner, s.operator,
           s.commissioned_on, s.source, s.extra, s.geom, s.valid_from, s.batch_id
    FROM recor.segments s
    JOIN recor.sites a ON a.id = s.site_a
    JOIN recor.sites b ON b.id = s.site_b
    WHERE NOT s.retired;

-- Privileges: readers read, editors load, the owner migrates.
GRANT USAGE ON SCHEMA recor TO recor_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA recor TO recor_reader;
GRANT INSERT, UPDATE ON recor.sites, recor.segments, recor.risk_groups,
    recor.segment_risk_groups, recor.import_batches TO recor_editor;
GRANT INSERT ON recor.sites_history, recor.segments_history, recor.risk_groups_history,
    recor.segment_risk_groups_history TO recor_editor;
GRANT INSERT, DELETE ON recor.pending_checks TO recor_editor;
GRANT ALL ON SCHEMA recor TO recor_owner;
GRANT ALL ON ALL TABLES IN SCHEMA recor TO recor_owner;
ALTER DEFAULT PRIVILEGES IN SCHEMA recor GRANT SELECT ON TABLES TO recor_reader;
