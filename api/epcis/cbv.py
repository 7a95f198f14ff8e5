"""CBV 2.0 vocabularies and the lexical rules EPCIS 2.0 JSON-LD relies on.

Bare words must be CBV terms; anything else must be a URI: an absolute URI (``https://...``,
``urn:...``) or a CURIE whose prefix the document's ``@context`` declares (or the standard
EPCIS context defines). The term lists are those of CBV 2.0 (as in the EPCIS 2.0 schema).
"""

from __future__ import annotations

import re
from datetime import datetime


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


BIZ_STEPS = _words("""
accepting arriving assembling collecting commissioning consigning creating_class_instance
cycle_counting decommissioning departing destroying disassembling dispensing encoding
entering_exiting holding inspecting installing killing loading other packing picking receiving
removing repackaging repairing replacing reserving retail_selling shipping staging_outbound
stock_taking stocking storing transporting unloading unpacking void_shipping sensor_reporting
sampling""")

DISPOSITIONS = _words("""
active container_closed damaged destroyed dispensed disposed encoded expired in_progress
in_transit inactive no_pedigree_match non_sellable_other partially_dispensed recalled reserved
retail_sold returned sellable_accessible sellable_not_accessible stolen unknown available
completeness_verified completeness_inferred conformant container_open mismatch_instance
mismatch_class mismatch_quantity needs_replacement non_conformant unavailable""")

SOURCE_DEST_TYPES = frozenset({"owning_party", "possessing_party", "location"})
BIZ_TRANSACTION_TYPES = _words("bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt")
ERROR_REASONS = frozenset({"did_not_occur", "incorrect_data"})
SENSOR_ALERTS = frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})
COMPONENTS = _words("""x y z axial_distance azimuth height spherical_radius polar_angle
elevation_angle easting northing latitude longitude altitude""")
MEASUREMENT_TYPES = _words("""
AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude
AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration AngularMomentum
AngularVelocity Area Capacitance Conductance Conductivity Count Density Dimensionless
DoseEquivalent DoseEquivalentRate DynamicViscosity ElectricCharge ElectricCurrent
ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force Frequency Illuminance
Inductance Irradiance KinematicViscosity Length LinearMomentum Luminance LuminousFlux
LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass
MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy
MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity RelativeHumidity Resistance
Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension Temperature Time
Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber""")

# (field, what it is, CBV terms, prefix of the full CBV URI form)
VOCABULARIES: dict[str, tuple[str, frozenset[str], str]] = {
    "bizStep": ("business step", BIZ_STEPS, "BizStep-"),
    "disposition": ("disposition", DISPOSITIONS, "Disp-"),
    "source_dest": ("source/destination type", SOURCE_DEST_TYPES, "SDT-"),
    "bizTransaction": ("business transaction type", BIZ_TRANSACTION_TYPES, "BTT-"),
    "errorReason": ("error reason", ERROR_REASONS, "ER-"),
    "measurement": ("sensor measurement type", MEASUREMENT_TYPES, "MT-"),
    "alert": ("sensor alert type", SENSOR_ALERTS, "SAT-"),
    "component": ("component", COMPONENTS, "Comp-"),
}

# Prefixes the standard EPCIS 2.0 context defines (usable without declaring them).
STANDARD_PREFIXES = frozenset({"epcis", "cbv", "cbvmda", "gs1", "rdf", "rdfs", "owl", "xsd",
                               "dcterms", "schema", "sh"})

EVENT_TYPES = frozenset({"ObjectEvent", "AggregationEvent", "TransactionEvent",
                         "TransformationEvent", "AssociationEvent"})
COMMON_KEYS = frozenset({"@context", "type", "eventTime", "recordTime", "eventTimeZoneOffset",
                         "eventID", "certificationInfo", "errorDeclaration"})
_WHERE = ("persistentDisposition bizStep disposition persistentDisposition readPoint bizLocation bizTransactionList "
          "sourceList destinationList sensorElementList")
EVENT_KEYS: dict[str, frozenset[str]] = {
    "ObjectEvent": _words(f"action epcList quantityList ilmd {_WHERE}"),
    "AggregationEvent": _words(f"parentID childEPCs childQuantityList action {_WHERE}"),
    "TransactionEvent": _words(f"parentID epcList quantityList action {_WHERE}"),
    "TransformationEvent": frozenset(
        f"inputEPCList inputQuantityList outputEPCList outputQuantityList transformationID ilmd "
        f"{_WHERE}".split()),
    "AssociationEvent": _words(f"parentID childEPCs childQuantityList action {_WHERE}"),
}
URI_FIELDS = ("eventID", "epcList", "childEPCs", "parentID", "inputEPCList", "outputEPCList",
              "transformationID")
DOCUMENT_KEYS = frozenset({"@context", "id", "type", "schemaVersion", "creationDate",
                           "instanceIdentifier", "sender", "receiver", "epcisHeader", "epcisBody"})
SENSOR_METADATA_KEYS = frozenset({"time", "deviceID", "deviceMetadata", "rawData", "startTime",
                                  "endTime", "dataProcessingMethod", "bizRules"})
SENSOR_REPORT_KEYS = frozenset({
    "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
    "bizRules", "time", "microorganism", "chemicalSubstance", "coordinateReferenceSystem",
    "value", "component", "stringValue", "booleanValue", "hexBinaryValue", "uriValue",
    "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue", "uom"})
ERROR_DECLARATION_KEYS = frozenset({"declarationTime", "reason", "correctiveEventIDs"})

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]*$")
_CURIE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*):([^\s/\x00-\x1f\x7f][^\s\x00-\x1f\x7f]*)?$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
OFFSET = re.compile(r"^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$")


def is_uri(value: str) -> bool:
    """RFC 3986 absolute-URI syntax: ``scheme:rest`` (a CURIE has that form too)."""
    return bool(_SCHEME.match(value))


def is_absolute_uri(value: str) -> bool:
    """``scheme://...`` or ``urn:...`` (and other hierarchical or URN forms)."""
    if not _SCHEME.match(value):
        return False
    scheme, rest = value.split(":", 1)
    return rest.startswith("//") or scheme.lower() in ("urn", "ni", "mailto", "tag", "did")


def curie_prefix(value: str) -> str | None:
    """The prefix of a CURIE ``prefix:name`` (None if ``value`` is not one)."""
    match = _CURIE.match(value)
    return match.group(1) if match and not value.split(":", 1)[1].startswith("//") else None


def namespaced(value: str, prefixes: frozenset[str] | set[str]) -> str | None:
    """None if ``value`` is an absolute URI or a CURIE with a known prefix, else why not."""
    if is_absolute_uri(value):
        return None
    prefix = curie_prefix(value)
    if prefix is None:
        return "is neither a URI nor prefix:name"
    if prefix not in prefixes and prefix not in STANDARD_PREFIXES:
        return f"uses the prefix {prefix!r}, which no @context declares"
    return None


def is_rfc3339(value: object) -> bool:
    """An RFC 3339 date-time with seconds and a zone (``Z`` or ``+hh:mm``), a real instant."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return False
    text = value.upper().replace("Z", "+00:00")
    head, _, zone_tail = text.partition(".")
    if zone_tail:
        digits = re.match(r"\d+", zone_tail).group(0)  # type: ignore[union-attr]
        text = head + zone_tail[len(digits):]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    offset = moment.utcoffset()
    return offset is not None and abs(offset.total_seconds()) <= 14 * 3600


def term(field: str, value: str) -> str:
    """The bare CBV word of ``value`` for ``field`` (a vocabulary key), if it names one:
    ``shipping``, ``cbv:BizStep-shipping``, ``https://ref.gs1.org/cbv/BizStep-shipping`` and
    ``urn:epcglobal:cbv:bizstep:shipping`` all give ``shipping``; other URIs are returned as is."""
    _, terms, web = VOCABULARIES[field]
    for marker in (f"cbv:{web}", f"https://ref.gs1.org/cbv/{web}", f"gs1:{web}",
                   f"https://gs1.org/voc/{web}"):
        if value.startswith(marker) and value[len(marker):] in terms:
            return value[len(marker):]
    if value.startswith("urn:epcglobal:cbv:"):
        last = value.rsplit(":", 1)[-1]
        if last in terms:
            return last
    if value.startswith(("gs1:", "https://gs1.org/voc/")):
        last = value.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        if last in terms:
            return last
    return value
