"""Stream FOCUS exports (CSV, gzipped CSV, Parquet) into daily aggregates, in bounded memory.

DuckDB reads each file on its own threads, in a stream, under a memory limit (it spills to a
temporary directory beyond it), and groups it by the stored dimensions with exact decimal sums
(`DECIMAL(38, 18)`, never floats): chosen by measurement over pyarrow and the csv module
(BENCHMARKS.md, "Reading FOCUS exports"). Every value, including the owner tag keys, reaches
the SQL as a bound parameter; only the file's own column names are written into the query,
quoted. Python then merges the groups (their number does not grow with the file's length) and
normalises the spellings.
"""

from __future__ import annotations

import csv
import gzip
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from bot.costs import focus

MONEY_TYPE = "DECIMAL(38, 18)"
NANOS = "DECIMAL(38, 9)"  # what is stored: billionths
MEMORY_LIMIT = "512MB"  # DuckDB spills to disk beyond this: memory stays flat
FETCH_ROWS = 10_000
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
# The stored dimensions, in the order of a group's key.
KEY = (
    "day",
    "provider",
    "currency",
    "billing_account",
    "sub_account",
    "service_category",
    "service",
    "region",
    "charge_category",
    "pricing_category",
    "commitment_status",
    "commitment_id",
    "tagged",
    "owner",
    "billing_period",  # first day of BillingPeriodStart (else of the charge's month)
)
LIMITS = {  # column widths in storage/models.py CostDay
    "provider": 100,
    "currency": 30,  # whole: USDC and other non-ISO codes are their own currency
    "billing_account": 200,
    "sub_account": 200,
    "service_category": 60,
    "service": 200,
    "region": 100,
    "charge_category": 30,
    "pricing_category": 30,
    "commitment_status": 20,
    "commitment_id": 500,
    "owner": 200,
}


class ExportRefused(Exception):
    """The file is not a FOCUS export the bot can use; nothing was imported."""


# A group's measures, in this order: integers, money in billionths (rounded once, by DuckDB,
# from its exact DECIMAL(38, 18) sums). The names are CostDay's columns.
MEASURES = (
    "row_count",
    "billed_nanos",
    "effective_nanos",
    "list_nanos",
    "contracted_nanos",
    "negotiated_nanos",  # ListCost - ContractedCost where both are known, purchases left out
    "commitment_nanos",  # ContractedCost - EffectiveCost where contracted, purchases left out
)


@dataclass
class ExportData:
    """Everything read from one or more export files."""

    groups: dict[tuple, list[int]] = field(default_factory=dict)  # key -> MEASURES
    rows_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> rows
    notes: Counter[str] = field(default_factory=Counter)  # tolerated oddities -> rows
    missing: set[str] = field(default_factory=set)  # expected columns absent from a file
    period_end: dict[str, datetime] = field(default_factory=dict)  # provider -> latest end
    files: list[str] = field(default_factory=list)

    def deliveries(self) -> set[tuple[str, str, date]]:
        """The (provider, billing account, billing period) combinations the export holds:
        what a provider delivers and re-delivers whole, so what an import replaces."""
        return {(key[1], key[3], key[-1]) for key in self.groups}


@dataclass(frozen=True, slots=True)
class Export:
    path: Path
    kind: str  # "csv", "csv.gz" or "parquet"
    headers: tuple[str, ...]
    columns: dict[str, str]  # canonical name -> the file's header
    types: dict[str, str] = field(default_factory=dict)  # Parquet header -> DuckDB type


def inspect(path: Path) -> Export:
    """The file's format and columns; refuses it when a required column is missing."""
    with path.open("rb") as raw:
        magic = raw.read(4)
    if magic == PARQUET_MAGIC:
        kind = "parquet"
        try:
            with duckdb.connect() as con:
                described = con.execute(
                    "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]
                ).fetchall()
        except duckdb.Error as error:
            raise ExportRefused(f"{path.name}: not a readable Parquet file ({error})") from error
        headers = tuple(row[0] for row in described)
        types = {row[0]: str(row[1]) for row in described}
    else:
        types = {}
        kind = "csv.gz" if magic[:2] == GZIP_MAGIC else "csv"
        opener = gzip.open if kind == "csv.gz" else open
        try:
            with opener(path, "rt", encoding="utf-8-sig", newline="") as text:
                headers = tuple(next(csv.reader(text), []))
        except (UnicodeDecodeError, OSError, csv.Error) as error:
            raise ExportRefused(f"{path.name}: not a readable CSV file ({error})") from error
    twice = focus.repeated(list(headers))
    if twice:  # DuckDB would stop on it with a binder error naming neither file nor fix
        raise ExportRefused(f"{path.name}: the column {twice} appears twice (headers ignore case)")
    columns = focus.header_map(list(headers))
    if focus.is_preview(list(headers), columns):
        raise ExportRefused(
            f"{path.name} is a FOCUS 1.0-preview export (column Provider, not ProviderName or "
            "ServiceProviderName): export FOCUS 1.0 or later"
        )
    missing = focus.missing_required(columns)
    if missing:
        raise ExportRefused(
            f"{path.name} is not a FOCUS cost export: missing the required column"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    return Export(path, kind, headers, columns, types)


def read_exports(
    paths: Sequence[Path],
    owner_tags: Sequence[str] = (),
    progress: Callable[[float], None] | None = None,
) -> ExportData:
    """Aggregate every file (each checked first, so a bad one refuses the lot before any
    reading). `progress` is called now and then with the share of the work done (0 to 1)."""
    exports = [inspect(path) for path in paths]
    keys = [k.strip().casefold() for k in owner_tags if k.strip()]
    data = ExportData()
    with duckdb.connect(config=_SETTINGS) as con:
        con.execute("SET TimeZone = 'UTC'")  # an offset is read as the UTC instant it names
        # Progress is tracked (for query_progress and our bar) but never printed by DuckDB.
        con.execute("SET enable_progress_bar = true")
        con.execute("SET enable_progress_bar_print = false")
        for i, export in enumerate(exports):
            data.files.append(export.path.name)
            data.missing.update(c for c in focus.EXPECTED if c not in export.columns)
            share = (lambda p, i=i: progress((i + p) / len(exports))) if progress else None
            _aggregate(con, export, keys, data, share)
    return data


_SETTINGS = {
    "memory_limit": MEMORY_LIMIT,
    "temp_directory": str(Path(tempfile.gettempdir()) / "finops-bot-duckdb"),
}


EMPTY = "''"
# A JSON path naming one object key: $."<key>", a double quote in the key escaped.
JSON_PATH = """'$."' || replace({key}, '"', '\\"') || '"'"""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _source(export: Export) -> tuple[str, list[Any]]:
    """The FROM clause: every column of a CSV typed (money as decimals, the rest as text, so
    nothing is guessed), or the Parquet file as it is."""
    path = str(export.path)
    if export.kind == "parquet":
        return "read_parquet(?)", [path]
    money = {header for name, header in export.columns.items() if name in focus.MONEY}
    types = {h: (MONEY_TYPE if h in money else "VARCHAR") for h in export.headers}
    return (
        "read_csv(?, header = true, auto_detect = false, columns = ?, nullstr = ?, "
        "delim = ',', quote = '\"', escape = '\"', compression = ?)",
        [path, types, focus.NULLS, "gzip" if export.kind == "csv.gz" else "none"],
    )


# FOCUS date-times are ISO 8601 (year first); DuckDB would also read 4/1/25 as the year 4 AD,
# so anything else (M/D/YY, D/M/Y) is NULL and the row is skipped with its reason.
ISO_DATE = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _instant(value: str) -> str:
    return (
        f"(CASE WHEN regexp_matches({value}, '{ISO_DATE}') "
        f"THEN try_cast({value} AS TIMESTAMPTZ) END)"
    )


def _query(export: Export, owner_keys: list[str]) -> tuple[str, list[Any]]:
    columns = export.columns

    def text(name: str) -> str:
        if name not in columns:
            return "NULL::VARCHAR"
        return f"nullif(trim(CAST({_quoted(columns[name])} AS VARCHAR)), '')"

    def money(name: str) -> str:
        if name not in columns:
            return f"CAST(0 AS {MONEY_TYPE})"
        return f"coalesce(CAST({_quoted(columns[name])} AS {MONEY_TYPE}), 0)"

    start, end = _instant(text("ChargePeriodStart")), _instant(text("ChargePeriodEnd"))
    raw_tags = text("Tags")
    tag_type = export.types.get(columns.get("Tags", ""), "")
    if tag_type.startswith(("MAP", "STRUCT")):  # AWS ships Parquet tags as MAP<string,string>
        raw_tags = f"nullif(CAST(to_json({_quoted(columns['Tags'])}) AS VARCHAR), 'null')"
    # Valid JSON or NULL: DuckDB evaluates both sides of an AND, so invalid text must never
    # reach json_type or json_keys.
    tags = f"(CASE WHEN coalesce(json_valid({raw_tags}), false) THEN {raw_tags} END)"
    is_object = f"coalesce(json_type({tags}) = 'OBJECT', false)"
    params: list[Any] = []
    owners = []
    for key in owner_keys:  # the first key the row has, compared without case or spaces
        found = f"list_filter(json_keys({tags}), lambda k: lower(trim(k)) = ?)[1]"
        value = f"json_extract_string({tags}, {JSON_PATH.format(key=found)})"
        owners.append(f"nullif(trim({value}), '')")
        params.append(key)
    owner = f"CASE WHEN {is_object} THEN coalesce({', '.join([*owners, EMPTY])}) ELSE '' END"
    listed, contracted = money("ListCost"), money("ContractedCost")
    effective = money("EffectiveCost")
    not_purchase = f"coalesce(lower({text('ChargeCategory')}) <> 'purchase', true)"
    priced = f"({not_purchase} AND {contracted} > 0 AND {listed} > 0)"
    used = f"({not_purchase} AND {contracted} > 0)"
    source, source_params = _source(export)
    sql = f"""
        SELECT
            CAST({start} AS DATE),
            coalesce({text("ServiceProviderName")}, {text("ProviderName")}),
            {text("BillingCurrency")},
            {text("BillingAccountId")},
            coalesce({text("SubAccountName")}, {text("SubAccountId")}),
            {text("ServiceCategory")},
            {text("ServiceName")},
            coalesce({text("RegionId")}, {text("RegionName")}),
            {text("ChargeCategory")},
            {text("PricingCategory")},
            {text("CommitmentDiscountStatus")},
            {text("CommitmentDiscountId")},
            coalesce({is_object} AND len(json_keys({tags})) > 0, false),
            {owner},
            CAST({_instant(text("BillingPeriodStart"))} AS DATE),
            count(*),
            CAST(sum({money("BilledCost")}) AS {NANOS}),
            CAST(sum({effective}) AS {NANOS}),
            CAST(sum({listed}) AS {NANOS}),
            CAST(sum({contracted}) AS {NANOS}),
            CAST(
                sum(CASE WHEN {priced} THEN {listed} ELSE 0 END)
                - sum(CASE WHEN {priced} THEN {contracted} ELSE 0 END) AS {NANOS}
            ),
            CAST(
                sum(CASE WHEN {used} THEN {contracted} ELSE 0 END)
                - sum(CASE WHEN {used} THEN {effective} ELSE 0 END) AS {NANOS}
            ),
            -- Freshness: monthly tax and fees end with the month, usage shows the real lag.
            max(coalesce({end}, {start})) FILTER (WHERE lower({text("ChargeCategory")}) = 'usage'),
            count(*) FILTER (WHERE {raw_tags} IS NOT NULL AND {tags} IS NULL)
        FROM {source}
        GROUP BY ALL
    """
    return sql, params + source_params


def _aggregate(
    con: duckdb.DuckDBPyConnection,
    export: Export,
    owner_keys: list[str],
    data: ExportData,
    progress: Callable[[float], None] | None,
) -> None:
    sql, params = _query(export, owner_keys)
    done = threading.Event()
    watcher = None
    if progress:  # the query runs in this thread; another reports how far it has got
        watcher = threading.Thread(target=_report, args=(con, done, progress), daemon=True)
        watcher.start()
    try:
        result = con.execute(sql, params)
        while rows := result.fetchmany(FETCH_ROWS):
            for row in rows:
                count, latest, bad_tags = row[15], row[22], row[23]
                data.rows_read += count
                if bad_tags:
                    data.notes["Tags not valid JSON (counted as untagged)"] += bad_tags
                key = _normal_key(row[:15], count, data)
                if key is None:
                    continue
                measures = [count, *(int(amount.scaleb(9)) for amount in row[16:22])]
                found = data.groups.get(key)
                if found is None:
                    data.groups[key] = measures
                else:
                    for i, value in enumerate(measures):
                        found[i] += value
                if latest is not None:
                    latest = latest.astimezone(UTC)
                    if key[1] not in data.period_end or latest > data.period_end[key[1]]:
                        data.period_end[key[1]] = latest
    except duckdb.Error as error:
        raise ExportRefused(f"{export.path.name}: {_duckdb_message(error)}") from error
    finally:
        done.set()
        if watcher:
            watcher.join()
    if progress:
        progress(1.0)


def _report(con: duckdb.DuckDBPyConnection, done: threading.Event, progress) -> None:  # type: ignore[no-untyped-def]
    while not done.wait(0.25):
        percent = con.query_progress()
        if percent >= 0:
            progress(percent / 100)


def _duckdb_message(error: Exception) -> str:
    """DuckDB's first lines (the problem, the line and the column), without its advice."""
    lines = [line for line in str(error).splitlines() if line.strip()][:3]
    return " ".join(lines).replace("'DECIMAL'", "a number")[:400]


def _normal_key(key: tuple, rows: int, data: ExportData) -> tuple | None:
    """The group's key with the specification's spellings ("Usage-based" and "Usage-Based"
    become one group), cut to the stored widths; None (counted by reason) for rows without a
    usable ChargePeriodStart or ChargeCategory."""
    day, provider, *rest = key
    if day is None:
        data.skipped["ChargePeriodStart empty or not a date-time"] += rows
        return None
    values = dict(zip(KEY[2:], rest, strict=True))
    if not values["charge_category"]:
        data.skipped["ChargeCategory empty"] += rows
        return None
    if not provider:
        data.notes["no provider name (stored as 'unknown')"] += rows
    values["charge_category"] = focus.charge_category(values["charge_category"])
    values["pricing_category"] = focus.pricing_category(values["pricing_category"])
    values["commitment_status"] = focus.commitment_status(values["commitment_status"])
    values["service_category"] = focus.service_category(values["service_category"])
    for name, limit in LIMITS.items():
        if name in values:
            values[name] = (values[name] or "")[:limit]
    values["currency"] = values["currency"].upper()
    # Replacement is keyed by billing period: without the column, the charge's month.
    values["billing_period"] = (values["billing_period"] or day).replace(day=1)
    return (day, (provider or "unknown")[: LIMITS["provider"]], *values.values())
