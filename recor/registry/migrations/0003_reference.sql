-- 0003: reference layers — administrative boundaries (communes, départements, ...) used as
-- map backgrounds and as the units of the coverage analysis. Not network assets: a layer is
-- replaced whole by each import (one transaction), and the import is recorded.

CREATE TABLE recor.reference_imports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind ~ '^[a-z_]+$'),
    source_file text NOT NULL,
    sha256      text NOT NULL,
    source_crs  text NOT NULL,
    features    integer NOT NULL CHECK (features >= 0),
    imported_at timestamptz NOT NULL DEFAULT now(),
    db_user     text NOT NULL DEFAULT current_user
);

CREATE TABLE recor.reference_areas (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind ~ '^[a-z_]+$'),
    code        text NOT NULL CHECK (code <> ''),
    name        text NOT NULL,
    import_id   bigint NOT NULL REFERENCES recor.reference_imports (id),
    geom        geometry(MultiPolygon, 2154) NOT NULL
                CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    UNIQUE (kind, code)
);
CREATE INDEX reference_areas_geom_idx ON recor.reference_areas USING gist (geom);

GRANT SELECT ON recor.reference_imports, recor.reference_areas TO recor_reader;
GRANT INSERT, DELETE ON recor.reference_areas TO recor_editor;
GRANT INSERT ON recor.reference_imports TO recor_editor;
