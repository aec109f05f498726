"""Tests for the FinOps Framework capability catalogue."""

import pytest

from bot.catalogue import (
    ATTRIBUTION,
    CAPABILITIES,
    DOMAINS,
    Capability,
    capability_for_tag,
    find_capability,
    normalise,
    suggest,
)

# The 22 slugs of the 2026 FinOps Framework, in framework order.
SLUGS = (
    "data-ingestion",
    "allocation",
    "reporting-analytics",
    "anomaly-management",
    "planning-estimating",
    "forecasting",
    "budgeting",
    "kpis-benchmarking",
    "unit-economics",
    "architecting-workload-placement",
    "rate-optimization",
    "usage-optimization",
    "sustainability",
    "licensing-saas",
    "finops-practice-operations",
    "governance-policy-risk",
    "finops-assessment",
    "automation-tools-services",
    "finops-education-enablement",
    "invoicing-chargeback",
    "intersecting-disciplines",
    "executive-strategy-alignment",
)

FIND_EXAMPLES = {
    "workload optimization": "usage-optimization",
    "rate": "rate-optimization",
    "RIs": "rate-optimization",
    "ri": "rate-optimization",
    "commitments": "rate-optimization",
    "savings plans": "rate-optimization",
    "Reserved Instances": "rate-optimization",
    "tagging": "allocation",
    "tags": "allocation",
    "showback": "invoicing-chargeback",
    "benchmarking": "kpis-benchmarking",
    "cloud sustainability": "sustainability",
    "policy governance": "governance-policy-risk",
    "governance": "governance-policy-risk",
    "finops tools services": "automation-tools-services",
    "architecting for cloud": "architecting-workload-placement",
    "anomalies": "anomaly-management",
    "rightsizing": "usage-optimization",
    "waste": "usage-optimization",
    "idle resources": "usage-optimization",
    "unit costs": "unit-economics",
    "training": "finops-education-enablement",
    "education": "finops-education-enablement",
    "chargeback": "invoicing-chargeback",
    "licensing": "licensing-saas",
    "saas": "licensing-saas",
    "steering committee": "finops-practice-operations",
    "forecast": "forecasting",
    "budget": "budgeting",
    "Usage Optimization": "usage-optimization",
    "usage-optimization": "usage-optimization",
    "#usage-optimization": "usage-optimization",
    "Reporting & Analytics": "reporting-analytics",
    "KPIs and Benchmarking": "kpis-benchmarking",
    # plural/singular folding
    "anomaly detections": "anomaly-management",
    "unit economic": "unit-economics",
    # every query word found in one capability's words
    "optimization rate": "rate-optimization",
    "shared cost allocation": "allocation",
    "practice operation": "finops-practice-operations",
    # difflib close matches (typos, British spelling)
    "usage optimisation": "usage-optimization",
    "rightsizng": "usage-optimization",
    "forcasting": "forecasting",
    "sustainabilty": "sustainability",
    "chargback": "invoicing-chargeback",
}

TAG_EXAMPLES = {
    "rightsizing": "usage-optimization",
    "#rightsizing": "usage-optimization",
    "#commitments": "rate-optimization",
    "#tagging": "allocation",
    "#usage-optimization": "usage-optimization",
    "#workload-optimization": "usage-optimization",
    "#RIs": "rate-optimization",
    "#Usage_Optimization": "usage-optimization",
    "#showback": "invoicing-chargeback",
}


def test_attribution_and_domains():
    assert ATTRIBUTION == "Source: FinOps Foundation, FinOps Framework (CC BY 4.0)"
    assert DOMAINS == (
        "Understand Usage & Cost",
        "Quantify Business Value",
        "Optimize Usage & Cost",
        "Manage the FinOps Practice",
    )


def test_exactly_22_capabilities_in_framework_order():
    assert len(CAPABILITIES) == 22
    assert tuple(c.slug for c in CAPABILITIES) == SLUGS
    assert all(isinstance(c, Capability) for c in CAPABILITIES)


def test_slugs_and_names_unique():
    assert len({c.slug for c in CAPABILITIES}) == 22
    assert len({c.name for c in CAPABILITIES}) == 22


def test_domains_in_framework_order():
    assert {c.domain for c in CAPABILITIES} == set(DOMAINS)
    positions = [DOMAINS.index(c.domain) for c in CAPABILITIES]
    assert positions == sorted(positions)
    counts = [sum(c.domain == d for c in CAPABILITIES) for d in DOMAINS]
    assert counts == [4, 5, 5, 8]


def test_urls_are_https():
    for cap in CAPABILITIES:
        assert cap.url == f"https://www.finops.org/framework/capabilities/{cap.slug}/"
        if cap.microsoft_url is not None:
            assert cap.microsoft_url.startswith(
                "https://learn.microsoft.com/cloud-computing/finops/framework/"
            )
    urls = [c.microsoft_url for c in CAPABILITIES if c.microsoft_url]
    assert len(urls) == len(set(urls))


def test_known_microsoft_pages():
    by_slug = {c.slug: c for c in CAPABILITIES}
    base = "https://learn.microsoft.com/cloud-computing/finops/framework/"
    assert by_slug["finops-practice-operations"].microsoft_url == base + "manage/operations"
    assert by_slug["finops-education-enablement"].microsoft_url == base + "manage/education"
    assert by_slug["rate-optimization"].microsoft_url == base + "optimize/rates"
    assert by_slug["anomaly-management"].microsoft_url == base + "understand/anomalies"
    assert by_slug["executive-strategy-alignment"].microsoft_url is None


def test_summaries_are_one_short_line():
    for cap in CAPABILITIES:
        assert cap.summary.strip() == cap.summary
        assert "\n" not in cap.summary
        assert 0 < len(cap.summary) <= 160


def test_capability_is_frozen():
    with pytest.raises(AttributeError):
        CAPABILITIES[0].slug = "other"  # type: ignore[misc]


def test_aliases_never_map_to_two_capabilities():
    seen: dict[str, str] = {}
    for cap in CAPABILITIES:
        keys = {normalise(k) for k in (cap.slug, cap.name, *cap.old_names, *cap.aliases)}
        for key in keys:
            assert key, f"empty key in {cap.slug}"
            assert seen.setdefault(key, cap.slug) == cap.slug, f"{key!r} is ambiguous"


def test_every_key_finds_its_own_capability():
    for cap in CAPABILITIES:
        for key in (cap.slug, cap.name, *cap.old_names, *cap.aliases):
            assert capability_for_tag(key) is cap
            assert capability_for_tag("#" + key) is cap
            assert find_capability(key) is cap


def test_normalise():
    assert normalise("  #Usage-Optimization ") == "usage optimization"
    assert normalise("KPIs & Benchmarking") == "kpis and benchmarking"
    assert normalise("Governance, Policy & Risk") == "governance policy and risk"
    assert normalise("cloud__sustainability!!") == "cloud sustainability"
    assert normalise("") == ""


@pytest.mark.parametrize(("query", "slug"), FIND_EXAMPLES.items())
def test_find_capability(query, slug):
    cap = find_capability(query)
    assert cap is not None, query
    assert cap.slug == slug


@pytest.mark.parametrize(("tag", "slug"), TAG_EXAMPLES.items())
def test_capability_for_tag(tag, slug):
    cap = capability_for_tag(tag)
    assert cap is not None, tag
    assert cap.slug == slug


@pytest.mark.parametrize("tag", ["kubernetes", "#kubernetes", "", "#", "rightsizng", "tagz"])
def test_capability_for_tag_none(tag):
    assert capability_for_tag(tag) is None


# Nothing close, or too vague: several capabilities fit equally well.
NONE_QUERIES = ["zzzz", "", "   ", "#", "kubernetes", "optimization", "optimisation", "cloud"]


@pytest.mark.parametrize("query", NONE_QUERIES)
def test_find_capability_none(query):
    assert find_capability(query) is None


def test_suggest_near_misses():
    slugs = [c.slug for c in suggest("optimization")]
    assert {"rate-optimization", "usage-optimization"} <= set(slugs)
    assert len(slugs) <= 3
    assert suggest("forcasting")[0].slug == "forecasting"
    assert len(suggest("optimization", limit=1)) == 1


def test_suggest_nothing_close():
    assert suggest("zzzz") == []
    assert suggest("") == []
    assert suggest("rates", limit=0) == []


def test_one_letter_words_do_not_pick_a_capability():
    assert find_capability("c++") is None
