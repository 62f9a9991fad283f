-- 0004: a geometry that moved less than a stated tolerance has not changed.
--
-- Re-delivering the same network through another format or CRS round trip moves vertices by
-- nanometres; comparing geometries byte for byte would turn every such feature into a new
-- version. Imports compare with recor.geometry_differs: same bytes → unchanged; different
-- vertex count or type → changed; else changed only when the Hausdorff distance exceeds
-- geometry_tolerance_m.

INSERT INTO recor.registry_settings VALUES
    ('geometry_tolerance_m', '0.001',
     'a geometry within this Hausdorff distance (metres) of the stored one is unchanged');

CREATE FUNCTION recor.geometry_differs(a geometry, b geometry) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN a IS NULL OR b IS NULL THEN a IS DISTINCT FROM b
        WHEN ST_AsBinary(a) = ST_AsBinary(b) THEN false
        WHEN GeometryType(a) <> GeometryType(b) OR ST_NPoints(a) <> ST_NPoints(b) THEN true
        ELSE ST_HausdorffDistance(a, b) > (
            SELECT value::double precision FROM recor.registry_settings
            WHERE key = 'geometry_tolerance_m')
    END
$$;
