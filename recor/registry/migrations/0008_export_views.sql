-- 0008: views for GIS clients (the QGIS project of `recor export qgis`): shared-risk groups
-- drawn as the lines of their segments, and every version of sites and segments (current
-- and past) with its validity period. Read-only like every view; readers may select them.

CREATE VIEW recor.risk_group_lines AS
    SELECT r.id, r.code, r.kind, r.name, r.source, r.valid_from, r.batch_id,
           count(s.id)::integer AS segment_count,
           string_agg(s.code, ' ' ORDER BY s.code) AS segment_codes,
           ST_Multi(ST_Collect(s.geom ORDER BY s.code))::geometry(MultiLineString, 2154) AS geom
    FROM recor.risk_groups r
    JOIN recor.segment_risk_groups l ON l.risk_group_id = r.id AND NOT l.retired
    JOIN recor.segments s ON s.id = l.segment_id AND NOT s.retired
    WHERE NOT r.retired
    GROUP BY r.id;

-- One row per version in which the row existed (retired periods are left out, so a time
-- slider shows exactly what the registry held); `version_key` (code and start of validity)
-- identifies it for clients that need a unique column; `valid_to` is NULL for the current
-- version.
CREATE VIEW recor.site_versions AS
    SELECT code || '@' || to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
               AS version_key,
           id, code, name, kind, operator, status, source, geom,
           valid_from, NULL::timestamptz AS valid_to, batch_id, NULL::bigint AS ended_by_batch
    FROM recor.sites WHERE NOT retired
    UNION ALL
    SELECT code || '@' || to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
           id, code, name, kind, operator, status, source, geom,
           valid_from, valid_to, batch_id, ended_by_batch
    FROM recor.sites_history WHERE NOT retired;

CREATE VIEW recor.segment_versions AS
    SELECT code || '@' || to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
               AS version_key,
           id, code, fibre_count, fibres_used, cable_type, installation, status, owner,
           operator, commissioned_on, source, length_m, geom,
           valid_from, NULL::timestamptz AS valid_to, batch_id, NULL::bigint AS ended_by_batch
    FROM recor.segments WHERE NOT retired
    UNION ALL
    SELECT code || '@' || to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
           id, code, fibre_count, fibres_used, cable_type, installation, status, owner,
           operator, commissioned_on, source, length_m, geom,
           valid_from, valid_to, batch_id, ended_by_batch
    FROM recor.segments_history WHERE NOT retired;

GRANT SELECT ON recor.risk_group_lines, recor.site_versions, recor.segment_versions
    TO recor_reader;
