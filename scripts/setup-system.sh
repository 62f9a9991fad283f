#!/usr/bin/env bash
# System packages recor needs, for the PostgreSQL server that is running (or installed) here:
# PostGIS and pgRouting for its major version, GDAL's ogr2ogr (import benchmark reference),
# Chromium and its driver (map tests), PyQGIS and its PostGIS provider (QGIS export tests).
# Starts the local server when it is down.
# Idempotent: when everything is present it installs nothing and only checks.
set -euo pipefail

log() { printf 'setup-system: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

PGHOST=${PGHOST:-127.0.0.1}
PGUSER=${PGUSER:-postgres}
export PGHOST PGUSER

server_major() {
    psql -d postgres -XAtc "SELECT current_setting('server_version_num')::int / 10000" 2>/dev/null
}

start_server_if_down() {
    if pg_isready -q -h "$PGHOST" 2>/dev/null; then
        return
    fi
    log "PostgreSQL is not answering on $PGHOST; starting the local cluster"
    for version in $(ls /etc/postgresql 2>/dev/null | sort -rn); do
        for cluster in $(ls "/etc/postgresql/$version"); do
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || true
        done
    done
    for _ in $(seq 1 30); do
        pg_isready -q -h "$PGHOST" && return
        sleep 1
    done
    log "PostgreSQL did not start on $PGHOST"; exit 1
}

start_server_if_down
major=$(server_major)
if [ -z "$major" ]; then
    log "cannot read the server's version (PGHOST=$PGHOST PGUSER=$PGUSER)"; exit 1
fi

wanted=(
    "postgresql-$major-postgis-3"
    "postgresql-$major-pgrouting"
    gdal-bin
    chromium
    chromium-driver
    python3-qgis
    qgis-providers
)
missing=()
for package in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (PostgreSQL $major)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        "${missing[@]}" >/dev/null
else
    log "system packages present (PostgreSQL $major: PostGIS, pgRouting; GDAL; Chromium)"
fi
start_server_if_down
