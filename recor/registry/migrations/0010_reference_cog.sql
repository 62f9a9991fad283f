-- 0010: the official geographic code (INSEE COG with DGCL EPCI membership) beside the
-- boundary polygons: per commune its type (current, delegated, associated), the current
-- commune it belongs to, population, rank as chief town and EPCI. Replaced whole by each
-- import (recorded in reference_imports with kind 'cog'); the polygons may be of another
-- vintage, and the maps reconcile the two (merged communes) and say how.

CREATE TABLE recor.reference_cog (
    code            text NOT NULL CHECK (code ~ '^[0-9][0-9AB][0-9]{3}$'),
    name            text NOT NULL CHECK (name <> ''),
    type            text NOT NULL
                    CHECK (type IN ('commune-actuelle', 'commune-deleguee', 'commune-associee')),
    departement     text NOT NULL,
    parent          text,
    chief_town_rank integer CHECK (chief_town_rank >= 0),
    population      integer CHECK (population >= 0),
    epci_code       text,
    epci_name       text,
    epci_type       text,
    import_id       bigint NOT NULL REFERENCES recor.reference_imports (id),
    CHECK ((type = 'commune-actuelle') = (parent IS NULL)),
    -- a delegated commune often keeps the code of the current commune it belongs to
    PRIMARY KEY (code, type)
);

GRANT SELECT ON recor.reference_cog TO recor_reader;
GRANT INSERT, DELETE ON recor.reference_cog TO recor_editor;
