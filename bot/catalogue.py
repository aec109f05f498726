"""The 22 capabilities of the FinOps Framework (2026), and how people ask for them.

Platform-neutral and free of I/O: a data table plus a few lookup functions used by
`learn <topic>` and by win hashtags such as ``#rightsizing``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

ATTRIBUTION = "Source: FinOps Foundation, FinOps Framework (CC BY 4.0)"

DOMAINS: tuple[str, ...] = (
    "Understand Usage & Cost",
    "Quantify Business Value",
    "Optimize Usage & Cost",
    "Manage the FinOps Practice",
)
_UNDERSTAND, _QUANTIFY, _OPTIMIZE, _MANAGE = DOMAINS

_FOUNDATION = "https://www.finops.org/framework/capabilities/"
_MS = "https://learn.microsoft.com/cloud-computing/finops/framework/"


@dataclass(frozen=True, slots=True)
class Capability:
    slug: str
    name: str
    domain: str
    summary: str  # one line, our own words
    microsoft_url: str | None
    old_names: tuple[str, ...] = ()  # pre-2026 names and slugs
    aliases: tuple[str, ...] = ()  # everyday words people type

    @property
    def url(self) -> str:
        return f"{_FOUNDATION}{self.slug}/"


def _cap(
    slug: str,
    name: str,
    domain: str,
    *,
    summary: str,
    ms_page: str | None,
    old: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
) -> Capability:
    url = _MS + ms_page if ms_page else None
    return Capability(slug, name, domain, summary, url, old, aliases)


# Framework order. Microsoft pages checked against the FinOps toolkit's docs-mslearn table of
# contents; Executive Strategy Alignment (new in 2026) has no Microsoft page.
# fmt: off
CAPABILITIES: tuple[Capability, ...] = (
    _cap("data-ingestion", "Data Ingestion", _UNDERSTAND,
         summary="Collect billing, usage and related data into one trustworthy, well-described "
                 "dataset.",
         ms_page="understand/ingestion", old=(),
         aliases=("ingestion", "data ingest", "billing data", "cost data", "focus", "cur",
                  "cost and usage report", "cost exports", "exports", "etl", "data pipeline")),
    _cap("allocation", "Allocation", _UNDERSTAND,
         summary="Attach every cost to an owner, team or product via tags, accounts and "
                 "shared-cost rules.",
         ms_page="understand/allocation", old=(),
         aliases=("tag", "tags", "tagging", "labels", "cost allocation", "shared costs",
                  "shared cost", "cost centres", "cost centers", "untagged", "ownership")),
    _cap("reporting-analytics", "Reporting & Analytics", _UNDERSTAND,
         summary="Turn cost and usage data into reports and dashboards each audience can act on.",
         ms_page="understand/reporting", old=(),
         aliases=("reporting", "reports", "analytics", "dashboard", "dashboards", "visibility",
                  "power bi", "cost analysis", "cost explorer")),
    _cap("anomaly-management", "Anomaly Management", _UNDERSTAND,
         summary="Spot unexpected spend or usage early, find the cause and fix it.",
         ms_page="understand/anomalies", old=(),
         aliases=("anomaly", "anomalies", "anomaly detection", "spikes", "cost spikes", "alerts",
                  "cost alerts", "unexpected spend")),
    _cap("planning-estimating", "Planning & Estimating", _QUANTIFY,
         summary="Estimate what a new workload or change will cost before you commit to it.",
         ms_page="quantify/planning", old=(),
         aliases=("planning", "estimating", "estimate", "estimates", "cost estimates", "what if",
                  "scenario planning", "capacity planning")),
    _cap("forecasting", "Forecasting", _QUANTIFY,
         summary="Project future spend from trends and plans, and track how close the forecast "
                 "lands.",
         ms_page="quantify/forecasting", old=(),
         aliases=("forecast", "forecasts", "projection", "projections", "run rate",
                  "forecast accuracy")),
    _cap("budgeting", "Budgeting", _QUANTIFY,
         summary="Set spending limits for teams and projects and follow actuals against them.",
         ms_page="quantify/budgeting", old=(),
         aliases=("budget", "budgets", "budget alerts", "budget variance", "spend limits")),
    _cap("kpis-benchmarking", "KPIs & Benchmarking", _QUANTIFY,
         summary="Pick a few metrics, set targets and compare teams or peers to see what good "
                 "looks like.",
         ms_page="quantify/benchmarking", old=("Benchmarking", "benchmarking"),
         aliases=("kpi", "kpis", "metrics", "benchmark", "benchmarks", "scorecard", "scorecards",
                  "targets")),
    _cap("unit-economics", "Unit Economics", _QUANTIFY,
         summary="Relate cloud cost to business output, such as cost per customer, order or "
                 "transaction.",
         ms_page="quantify/unit-economics", old=(),
         aliases=("unit cost", "unit costs", "cost per unit", "cost per customer",
                  "cost per transaction", "unit metrics", "cogs", "gross margin")),
    _cap("architecting-workload-placement", "Architecting & Workload Placement", _OPTIMIZE,
         summary="Design solutions and pick where they run with cost, performance and carbon in "
                 "mind.",
         ms_page="optimize/architecting", old=("Architecting for Cloud", "architecting-for-cloud"),
         aliases=("architecture", "architecting", "workload placement", "placement",
                  "well architected", "modernisation", "modernization", "serverless",
                  "region selection")),
    _cap("rate-optimization", "Rate Optimization", _OPTIMIZE,
         summary="Pay less for the same usage with commitments, negotiated prices and spot "
                 "capacity.",
         ms_page="optimize/rates", old=(),
         aliases=("rate", "rates", "ri", "ris", "reserved instance", "reserved instances",
                  "reservation", "reservations", "savings plan", "savings plans", "commitment",
                  "commitments", "commitment discount", "commitment discounts", "cud", "cuds",
                  "committed use discounts", "spot", "spot instances", "discounts", "pricing",
                  "negotiated rates", "edp")),
    _cap("usage-optimization", "Usage Optimization", _OPTIMIZE,
         summary="Use only what you need: rightsize, schedule, remove idle resources and tier "
                 "storage.",
         ms_page="optimize/workloads", old=("Workload Optimization", "workload-optimization"),
         aliases=("usage", "rightsizing", "right sizing", "rightsize", "right size", "waste",
                  "waste removal", "idle", "idle resources", "unused resources",
                  "orphaned resources", "orphaned disks", "zombie resources", "scheduling",
                  "autoscaling", "auto scaling", "storage tiering", "cleanup", "clean up")),
    _cap("sustainability", "Sustainability", _OPTIMIZE,
         summary="Measure and cut the carbon and energy footprint of your technology use.",
         ms_page="optimize/sustainability", old=("Cloud Sustainability", "cloud-sustainability"),
         aliases=("green", "greenops", "green ops", "carbon", "carbon footprint", "emissions",
                  "co2", "energy")),
    _cap("licensing-saas", "Licensing & SaaS", _OPTIMIZE,
         summary="Keep software licences and SaaS subscriptions right-sized, compliant and well "
                 "priced.",
         ms_page="optimize/licensing", old=(),
         aliases=("licensing", "license", "licenses", "licence", "licences", "saas", "byol",
                  "hybrid benefit", "azure hybrid benefit", "software licenses", "marketplace",
                  "seats")),
    _cap("finops-practice-operations", "FinOps Practice Operations", _MANAGE,
         summary="Run the FinOps team: steering committee, roles, cadence, decisions and "
                 "celebrating wins.",
         ms_page="manage/operations", old=(),
         aliases=("practice operations", "operations", "steering committee", "finops team", "ccoe",
                  "cloud center of excellence", "cloud centre of excellence", "raci", "daci",
                  "operating model", "roles and responsibilities", "wins")),
    _cap("governance-policy-risk", "Governance, Policy & Risk", _MANAGE,
         summary="Agree rules for cloud use, automate guardrails, manage financial and compliance "
                 "risk.",
         ms_page="manage/governance", old=("Cloud Policy & Governance", "policy-governance"),
         aliases=("governance", "policy", "policies", "policy and governance", "risk", "guardrails",
                  "compliance", "controls", "azure policy", "tag policy", "tagging policy")),
    _cap("finops-assessment", "FinOps Assessment", _MANAGE,
         summary="Check how mature your practice is, find gaps and choose what to improve next.",
         ms_page="manage/assessment", old=(),
         aliases=("assessment", "assessments", "maturity", "maturity assessment", "maturity model",
                  "finops review", "health check", "crawl walk run")),
    _cap("automation-tools-services", "Automation, Tools & Services", _MANAGE,
         summary="Choose, build and connect the tools, services and automation that support your "
                 "practice.",
         ms_page="manage/tools-services", old=("FinOps Tools & Services", "finops-tools-services"),
         aliases=("automation", "tools", "tooling", "finops tools", "vendors", "third party tools",
                  "scripts")),
    _cap("finops-education-enablement", "FinOps Education & Enablement", _MANAGE,
         summary="Teach FinOps to every persona with training, onboarding material and champions.",
         ms_page="manage/education", old=(),
         aliases=("education", "training", "enablement", "learning", "courses", "certification",
                  "certifications", "champions", "finops champions", "champions programme",
                  "champions program", "awareness", "employee onboarding", "workshops")),
    _cap("invoicing-chargeback", "Invoicing & Chargeback", _MANAGE,
         summary="Reconcile provider invoices and show or charge costs back to the budgets that "
                 "own them.",
         ms_page="manage/invoicing-chargeback", old=(),
         aliases=("chargeback", "chargebacks", "showback", "invoicing", "invoice", "invoices",
                  "billing", "bill", "reconciliation", "invoice reconciliation", "cross charging",
                  "recharging")),
    _cap("intersecting-disciplines", "Intersecting Disciplines", _MANAGE,
         summary="Work with ITAM, ITFM, ITSM, security and other teams whose work overlaps with "
                 "FinOps.",
         ms_page="manage/intersecting-disciplines", old=(),
         aliases=("itam", "itfm", "itsm", "itil", "security", "tbm",
                  "technology business management", "intersecting frameworks", "disciplines",
                  "asset management")),
    _cap("executive-strategy-alignment", "Executive Strategy Alignment", _MANAGE,
         summary="Tie FinOps goals to company strategy and keep executives sponsoring and steering"
                 " it.",
         ms_page=None, old=(),
         aliases=("executive alignment", "executives", "leadership", "strategy",
                  "strategic alignment", "executive sponsor", "executive sponsorship", "c suite",
                  "cio", "cfo", "okrs")),
)
# fmt: on

_STOP_WORDS = frozenset({"a", "an", "and", "the", "for", "of", "to", "in", "on", "about", "with"})


def normalise(text: str) -> str:
    """Lower-case, '&' -> 'and', drop '#', punctuation/underscores/hyphens -> single spaces."""
    text = text.lower().replace("&", " and ").replace("#", "")
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def _fold_word(word: str) -> str:
    """Crude plural -> singular ("anomalies" -> "anomaly", "ris" -> "ri"); same on both sides."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) >= 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _fold(text: str) -> str:
    return " ".join(_fold_word(w) for w in text.split())


def _keys(cap: Capability) -> tuple[str, ...]:
    return tuple(normalise(k) for k in (cap.slug, cap.name, *cap.old_names, *cap.aliases))


def _build_index(*, fold: bool) -> dict[str, Capability]:
    index: dict[str, Capability] = {}
    for cap in CAPABILITIES:
        for key in _keys(cap):
            key = _fold(key) if fold else key
            other = index.setdefault(key, cap)
            if other is not cap:
                raise ValueError(f"{key!r} maps to both {other.slug} and {cap.slug}")
    return index


_INDEX = _build_index(fold=False)  # normalised key -> capability
_FOLDED = _build_index(fold=True)  # plural-folded key -> capability
_WORDS = {cap.slug: {w for k in _keys(cap) for w in _fold(k).split()} for cap in CAPABILITIES}
_FUZZY_KEYS = [k for k in _INDEX if len(k) >= 4]  # very short keys make difflib noisy


def capability_for_tag(tag: str) -> Capability | None:
    """Exact (normalised) match on slug, name, old names/slugs or alias; no guessing."""
    return _INDEX.get(normalise(tag))


def _query_words(query: str) -> list[str]:
    # One-letter words ("c" left of "c++") match too much to mean anything.
    return [_fold_word(w) for w in normalise(query).split() if w not in _STOP_WORDS and len(w) > 1]


def find_capability(query: str) -> Capability | None:
    """Forgiving lookup for `learn <topic>`; None when nothing is reasonably close."""
    text = normalise(query)
    if not text:
        return None
    if cap := _INDEX.get(text) or _FOLDED.get(_fold(text)):
        return cap
    words = _query_words(text)
    if words:
        hits = [c for c in CAPABILITIES if all(w in _WORDS[c.slug] for w in words)]
        if hits:  # several capabilities share every word: too vague to pick one
            return hits[0] if len(hits) == 1 else None
    return _close_match(text) if len(text) >= 4 else None


def _close_match(text: str, cutoff: float = 0.75, margin: float = 0.05) -> Capability | None:
    """difflib match on names, old names and aliases; None if a rival capability is as close."""
    scores: dict[Capability, float] = {}
    for key in _FUZZY_KEYS:
        cap = _INDEX[key]
        scores[cap] = max(scores.get(cap, 0.0), difflib.SequenceMatcher(None, text, key).ratio())
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, score), runner_up = ranked[0], ranked[1][1]
    return None if score < cutoff or runner_up > score - margin else best


def suggest(query: str, limit: int = 3) -> list[Capability]:
    """Near misses for a "did you mean" answer, best first."""
    text = normalise(query)
    words = set(_query_words(text))
    if not text or limit <= 0:
        return []
    scored: list[tuple[float, int, Capability]] = []
    for order, cap in enumerate(CAPABILITIES):
        ratio = max(difflib.SequenceMatcher(None, text, k).ratio() for k in _keys(cap))
        shared = len(words & _WORDS[cap.slug]) / len(words) if words else 0.0
        score = max(ratio, 0.5 + shared / 2 if shared else 0.0)
        if score >= 0.6:
            scored.append((-score, order, cap))
    return [cap for _, _, cap in sorted(scored, key=lambda s: s[:2])[:limit]]
