"""What the importer knows about FOCUS columns (1.0 to 1.4): which it needs, which it reads,
and the spellings of their values.

Headers are matched without regard to case or surrounding spaces; values of the enumerated
columns are normalised to the specification's spelling (`usage` and `USAGE` are `Usage`).
"""

from __future__ import annotations

# Without these no figure the bot reports can be computed: a file lacking one is refused.
REQUIRED = ("BilledCost", "EffectiveCost", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd")

# Read when present; absent ones count as empty (money as 0), and the summary names them.
MONEY = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
DIMENSIONS = (
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ServiceProviderName",  # FOCUS 1.3+
    "ProviderName",  # FOCUS 1.0-1.3, dropped in 1.4
    "BillingCurrency",
    "BillingAccountId",
    "BillingPeriodStart",
    "SubAccountId",
    "SubAccountName",
    "ServiceCategory",
    "ServiceName",
    "RegionId",
    "RegionName",
    "ChargeCategory",
    "PricingCategory",
    "CommitmentDiscountStatus",
    "CommitmentDiscountId",
    "Tags",
)
# Read only for win scopes (CostDetailDay): per resource, and the quantity for a per-unit view.
DETAIL = ("ResourceId", "ConsumedQuantity", "ConsumedUnit")
KNOWN = MONEY + DIMENSIONS + DETAIL
# Worth a note in the summary when missing (the KPIs that use them read as zero or n/a).
EXPECTED = ("ListCost", "ContractedCost", "ServiceCategory", "ServiceName", "BillingCurrency")

NULLS = ["", "NULL", "null", "Null", "None", "none", "N/A", "n/a"]

CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")
COMMITMENT_STATUSES = ("Used", "Unused")
SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)


def _spelling(values: tuple[str, ...]) -> dict[str, str]:
    return {v.casefold(): v for v in values}


_CHARGE = _spelling(CHARGE_CATEGORIES)
_PRICING = _spelling(PRICING_CATEGORIES)
_STATUS = _spelling(COMMITMENT_STATUSES)
_SERVICE = _spelling(SERVICE_CATEGORIES)


def canonical(spellings: dict[str, str], value: str | None) -> str:
    """The specification's spelling of `value`, or the trimmed value when it is not a known one
    (a newer FOCUS version may add values)."""
    text = (value or "").strip()
    return spellings.get(text.casefold(), text)


def charge_category(value: str | None) -> str:
    return canonical(_CHARGE, value)


def pricing_category(value: str | None) -> str:
    return canonical(_PRICING, value)


def commitment_status(value: str | None) -> str:
    return canonical(_STATUS, value)


def service_category(value: str | None) -> str:
    return canonical(_SERVICE, value)


def header_map(headers: list[str]) -> dict[str, str]:
    """Canonical column name -> the file's header for each column the importer reads."""
    wanted = {name.casefold(): name for name in KNOWN}
    found: dict[str, str] = {}
    for header in headers:
        name = wanted.get(header.strip().casefold())
        if name and name not in found:
            found[name] = header
    return found


def missing_required(found: dict[str, str]) -> list[str]:
    return [name for name in REQUIRED if name not in found]


def is_preview(headers: list[str], found: dict[str, str]) -> bool:
    """A FOCUS 1.0-preview file names the provider `Provider`; read as 1.0 its provider would
    be lost ("unknown"), so it is refused instead."""
    names = {header.strip().casefold() for header in headers}
    return "provider" in names and not {"ServiceProviderName", "ProviderName"} & found.keys()


def repeated(headers: list[str]) -> str | None:
    """The first header that appears twice when case and surrounding spaces are ignored."""
    seen: set[str] = set()
    for header in headers:
        name = header.strip().casefold()
        if name in seen:
            return header.strip()
        seen.add(name)
    return None
