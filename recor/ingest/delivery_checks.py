"""Checks of a delivery as a network, once its ends are tied to sites.

In-service segments ending on sites that are not in service (planned, under construction,
out of service, abandoned) are reported at import, rather than silently dropped later by each
analysis; so are parts of a delivery connected neither to the rest of it nor to the registry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from recor.domain import Status
from recor.ingest.findings import Findings

__all__ = ["check_disconnected_parts", "check_site_statuses"]

_STATUS_FR = {
    "planned": "prévu",
    "under_construction": "en construction",
    "in_service": "en service",
    "out_of_service": "hors service",
    "abandoned": "abandonné",
}


def check_site_statuses(
    segments: pd.DataFrame,
    sites: pd.DataFrame,
    registry_sites: pd.DataFrame | None,
    findings: Findings,
) -> None:
    """Warn for every in-service segment end on a site that is not in service.

    ``sites`` are the delivered sites (created junctions included); ``registry_sites`` the
    registry's sites around the delivery (with ``status``), used for ends the delivery
    ties to sites it does not deliver.
    """
    status = pd.Series(sites["status"].to_numpy(), index=sites["code"].to_numpy())
    if registry_sites is not None and "status" in registry_sites and len(registry_sites):
        known = pd.Series(
            registry_sites["status"].to_numpy(), index=registry_sites["code"].to_numpy()
        )
        status = pd.concat([status, known[~known.index.isin(status.index)]])
    status = status[~status.index.duplicated()]
    in_service = (segments["status"] == str(Status.IN_SERVICE)).to_numpy()
    for field in ("site_a", "site_b"):
        end_status = segments[field].map(status)
        off = in_service & end_status.notna().to_numpy() & (end_status != Status.IN_SERVICE)
        if not off.any():
            continue
        label = end_status.map(lambda s: _STATUS_FR.get(s, s), na_action="ignore")
        message = (
            "tronçon en service aboutissant au site " + segments[field].astype(str)
            + " au statut « " + label.astype(str) + " » : l'un des deux statuts est faux, "
            "et les analyses écarteront ce tronçon"
        )  # fmt: skip
        findings.add_rows(
            segments, off, "TOPO-STATUS-MISMATCH", message, field=field,
            values=segments[field].astype(str) + " (" + end_status.astype(str) + ")",
        )  # fmt: skip


def check_disconnected_parts(
    segments: pd.DataFrame, delivered_sites: pd.DataFrame, findings: Findings
) -> int:
    """Warn for each part of the delivery tied neither to its main part nor to the registry.

    A part (connected component of the delivered segments) that ends on a site the delivery
    does not carry is anchored to the registry. When no part is, the largest one is the
    reference. Returns the number of parts.
    """
    site_a = segments["site_a"].to_numpy(dtype=object)
    site_b = segments["site_b"].to_numpy(dtype=object)
    kept = np.flatnonzero(pd.notna(site_a) & pd.notna(site_b))
    if not len(kept):
        return 0
    n = len(kept)
    # column arrays only, never a copy of the frame: this runs on a million segments
    values = np.concatenate([site_a[kept], site_b[kept]])
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        values = values.astype(str).astype(object)
    ends, codes = pd.factorize(values)
    codes = np.asarray(codes, dtype=object)
    a, b = ends[:n], ends[n:]
    graph = coo_matrix((np.ones(n), (a, b)), shape=(len(codes), len(codes)))
    count, label = connected_components(graph, directed=False)
    if count <= 1:
        return count
    delivered = pd.Index(delivered_sites["code"].astype(str).unique())
    anchored = np.zeros(count, dtype=bool)
    foreign = ~pd.Index(codes).isin(delivered)
    anchored[np.unique(label[foreign])] = True
    part = label[a]
    sizes = np.bincount(part, minlength=count)
    if not anchored.any():
        anchored[int(np.argmax(sizes))] = True
    # rows and sites grouped by part once (not one scan of every row per part)
    by_part = np.argsort(part, kind="stable")
    row_bounds = np.searchsorted(part[by_part], np.arange(count + 1))
    by_label = np.argsort(label, kind="stable")
    site_bounds = np.searchsorted(label[by_label], np.arange(count + 1))
    files = segments["_file"].to_numpy(dtype=object) if "_file" in segments else None
    features = segments["_feature"].to_numpy() if "_feature" in segments else None
    seg_codes = segments["code"].to_numpy(dtype=object)
    for component in np.flatnonzero(~anchored):
        size = int(row_bounds[component + 1] - row_bounds[component])
        first = int(kept[by_part[row_bounds[component]]])
        sites = np.sort(codes[by_label[site_bounds[component] : site_bounds[component + 1]]])
        findings.add(
            "TOPO-DISCONNECTED",
            f"partie de la livraison reliée ni au reste de la livraison ni au registre : "
            f"{size} tronçon(s), {len(sites)} site(s) ({', '.join(sites[:5])}"
            f"{', …' if len(sites) > 5 else ''}) ; vérifier les extrémités (tolérance) ou "
            "livrer le lien manquant",
            file=str(files[first]) if files is not None else "",
            feature=int(features[first]) if features is not None else -1,
            code=str(seg_codes[first]),
            value=f"{size} tronçon(s)",
        )
    return count
