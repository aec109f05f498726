"""Deterministic FOCUS 1.2 cost exports of any size, shaped like real ones.

    .venv/bin/python bench/focus_data.py --rows 5000000 --out /tmp/focus5m.csv \
        [--format csv|csv.gz|parquet] [--seed 1] [--days 60] [--end 2024-09-30]

Why: the importer's reader is chosen on measurements, and a reader that is fast on tidy data
can be slow or wrong on what providers really send. So the rows carry what real exports carry:
hourly charge periods ("2024-09-18 22:00:00", UTC) over `days` days, three providers with their
own number styles (AWS: 10 fixed decimals, Microsoft: trailing zeros stripped, Google Cloud: 6
decimals), about 40 services with their FOCUS ServiceCategory, about 150 sub-accounts and 10
regions, ~8 % committed usage (CommitmentDiscountStatus Used) and some Unused, ~0.5 % negative
Credit rows, a few Purchase rows (EffectiveCost 0), Tax and Adjustment rows, nulls written both
as `NULL` and as empty cells, Tags as JSON with varying keys (some with a leading space; ~30 %
untagged as NULL or `{}`), quoted descriptions with commas, and a non-spec `x_Extra` column.

Money is computed in integers of 1e-10 and written as decimal strings, never through a float;
`generate` returns the exact grand totals of the four cost columns, so readers can be checked
against the truth and not only against each other. The same seed gives the same bytes (gzip
with mtime 0). Rows are made and written in chunks: memory stays flat at any size.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

FORMATS = ("csv", "csv.gz", "parquet")
CHUNK_ROWS = 50_000  # rows per write (and per Parquet row group: 100 groups for 5M rows)
UNIT = 10**10  # money and unit prices are integers of 1e-10
QTY_UNIT = 10**4  # quantities are integers of 1e-4
TEMPLATES = 12_000  # distinct (sub-account, service, SKU, region, resource) lines

MONEY = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")

COLUMNS: tuple[str, ...] = (
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
    "ServiceSubcategory",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
    "x_Extra",
)
C = {name: i for i, name in enumerate(COLUMNS)}
DECIMAL_COLUMNS = (
    *MONEY,
    "ConsumedQuantity",
    "ContractedUnitPrice",
    "ListUnitPrice",
    "PricingQuantity",
)
TIMESTAMP_COLUMNS = (
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargePeriodEnd",
    "ChargePeriodStart",
)


@dataclass(frozen=True)
class Provider:
    name: str
    billing_account_id: str
    billing_account_name: str
    billing_account_type: str
    invoice_issuer: str
    publisher: str
    sub_account_type: str
    sub_accounts: int
    regions: tuple[tuple[str, str, tuple[str, ...]], ...]  # id, name, zones
    weight: float


PROVIDERS = (
    Provider(
        "AWS",
        "210987654321",
        "Acme Corp Payer",
        "Management Account",
        "Amazon Web Services, Inc.",
        "Amazon Web Services, Inc.",
        "Member Account",
        65,
        (
            ("us-east-1", "US East (N. Virginia)", ("us-east-1a", "us-east-1b", "us-east-1c")),
            ("us-west-2", "US West (Oregon)", ("us-west-2a", "us-west-2b")),
            ("eu-west-1", "Europe (Ireland)", ("eu-west-1a", "eu-west-1b")),
            ("ap-southeast-1", "Asia Pacific (Singapore)", ("ap-southeast-1a",)),
        ),
        0.5,
    ),
    Provider(
        "Microsoft",
        "/providers/Microsoft.Billing/billingAccounts/73941026",
        "Acme Corp EA",
        "Billing Account",
        "Microsoft",
        "Microsoft",
        "Subscription",
        50,
        (
            ("eastus", "East US", ("1", "2", "3")),
            ("westeurope", "West Europe", ("1", "2")),
            ("uksouth", "UK South", ("1",)),
        ),
        0.3,
    ),
    Provider(
        "Google Cloud",
        "01A2B3-C4D5E6-F7A8B9",
        "Acme Corp GCP",
        "Billing Account",
        "Google Cloud",
        "Google",
        "Project",
        35,
        (
            ("us-central1", "Iowa", ("us-central1-a", "us-central1-b")),
            ("europe-west1", "Belgium", ("europe-west1-b", "europe-west1-c")),
            ("asia-northeast1", "Tokyo", ("asia-northeast1-a",)),
        ),
        0.2,
    ),
)


@dataclass(frozen=True)
class Service:
    provider: str
    name: str
    category: str
    subcategory: str
    code: str  # AWS service code, Azure resource provider, Google API
    resource_type: str
    pricing_unit: str
    price: tuple[str, str]  # list unit price range, USD
    quantity: tuple[str, str]  # pricing quantity range per hourly row
    committable: bool  # covered by savings plans / reservations / CUDs
    regional: bool
    weight: int  # how many resources of it, relatively


def _s(*args: Any) -> Service:
    return Service(*args)


SERVICES: tuple[Service, ...] = (
    _s("AWS", "Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "ec2", "Instance",
       "Hrs", ("0.0104", "3.06"), ("1", "1"), True, True, 30),
    _s("AWS", "Amazon Elastic Block Store", "Storage", "Block Storage", "ebs", "Volume",
       "GB-Mo", ("0.08", "0.125"), ("0.01", "2.5"), False, True, 14),
    _s("AWS", "Amazon Simple Storage Service", "Storage", "Object Storage", "s3", "Bucket",
       "GB-Mo", ("0.004", "0.023"), ("0.1", "800"), False, True, 10),
    _s("AWS", "Amazon Relational Database Service", "Databases", "Relational Databases", "rds",
       "DB Instance", "Hrs", ("0.017", "13.3"), ("1", "1"), True, True, 8),
    _s("AWS", "Amazon DynamoDB", "Databases", "NoSQL Databases", "dynamodb", "Table",
       "ReadRequestUnits", ("0.00000025", "0.00000025"), ("100", "5000000"), False, True, 4),
    _s("AWS", "AWS Lambda", "Compute", "Serverless Compute", "lambda", "Function",
       "Lambda-GB-Second", ("0.0000166667", "0.0000166667"), ("10", "90000"), True, True, 6),
    _s("AWS", "Amazon CloudFront", "Networking", "Content Delivery", "cloudfront",
       "Distribution", "GB", ("0.02", "0.085"), ("0.001", "300"), False, False, 3),
    _s("AWS", "Elastic Load Balancing", "Networking", "Network Infrastructure",
       "elasticloadbalancing", "Load Balancer", "LCU-Hrs", ("0.008", "0.008"), ("0.01", "40"),
       False, True, 5),
    _s("AWS", "Amazon Virtual Private Cloud", "Networking", "Network Infrastructure", "vpc",
       "NAT Gateway", "Hrs", ("0.045", "0.045"), ("1", "1"), False, True, 4),
    _s("AWS", "AmazonCloudWatch", "Management and Governance", "Observability", "cloudwatch",
       "Log Group", "GB", ("0.5", "0.5"), ("0.001", "20"), False, True, 5),
    _s("AWS", "Amazon Simple Queue Service", "Integration", "Messaging", "sqs", "Queue",
       "Requests", ("0.0000004", "0.0000005"), ("1", "200000"), False, True, 3),
    _s("AWS", "Amazon Elastic Kubernetes Service", "Compute", "Containers", "eks", "Cluster",
       "Hrs", ("0.1", "0.1"), ("1", "1"), False, True, 2),
    _s("AWS", "Amazon SageMaker", "AI and Machine Learning", "Machine Learning", "sagemaker",
       "Endpoint", "Hrs", ("0.05", "37.69"), ("1", "1"), True, True, 2),
    _s("AWS", "Amazon Redshift", "Databases", "Data Warehouses", "redshift", "Cluster", "Hrs",
       ("0.25", "13.04"), ("1", "1"), True, True, 1),
    _s("AWS", "AWS Key Management Service", "Security", "Secret Management", "kms", "Key",
       "Requests", ("0.000003", "0.000003"), ("1", "20000"), False, True, 2),
    _s("AWS", "Amazon Route 53", "Networking", "Network Infrastructure", "route53",
       "Hosted Zone", "Queries", ("0.0000004", "0.0000004"), ("1", "500000"), False, False, 2),
    _s("Microsoft", "Virtual Machines", "Compute", "Virtual Machines",
       "Microsoft.Compute/virtualMachines", "Virtual machine", "1 Hour", ("0.0052", "6.8"),
       ("1", "1"), True, True, 30),
    _s("Microsoft", "Storage Accounts", "Storage", "Object Storage",
       "Microsoft.Storage/storageAccounts", "Storage account", "1 GB/Month",
       ("0.0018", "0.045"), ("0.1", "900"), False, True, 12),
    _s("Microsoft", "Azure SQL Database", "Databases", "Relational Databases",
       "Microsoft.Sql/servers/databases", "SQL database", "1 Hour", ("0.5", "12"), ("1", "1"),
       True, True, 6),
    _s("Microsoft", "Azure Cosmos DB", "Databases", "NoSQL Databases",
       "Microsoft.DocumentDB/databaseAccounts", "Azure Cosmos DB account", "100 RU/s/Hour",
       ("0.008", "0.008"), ("1", "40"), True, True, 3),
    _s("Microsoft", "Azure Kubernetes Service", "Compute", "Containers",
       "Microsoft.ContainerService/managedClusters", "Kubernetes service", "1 Hour",
       ("0.1", "0.6"), ("1", "1"), False, True, 4),
    _s("Microsoft", "Azure Functions", "Compute", "Serverless Compute", "Microsoft.Web/sites",
       "Function App", "1 GB Second", ("0.000016", "0.000016"), ("10", "50000"), False, True, 3),
    _s("Microsoft", "Azure App Service", "Web", "Application Platforms",
       "Microsoft.Web/serverFarms", "App Service plan", "1 Hour", ("0.018", "1.6"), ("1", "1"),
       True, True, 5),
    _s("Microsoft", "Azure Monitor", "Management and Governance", "Observability",
       "Microsoft.OperationalInsights/workspaces", "Log Analytics workspace", "1 GB",
       ("2.3", "2.76"), ("0.001", "15"), False, True, 3),
    _s("Microsoft", "Azure Front Door", "Networking", "Content Delivery", "Microsoft.Cdn/profiles",
       "Front Door profile", "1 GB", ("0.02", "0.083"), ("0.001", "200"), False, False, 2),
    _s("Microsoft", "Load Balancer", "Networking", "Network Infrastructure",
       "Microsoft.Network/loadBalancers", "Load balancer", "1 Hour", ("0.025", "0.025"),
       ("1", "1"), False, True, 3),
    _s("Microsoft", "Azure OpenAI Service", "AI and Machine Learning", "Generative AI",
       "Microsoft.CognitiveServices/accounts", "Azure OpenAI", "1K Tokens", ("0.00015", "0.06"),
       ("0.1", "20000"), False, True, 2),
    _s("Microsoft", "Key Vault", "Security", "Secret Management", "Microsoft.KeyVault/vaults",
       "Key vault", "10K Operations", ("0.03", "0.03"), ("0.01", "50"), False, True, 2),
    _s("Microsoft", "Azure Synapse Analytics", "Analytics", "Data Processing",
       "Microsoft.Synapse/workspaces", "Synapse workspace", "1 TB", ("5", "5"), ("0.0001", "2"),
       False, True, 1),
    _s("Microsoft", "Microsoft Defender for Cloud", "Security", "Security Posture Management",
       "Microsoft.Security/pricings", "Defender plan", "1 Node/Hour", ("0.02", "0.02"),
       ("1", "40"), False, False, 2),
    _s("Google Cloud", "Compute Engine", "Compute", "Virtual Machines", "compute", "Instance",
       "hour", ("0.0076", "5.2"), ("1", "1"), True, True, 30),
    _s("Google Cloud", "Cloud Storage", "Storage", "Object Storage", "storage", "Bucket",
       "gibibyte month", ("0.0012", "0.026"), ("0.1", "1200"), False, True, 12),
    _s("Google Cloud", "BigQuery", "Databases", "Data Warehouses", "bigquery", "Dataset",
       "tebibyte", ("6.25", "6.25"), ("0.0001", "3"), False, False, 5),
    _s("Google Cloud", "Cloud SQL", "Databases", "Relational Databases", "sqladmin", "Instance",
       "hour", ("0.0105", "6.4"), ("1", "1"), True, True, 6),
    _s("Google Cloud", "Kubernetes Engine", "Compute", "Containers", "container", "Cluster",
       "hour", ("0.1", "0.1"), ("1", "1"), False, True, 4),
    _s("Google Cloud", "Cloud Run", "Compute", "Serverless Compute", "run", "Service",
       "vCPU-second", ("0.000018", "0.000024"), ("10", "80000"), True, True, 4),
    _s("Google Cloud", "Cloud Functions", "Compute", "Serverless Compute", "cloudfunctions",
       "Function", "GiB-second", ("0.0000025", "0.0000025"), ("10", "90000"), False, True, 2),
    _s("Google Cloud", "Vertex AI", "AI and Machine Learning", "Machine Learning", "aiplatform",
       "Endpoint", "hour", ("0.05", "11.0"), ("1", "1"), False, True, 2),
    _s("Google Cloud", "Cloud Logging", "Management and Governance", "Observability", "logging",
       "Log bucket", "gibibyte", ("0.5", "0.5"), ("0.001", "25"), False, False, 3),
    _s("Google Cloud", "Networking", "Networking", "Network Infrastructure", "networking",
       "Load balancer", "gibibyte", ("0.008", "0.12"), ("0.001", "500"), False, True, 4),
    _s("Google Cloud", "Cloud Pub/Sub", "Integration", "Messaging", "pubsub", "Topic",
       "tebibyte", ("40", "40"), ("0.00001", "0.05"), False, True, 2),
    _s("Google Cloud", "Cloud Key Management Service", "Security", "Secret Management",
       "cloudkms", "Key", "10k operations", ("0.03", "0.03"), ("0.01", "30"), False, True, 1),
)  # fmt: skip

TEAMS = ("payments", "search", "checkout", "data", "platform", "identity", "mobile", "ml", "web")
ENVS = ("prod", "staging", "dev", "sandbox")
COST_CENTERS = ("CC-1001", "CC-1002", "CC-2040", "CC-3300", "CC-4100")
ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass
class Summary:
    """What was written, with the exact grand totals of the four cost columns."""

    rows: int
    totals: dict[str, Decimal]
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "totals": {k: str(v) for k, v in self.totals.items()},
            "seconds": round(self.seconds, 2),
        }


def _units(text: str, unit: int) -> int:
    return int(Decimal(text) * unit)


def _fixed10(n: int) -> str:
    """AWS style: always 10 decimals."""
    if n < 0:
        q, r = divmod(-n, UNIT)
        return f"-{q}.{r:010d}"
    q, r = divmod(n, UNIT)
    return f"{q}.{r:010d}"


def _stripped(n: int) -> str:
    """Microsoft style: trailing zeros (and a bare point) dropped: "12", "0.0416"."""
    text = _fixed10(n).rstrip("0")
    return text[:-1] if text.endswith(".") else text


def _fixed6(n: int) -> str:
    """Google Cloud style: 6 decimals (amounts are rounded to 1e-6 before, see `_round6`)."""
    if n < 0:
        q, r = divmod(-n, UNIT)
        return f"-{q}.{r // 10**4:06d}"
    q, r = divmod(n, UNIT)
    return f"{q}.{r // 10**4:06d}"


def _round6(n: int) -> int:
    return n - n % 10**4 if n >= 0 else -((-n) - (-n) % 10**4)


def _same(n: int) -> int:
    return n


STYLE: dict[str, tuple[Callable[[int], str], Callable[[int], int]]] = {
    "AWS": (_fixed10, _same),
    "Microsoft": (_stripped, _same),
    "Google Cloud": (_fixed6, _round6),
}


def _qty(q: int) -> str:
    whole, frac = divmod(q, QTY_UNIT)
    return f"{whole}.{frac:04d}"


def _code(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(n))


def _tags(rng: random.Random, team: str, env: str) -> str | None:
    """Tags JSON with varying keys; None (written as a null) or "{}" for untagged lines."""
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.30:
        return "{}"
    tags: dict[str, str] = {}
    if rng.random() < 0.9:
        tags["team"] = team
    if rng.random() < 0.8:
        tags["env"] = env
    if rng.random() < 0.5:
        tags["cost-center"] = rng.choice(COST_CENTERS)
    if rng.random() < 0.2:
        tags["application"] = f"{team}-{_code(rng, 4).lower()}"
    if rng.random() < 0.06:  # a key typed with a leading space, as seen in real exports
        tags[" team" if rng.random() < 0.5 else " env"] = team if rng.random() < 0.5 else env
    if not tags:
        tags["owner"] = f"{team}@example.com"
    return json.dumps(tags)


@dataclass
class _Line:
    """One resource's hourly line: pre-built rows (one per null spelling) for each kind."""

    rows: dict[str, tuple[list[str], list[str]]]
    price: int
    qty: tuple[int, int]
    discount_bp: int  # negotiated discount, basis points
    commitment_pct: int  # extra discount when covered by a commitment
    provider: str


def _world(rng: random.Random) -> tuple[list[_Line], list[_Line]]:
    """Build every line once: sub-accounts, SKUs, commitments and resources."""
    lines: list[_Line] = []
    committable: list[_Line] = []
    for provider in PROVIDERS:
        services = [s for s in SERVICES if s.provider == provider.name]
        weights = [s.weight for s in services]
        subs = []
        for i in range(provider.sub_accounts):
            team, env = TEAMS[i % len(TEAMS)], ENVS[(i // len(TEAMS)) % len(ENVS)]
            name = f"{team}-{env}" + (f"-{i // (len(TEAMS) * len(ENVS))}" if i >= 36 else "")
            if provider.name == "AWS":
                sub_id = str(rng.randrange(10**11, 10**12))
            elif provider.name == "Microsoft":
                sub_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            else:
                sub_id = f"{name}-{rng.randrange(100000, 999999)}"
            discount = rng.choice((0, 0, 0, 300, 500, 1200, 2000))
            subs.append((sub_id, name, team, env, discount))
        skus: dict[str, list[tuple[str, int]]] = {}
        for s in services:
            lo, hi = _units(s.price[0], UNIT), _units(s.price[1], UNIT)
            skus[s.name] = []
            for _ in range(6):
                price = lo + rng.randrange(hi - lo + 1)
                if price > UNIT // 100:  # list prices above a cent have 4 decimals
                    price -= price % 10**6
                skus[s.name].append((_code(rng, 16), price))
        commitments = []
        for j in range(8):
            spend = j % 2 == 0
            if provider.name == "AWS":
                kind = "Savings Plan" if spend else "Reserved Instance"
                cid = (
                    f"arn:aws:savingsplans::{provider.billing_account_id}:savingsplan/"
                    f"{uuid.UUID(int=rng.getrandbits(128), version=4)}"
                    if spend
                    else f"arn:aws:ec2:us-east-1:{subs[j][0]}:reserved-instances/"
                    f"{uuid.UUID(int=rng.getrandbits(128), version=4)}"
                )
            elif provider.name == "Microsoft":
                kind = "Savings Plan" if spend else "Reservation"
                order = uuid.UUID(int=rng.getrandbits(128), version=4)
                cid = (
                    f"/providers/Microsoft.Capacity/reservationOrders/{order}/reservations/"
                    f"{uuid.UUID(int=rng.getrandbits(128), version=4)}"
                )
            else:
                kind = "Committed Use Discount"
                cid = f"projects/{subs[j][0]}/regions/us-central1/commitments/cud-{j:03d}"
            commitments.append(
                (cid, f"{kind} {j + 1}", kind, "Spend" if spend else "Usage", rng.randint(20, 60))
            )
        count = round(TEMPLATES * provider.weight)
        for n in range(count):
            s = rng.choices(services, weights)[0]
            sub_id, sub_name, team, env, discount = rng.choice(subs)
            sku, price = rng.choice(skus[s.name])
            if s.regional:
                region_id, region_name, zones = rng.choice(provider.regions)
                zone = rng.choice(zones) if s.category == "Compute" else None
            else:
                region_id = region_name = zone = None
            rname = f"{team}-{s.code.split('/')[-1].lower()}-{n:05d}"
            if provider.name == "AWS":
                rid = (
                    f"arn:aws:{s.code}:{region_id or ''}:{sub_id}:{s.resource_type.lower()}/{rname}"
                )
                desc = f"${Decimal(price) / UNIT:f} per {s.pricing_unit} for {s.name}"
                extra = f"{(region_id or 'global').upper()}-{s.pricing_unit}:{sku[:6]}"
            elif provider.name == "Microsoft":
                rid = f"/subscriptions/{sub_id}/resourceGroups/rg-{team}/providers/{s.code}/{rname}"
                desc = f"{s.name}, {sku[:8]}, {region_name or 'Global'}"
                extra = json.dumps({"meterId": sku, "benefit": None})
            else:
                rid = f"//{s.code}.googleapis.com/projects/{sub_id}/{rname}"
                desc = f'{s.name} "{sku[:6]}" running in {region_name or "global"}'
                extra = f"label:{team}"
            price_text = _fixed10 if provider.name == "AWS" else _stripped  # unit prices: exact
            unit_price = price_text(price)
            qlo, qhi = _units(s.quantity[0], QTY_UNIT), _units(s.quantity[1], QTY_UNIT)
            spot = s.subcategory == "Virtual Machines" and rng.random() < 0.1
            base: dict[str, str | None] = dict.fromkeys(COLUMNS)
            base.update(
                AvailabilityZone=zone,
                BillingAccountId=provider.billing_account_id,
                BillingAccountName=provider.billing_account_name,
                BillingAccountType=provider.billing_account_type,
                BillingCurrency="USD",
                ChargeCategory="Usage",
                ChargeDescription=desc,
                ChargeFrequency="Usage-Based",
                ConsumedUnit=s.pricing_unit,
                ContractedUnitPrice=price_text(price * (10_000 - discount) // 10_000),
                InvoiceIssuerName=provider.invoice_issuer,
                ListUnitPrice=unit_price,
                PricingCategory="Dynamic" if spot else "Standard",
                PricingUnit=s.pricing_unit,
                ProviderName=provider.name,
                PublisherName=provider.publisher,
                RegionId=region_id,
                RegionName=region_name,
                ResourceId=rid,
                ResourceName=rname if rng.random() < 0.8 else None,
                ResourceType=s.resource_type,
                ServiceCategory=s.category,
                ServiceName=s.name,
                ServiceProviderName=provider.publisher,
                ServiceSubcategory=s.subcategory,
                SkuId=sku,
                SkuPriceId=f"{sku}.{'SPOT' if spot else 'ONDEMAND'}",
                SubAccountId=sub_id,
                SubAccountName=sub_name,
                SubAccountType=provider.sub_account_type,
                Tags=_tags(rng, team, env),
                x_Extra=extra,
            )
            variants = {"usage": base, "credit": _credit(base), "tax": _tax(base)}
            variants["adjustment"] = {
                **base,
                "ChargeCategory": "Adjustment",
                "ChargeClass": "Correction",
            }
            cpct = 0
            if s.committable and not spot:
                cid, cname, ctype, ccat, cpct = commitments[n % len(commitments)]
                covered = {
                    **base,
                    "PricingCategory": "Committed",
                    "CommitmentDiscountId": cid,
                    "CommitmentDiscountName": cname,
                    "CommitmentDiscountType": ctype,
                    "CommitmentDiscountCategory": ccat,
                }
                variants["used"] = {**covered, "CommitmentDiscountStatus": "Used"}
                variants["unused"] = {
                    **covered,
                    "CommitmentDiscountStatus": "Unused",
                    "ResourceId": cid,
                    "ResourceName": None,
                    "ResourceType": ctype,
                    "ConsumedUnit": None,
                    "AvailabilityZone": None,
                }
                variants["purchase"] = {
                    **covered,
                    "ChargeCategory": "Purchase",
                    "ChargeFrequency": "Recurring" if rng.random() < 0.8 else "One-Time",
                    "ChargeDescription": f"{ctype} purchase, {cname}",
                    "PricingCategory": "Standard",
                    "PricingUnit": "Units",
                    "ResourceId": cid,
                    "ResourceName": cname,
                    "ResourceType": ctype,
                    "ConsumedUnit": None,
                    "AvailabilityZone": None,
                    "SkuPriceId": f"{sku}.COMMIT",
                }
            line = _Line(
                rows={
                    kind: (
                        ["NULL" if v is None else v for v in row.values()],
                        ["" if v is None else v for v in row.values()],
                    )
                    for kind, row in variants.items()
                },
                price=price,
                qty=(qlo, qhi - qlo),
                discount_bp=discount,
                commitment_pct=cpct,
                provider=provider.name,
            )
            lines.append(line)
            if "used" in variants:
                committable.append(line)
    return lines, committable


def _credit(base: dict[str, str | None]) -> dict[str, str | None]:
    return {
        **base,
        "ChargeCategory": "Credit",
        "ChargeFrequency": "One-Time",
        "ChargeDescription": f"Promotional credit, {base['ServiceName']}",
        "PricingCategory": None,
        "PricingUnit": None,
        "ConsumedUnit": None,
        "ListUnitPrice": None,
        "ContractedUnitPrice": None,
        "SkuId": None,
        "SkuPriceId": None,
        "ResourceId": None,
        "ResourceName": None,
        "ResourceType": None,
        "AvailabilityZone": None,
    }


def _tax(base: dict[str, str | None]) -> dict[str, str | None]:
    return {**_credit(base), "ChargeCategory": "Tax", "ChargeFrequency": "Recurring",
            "ChargeDescription": "Sales tax", "Tags": None}  # fmt: skip


def iter_chunks(
    rows: int, seed: int = 1, days: int = 60, end: date = date(2024, 9, 30)
) -> Iterator[tuple[list[list[str]], list[int]]]:
    """Yield (rows, [billed, effective, list, contracted] in 1e-10) chunk by chunk, in time order.

    Row i falls in hour i * hours // rows, so any row count spans all `days` days. Each row
    picks its kind first: 8 % used and 0.3 % unused commitment, 0.005 % Purchase,
    0.5 % Credit, 0.03 % Tax, 0.02 % Adjustment, the rest plain usage.
    """
    rng = random.Random(seed)
    lines, committable = _world(rng)
    start = datetime.combine(end - timedelta(days=days - 1), datetime.min.time(), tzinfo=UTC)
    hours = days * 24
    stamps = []
    for h in range(hours + 1):
        t = start + timedelta(hours=h)
        month = t.replace(day=1, hour=0)
        following = (month + timedelta(days=32)).replace(day=1)
        stamps.append(
            (
                t.strftime("%Y-%m-%d %H:%M:%S"),
                month.strftime("%Y-%m-%d %H:%M:%S"),
                following.strftime("%Y-%m-%d %H:%M:%S"),
            )
        )
    rnd = rng.random
    i_cps, i_cpe, i_bps, i_bpe = (C[k] for k in TIMESTAMP_COLUMNS[::-1])
    i_b, i_e, i_l, i_c = (C[k] for k in MONEY)
    i_pq, i_cq = C["PricingQuantity"], C["ConsumedQuantity"]
    n_lines, n_comm = len(lines), len(committable)
    done = 0
    while done < rows:
        size = min(CHUNK_ROWS, rows - done)
        chunk: list[list[str]] = []
        tb = te = tl = tc = 0
        for i in range(done, done + size):
            h = i * hours // rows
            roll = rnd()
            null = 0 if rnd() < 0.7 else 1  # spell this row's nulls NULL or as empty cells
            if roll < 0.08305:  # commitment rows: only on lines a commitment covers
                line = committable[int(rnd() * n_comm)]
                kind = "used" if roll < 0.08 else "unused" if roll < 0.083 else "purchase"
            else:
                line = lines[int(rnd() * n_lines)]
                kind = "usage"
                if roll < 0.08855:
                    kind = "credit" if roll < 0.08805 else "tax" if roll < 0.08835 else "adjustment"
            fmt, rounding = STYLE[line.provider]
            row = line.rows[kind][null].copy()
            qlo, qspan = line.qty
            q = qlo + int(rnd() * qspan)
            listed = rounding(line.price * q // QTY_UNIT)
            contracted = rounding(listed * (10_000 - line.discount_bp) // 10_000)
            if kind == "usage":
                billed = effective = contracted
            elif kind == "used" or kind == "unused":
                billed = 0
                effective = rounding(contracted * (100 - line.commitment_pct) // 100)
            elif kind == "purchase":
                billed = listed = contracted = rounding(int((100 + rnd() * 20_000) * 100) * 10**8)
                effective = 0
                q = QTY_UNIT
            elif kind == "adjustment":
                billed = effective = -rounding(contracted // 10)
                listed = contracted = 0
            else:  # credit and tax: no SKU, no quantity
                amount = rounding(int(rnd() * 50_000 + 1) * 10**8)
                billed = effective = -amount if kind == "credit" else amount // 8
                listed = contracted = 0
            cps, bps, bpe = stamps[h]
            row[i_cps] = cps
            row[i_cpe] = stamps[h + 1][0]
            row[i_bps] = bps
            row[i_bpe] = bpe
            row[i_c] = text = fmt(contracted)
            row[i_l] = text if listed == contracted else fmt(listed)
            if kind == "usage":  # most rows: billed = effective = contracted, format once
                row[i_b] = row[i_e] = text
            else:
                row[i_b] = fmt(billed)
                row[i_e] = fmt(effective)
            if kind == "credit" or kind == "tax":
                row[i_pq] = row[i_cq] = "NULL" if null == 0 else ""
            else:
                row[i_pq] = text = _qty(q)
                if kind == "usage" or kind == "used" or kind == "adjustment":
                    row[i_cq] = text
            chunk.append(row)
            tb += billed
            te += effective
            tl += listed
            tc += contracted
        done += size
        yield chunk, [tb, te, tl, tc]


def generate(
    path: str | Path,
    rows: int,
    fmt: str = "csv",
    seed: int = 1,
    days: int = 60,
    end: date = date(2024, 9, 30),
) -> Summary:
    """Write `rows` FOCUS rows to `path` as csv, csv.gz or parquet; the exact cost totals."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    started = time.perf_counter()
    totals = [0, 0, 0, 0]
    chunks = iter_chunks(rows, seed, days, end)
    path = Path(path)
    if fmt == "parquet":
        _write_parquet(path, chunks, totals)
    else:
        with path.open("wb") as raw:
            binary: Any = (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
                if fmt == "csv.gz"
                else raw
            )
            with io.TextIOWrapper(binary, encoding="utf-8", newline="") as text:
                writer = csv.writer(text, lineterminator="\n")
                writer.writerow(COLUMNS)
                for chunk, sums in chunks:
                    writer.writerows(chunk)
                    totals = [a + b for a, b in zip(totals, sums, strict=True)]
    return Summary(
        rows=rows,
        totals={k: Decimal(v).scaleb(-10) for k, v in zip(MONEY, totals, strict=True)},
        seconds=time.perf_counter() - started,
    )


def parquet_schema() -> Any:
    """Decimals as decimal128(38, 10), charge and billing periods as UTC timestamps."""
    import pyarrow as pa

    def kind(name: str) -> Any:
        if name in DECIMAL_COLUMNS:
            return pa.decimal128(38, 10)
        if name in TIMESTAMP_COLUMNS:
            return pa.timestamp("s", tz="UTC")
        return pa.string()

    return pa.schema([(name, kind(name)) for name in COLUMNS])


def _write_parquet(
    path: Path, chunks: Iterator[tuple[list[list[str]], list[int]]], totals: list[int]
) -> None:
    """One row group per chunk; the CSV's null spellings become real nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = parquet_schema()
    nulls = pa.array(["NULL", ""])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for chunk, sums in chunks:
            arrays = []
            for name, values in zip(COLUMNS, zip(*chunk, strict=True), strict=True):
                text = pa.array(values, pa.string())
                text = pc.if_else(pc.is_in(text, value_set=nulls), None, text)
                field = schema.field(name)
                if name in TIMESTAMP_COLUMNS:
                    arrays.append(text.cast(pa.timestamp("s")).cast(field.type))
                else:
                    arrays.append(text.cast(field.type))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            totals[:] = [a + b for a, b in zip(totals, sums, strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--format", choices=FORMATS, default=None, help="default: from --out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2024, 9, 30))
    args = parser.parse_args(argv)
    fmt = args.format or next((f for f in FORMATS[::-1] if args.out.name.endswith(f)), "csv")
    summary = generate(args.out, args.rows, fmt, args.seed, args.days, args.end)
    json.dump({"path": str(args.out), "format": fmt, **summary.as_json()}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
