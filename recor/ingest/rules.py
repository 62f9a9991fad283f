"""The catalogue of import rules: identifier, default severity and French title.

Every finding an import produces names one of these rules. Identifiers are stable (the
documentation, the CSV report and scripts rely on them); titles are what staff read in the
HTML report. GraceTHD rules (``GTHD-*``) follow the checks of the national GraceTHD-Check tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["RULES", "SEVERITY_LABELS_FR", "Rule", "Severity", "rule"]


class Severity(StrEnum):
    """How serious a finding is: errors refuse the delivery, the rest do not."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


SEVERITY_LABELS_FR: dict[str, str] = {
    Severity.ERROR: "Erreur",
    Severity.WARNING: "Avertissement",
    Severity.INFO: "Information",
}


@dataclass(frozen=True)
class Rule:
    """One import rule."""

    id: str
    severity: Severity
    title_fr: str


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        # Files and formats
        Rule("SRC-NOT-FOUND", _E, "Fichier introuvable ou format non pris en charge"),
        Rule("SRC-ZIP-UNSAFE", _E, "Archive zip dangereuse (chemin absolu ou « ../ »)"),
        Rule("SRC-ZIP-TOO-LARGE", _E, "Archive zip trop volumineuse une fois décompressée"),
        Rule("SRC-SHP-PART", _E, "Shapefile incomplet (.shx ou .dbf manquant)"),
        Rule("SRC-SHP-TRUNCATED", _E, "Shapefile tronqué ou incohérent"),
        Rule("SRC-UNREADABLE", _E, "Fichier illisible"),
        Rule("SRC-EMPTY", _E, "Livraison ou couche vide"),
        Rule("SRC-LAYER-IGNORED", _W, "Couche non reconnue par le profil, ignorée"),
        Rule("SRC-ENCODING", _I, "Encodage des caractères détecté (pas de .cpg)"),
        Rule("SRC-PROFILE", _E, "Profil de correspondance invalide"),
        Rule("SRC-LAYER-SKIPPED", _I, "Couche écartée par le profil (ignore_layers)"),
        # Profiles applied to layers
        Rule("PROFILE-COLUMN-MISSING", _E, "Colonne requise par le profil absente de la couche"),
        Rule("PROFILE-COLUMN-ABSENT", _W, "Colonne nommée par le profil absente : champ inconnu"),
        Rule("PROFILE-ROWS-FILTERED", _I, "Entités écartées par le filtre « where » du profil"),
        # Hostile or broken files (refused before or while a parser reads them)
        Rule("SRC-SPECIAL-FILE", _E, "Fichier spécial ou lien hors de la livraison, non lu"),
        Rule("SRC-TOO-LARGE", _E, "Fichier trop volumineux"),
        Rule("SRC-TOO-DEEP", _E, "JSON trop profondément imbriqué"),
        Rule("SRC-TIMEOUT", _E, "Temps de lecture épuisé"),
        Rule("SRC-ZIP-CORRUPT", _E, "Archive zip endommagée (CRC, en-tête, fin tronquée)"),
        Rule("SRC-ZIP-ENCRYPTED", _E, "Archive zip chiffrée"),
        Rule("SRC-CSV-ROW", _E, "Ligne CSV mal formée (cellules en trop ou manquantes)"),
        Rule("SRC-ENCODING-INVALID", _E, "Octets invalides dans l'encodage du fichier"),
        Rule("SRC-REPORT-SKIPPED", _I, "Rapport d'import recor ignoré dans la livraison"),
        # Coordinate reference systems
        Rule("CRS-MISSING", _E, "Système de coordonnées absent"),
        Rule("CRS-OVERRIDE", _W, "Système de coordonnées imposé par --crs"),
        Rule("CRS-REPROJECTED", _I, "Reprojection en Lambert-93 (EPSG:2154)"),
        Rule("CRS-INVALID", _E, "Système de coordonnées inutilisable"),
        Rule("CRS-EXTENT", _E, "Coordonnées hors de l'emprise régionale"),
        # Geometry
        Rule("GEOM-NULL", _E, "Géométrie absente ou vide"),
        Rule("GEOM-NON-FINITE", _E, "Coordonnée NaN (non numérique)"),
        Rule("GEOM-TYPE", _E, "Type de géométrie inattendu"),
        Rule("GEOM-Z-DROPPED", _W, "Coordonnées Z/M supprimées"),
        Rule("GEOM-MULTI-MERGED", _W, "Multi-ligne contiguë fusionnée"),
        Rule("GEOM-MULTI-DISJOINT", _E, "Multi-ligne non contiguë"),
        Rule("GEOM-REPAIRED", _W, "Géométrie invalide réparée"),
        Rule("GEOM-INVALID", _E, "Géométrie invalide non réparable sans la déformer"),
        Rule("GEOM-ZERO-LENGTH", _E, "Tronçon de longueur nulle"),
        Rule("GEOM-DUP-VERTEX", _W, "Sommets en double supprimés"),
        Rule(
            "GEOM-LENGTH-MISMATCH", _W, "Longueur déclarée très différente de la longueur mesurée"
        ),
        # Topology
        Rule("TOPO-SNAPPED", _I, "Extrémité recalée sur un site"),
        Rule("TOPO-REVERSED", _I, "Tronçon retourné pour suivre site_a → site_b"),
        Rule("TOPO-JUNCTION-CREATED", _I, "Site de jonction créé"),
        Rule("TOPO-DANGLE", _E, "Extrémité pendante (aucun site ni autre tronçon)"),
        Rule("TOPO-END-OFF-SITE", _E, "Extrémité éloignée de son site"),
        Rule("TOPO-SITE-UNKNOWN", _E, "Site référencé inconnu"),
        Rule("TOPO-SELF-LOOP", _E, "Tronçon bouclant sur un seul site"),
        Rule("TOPO-DUPLICATE", _W, "Tronçons en double (même tracé)"),
        Rule("TOPO-OVERLAP", _W, "Tronçons superposés"),
        Rule("TOPO-CROSSING", _W, "Croisement sans nœud"),
        Rule("TOPO-STATUS-MISMATCH", _W, "Tronçon en service sur un site non en service"),
        Rule("TOPO-DISCONNECTED", _W, "Livraison en plusieurs parties non reliées"),
        Rule("TOPO-SITE-STACKED", _W, "Sites superposés (même position)"),
        # Attributes
        Rule("ATTR-REQUIRED", _E, "Champ obligatoire vide"),
        Rule("ATTR-TYPE", _E, "Valeur de type incorrect"),
        Rule("ATTR-RANGE", _E, "Valeur hors plage"),
        Rule("ATTR-FIBRES-USED", _E, "Fibres utilisées supérieures à la capacité"),
        Rule("ATTR-ENUM", _E, "Valeur hors liste"),
        Rule("ATTR-CODE-DUP", _E, "Code en double dans la livraison"),
        Rule("ATTR-CODE-REGISTRY", _W, "Code déjà présent au registre pour une autre source"),
        Rule("ATTR-TEXT-TOO-LONG", _E, "Texte trop long"),
        Rule("ATTR-FIELD-COLLISION", _E, "Nom de champ en conflit avec une colonne du registre"),
        Rule("ATTR-EXTRA-KEPT", _I, "Champs non reconnus conservés dans « extra »"),
        Rule("ATTR-FIELD-DUP", _E, "Deux champs de même nom à la casse près"),
        Rule("ATTR-CONTROL-CHAR", _E, "Caractère de contrôle (NUL, échappement…) dans un texte"),
        # GraceTHD (after GraceTHD-Check)
        Rule("GTHD-TABLE-MISSING", _E, "GraceTHD : table obligatoire absente pour la phase"),
        Rule("GTHD-FIELD-REQUIRED", _E, "GraceTHD : champ obligatoire pour la phase non renseigné"),
        Rule("GTHD-LIST", _E, "GraceTHD : valeur absente de la liste l_*"),
        Rule("GTHD-REF", _E, "GraceTHD : référence vers un objet inexistant"),
        Rule("GTHD-CODE-DUP", _E, "GraceTHD : identifiant en double"),
        Rule("GTHD-CAPAFO", _E, "GraceTHD : capacité de câble hors des seuils (t_ct_conf)"),
        Rule("GTHD-FO-UTIL", _E, "GraceTHD : fibres utilisées supérieures à la capacité"),
        Rule("GTHD-RF-CAPA", _E, "GraceTHD : câbles d'une même référence de capacités différentes"),
        Rule("GTHD-CM-END", _E, "GraceTHD : extrémité de cheminement hors de son nœud"),
        Rule("GTHD-CL-END", _E, "GraceTHD : extrémité de câble hors d'un nœud"),
        Rule("GTHD-STATUT", _W, "GraceTHD : phase (statut) absente ou hétérogène"),
        Rule("GTHD-CABLE-PATH", _W, "GraceTHD : câble sans cheminement connu"),
        Rule("GTHD-TYPE", _E, "GraceTHD : valeur illisible pour le type du champ"),
        Rule("GTHD-TOO-LONG", _E, "GraceTHD : texte plus long que le champ du modèle"),
        Rule("GTHD-FIELD-UNKNOWN", _W, "GraceTHD : champ hors du modèle v2.0.1"),
        Rule("GTHD-CL-NODE", _E, "GraceTHD : extrémité de câble sur aucun nœud"),
        Rule(
            "GTHD-CL-BUSINESS", _E, "GraceTHD : extrémité de câble sans BPE, local technique ni PTO"
        ),
        Rule(
            "GTHD-CM-NODE", _E, "GraceTHD : extrémité de cheminement sur aucun nœud ni cheminement"
        ),
        Rule(
            "GTHD-CM-BUSINESS",
            _E,
            "GraceTHD : extrémité de cheminement sans site, point technique ni SUF",
        ),
        Rule("GTHD-ZONE-NESTING", _E, "GraceTHD : zone hors de sa zone parente"),
        Rule("GTHD-ZONE-OVERLAP", _E, "GraceTHD : zones de même niveau superposées"),
        Rule("GTHD-ZONE-FAR", _E, "GraceTHD : équipement éloigné de sa zone"),
        Rule("GTHD-AD-DUP", _W, "GraceTHD : identifiant BAN ou HEXACLE en double"),
        Rule(
            "GTHD-AD-COUNT",
            _W,
            "GraceTHD : nombre de logements ou prises incohérent avec l'adresse",
        ),
        Rule("GTHD-SUF-FAR", _E, "GraceTHD : SUF éloigné de son adresse"),
        Rule(
            "GTHD-DRAFT",
            _W,
            "GraceTHD : livraison acceptée en brouillon, constats dérogés (gracethd_draft)",
        ),
        # Registry
        Rule("REG-REFUSED", _E, "Le registre a refusé la livraison"),
        Rule("REG-UNCERTAIN", _E, "Connexion perdue à la validation : écriture non vérifiable"),
        Rule("REG-UNAVAILABLE", _E, "Registre injoignable pendant l'import"),
        Rule(
            "REG-IDENTICAL",
            _I,
            "Livraison identique à celle du dernier lot : rien à relire ni à écrire",
        ),
    )
}


def rule(rule_id: str) -> Rule:
    """The rule called ``rule_id`` (KeyError names the unknown id)."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown import rule {rule_id!r}") from None
