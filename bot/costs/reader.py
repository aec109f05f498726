"""Stream FOCUS exports (CSV, gzipped CSV, Parquet) into daily aggregates, in bounded memory.

DuckDB reads each file on its own threads, in a stream, under a memory limit (it spills to a
temporary directory beyond it), and groups it by the stored dimensions with exact decimal sums
(`DECIMAL(38, 18)`, never floats): chosen by measurement over pyarrow and the csv module
(BENCHMARKS.md, "Reading FOCUS exports"). Every value, including the owner tag keys, reaches
the SQL as a bound parameter; only the file's own column names are written into the query,
quoted. The GROUP BY is over the stored values: spellings normalised ("Usage-based" and
"USAGE" are one group), text cut to the stored widths, each exact sum rounded once to the
billionth and split into units and billionths as stored (storage/money.py). The groups stay
in a DuckDB table (spilled to disk beyond the memory limit) until the writer streams them
into the database in batches: Python never holds them all.
"""

from __future__ import annotations

import csv
import gzip
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from bot.costs import focus

MONEY_TYPE = "DECIMAL(38, 18)"
NANOS = "DECIMAL(38, 9)"  # what is stored: billionths
MEMORY_LIMIT = "512MB"  # DuckDB spills to disk beyond this: memory stays flat
FETCH_ROWS = 20_000  # aggregates per batch handed to the writer
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


# The stored amounts (storage/costs.py MONEY): each summed exactly, rounded once to the
# billionth by DuckDB, and split there into whole units and billionths, as CostDay keeps them.
AMOUNTS = ("billed", "effective", "list", "contracted", "negotiated", "commitment")
SKIPPED_DAY = "ChargePeriodStart empty or not a date-time"
SKIPPED_CHARGE = "ChargeCategory empty"
BAD_TAGS = "Tags not valid JSON (counted as untagged)"
NO_PROVIDER = "no provider name (stored as 'unknown')"
# Rows kept: a usable ChargePeriodStart and ChargeCategory.
KEPT = "day IS NOT NULL AND charge_category <> ''"
OUT_OF_RANGE = " OR ".join(f"{name}_units IS NULL" for name in AMOUNTS)


@dataclass
class ProviderPart:
    first_day: date
    last_day: date
    rows: int


@dataclass(frozen=True, slots=True)
class Wanted:
    """What to read besides the daily aggregates: the owner tag keys (CostDay.owner), and for
    win scopes the tag keys kept per value and the resources kept (CostDetailDay)."""

    owner_tags: Sequence[str] = ()
    scope_tags: Sequence[str] = ()
    resources: Sequence[str] = ()  # ResourceIds, compared without case

    @property
    def detail(self) -> bool:
        return bool(self.scope_tags or self.resources)


@dataclass
class ExportData:
    """Everything read from one or more export files: the daily aggregates stay in DuckDB
    (table `agg`, with CostDay's column names) until `batches` streams them to the writer;
    Python holds only their summary. Close it when done (it holds DuckDB's connection)."""

    con: duckdb.DuckDBPyConnection | None = None
    aggregates: int = 0  # groups kept, i.e. CostDay rows to store
    details: int = 0  # CostDetailDay rows to store (table `detail`)
    detail_beyond: int = 0  # of those, rows in groups whose amount a BIGINT cannot hold
    wanted: Wanted = field(default_factory=Wanted)  # what was read besides
    rows_read: int = 0
    beyond: int = 0  # rows in groups with an amount whose units a BIGINT cannot hold
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> rows
    notes: Counter[str] = field(default_factory=Counter)  # tolerated oddities -> rows
    missing: set[str] = field(default_factory=set)  # expected columns absent from a file
    period_end: dict[str, datetime] = field(default_factory=dict)  # provider -> latest end
    providers: dict[str, ProviderPart] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    replaced: set[tuple[str, str, date]] = field(default_factory=set)

    def deliveries(self) -> set[tuple[str, str, date]]:
        """The (provider, billing account, billing period) combinations the export holds:
        what a provider delivers and re-delivers whole, so what an import replaces."""
        return set(self.replaced)

    def batches(
        self,
        columns: Sequence[str],
        workspace_id: int | None,
        *,
        table: str = "agg",
        dates_as_text: bool = False,
        size: int = FETCH_ROWS,
    ) -> Iterator[list[tuple]]:
        """The kept rows of `table` ("agg": CostDay's, "detail": CostDetailDay's) as tuples
        of `columns` (the model's names; `workspace_id` is the given one), `size` at a time;
        dates as ISO text when `dates_as_text`."""
        if self.con is None or not (self.aggregates if table == "agg" else self.details):
            return
        dates = {"day", "billing_period"}
        select = [
            "CAST(? AS BIGINT)"
            if name == "workspace_id"
            else f"strftime({name}, '%Y-%m-%d')"
            if dates_as_text and name in dates
            else name
            for name in columns
        ]
        where = f" WHERE {KEPT}" if table == "agg" else ""  # `detail` holds kept rows only
        result = self.con.execute(f"SELECT {', '.join(select)} FROM {table}{where}", [workspace_id])
        while rows := result.fetchmany(size):
            yield rows

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def __enter__(self) -> ExportData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    wanted: Wanted = Wanted(),
    progress: Callable[[float], None] | None = None,
) -> ExportData:
    """Aggregate every file (each checked first, so a bad one refuses the lot before any
    reading). `progress` is called now and then with the share of the work done (0 to 1).
    Several files are summed per group in DuckDB too (table `parts`, then one GROUP BY).
    When scopes want detail, each file is read a second time for it (table `detail`)."""
    exports = [inspect(path) for path in paths]
    owner_tags = wanted.owner_tags
    keys = [k.strip().casefold() for k in owner_tags if k.strip()]
    con = duckdb.connect(config=_SETTINGS)
    data = ExportData(con=con, wanted=wanted)
    try:
        con.execute("SET TimeZone = 'UTC'")  # an offset is read as the UTC instant it names
        # Progress is tracked (for query_progress and our bar) but never printed by DuckDB.
        con.execute("SET enable_progress_bar = true")
        con.execute("SET enable_progress_bar_print = false")
        for i, export in enumerate(exports):
            data.files.append(export.path.name)
            data.missing.update(c for c in focus.EXPECTED if c not in export.columns)
            share = (lambda p, i=i: progress((i + p) / len(exports))) if progress else None
            sql, params = _query(export, keys)
            if len(exports) == 1:
                statement = f"CREATE TEMP TABLE agg AS SELECT {_STORED} FROM ({sql})"
            elif i == 0:
                statement = f"CREATE TEMP TABLE parts AS {sql}"
            else:
                statement = f"INSERT INTO parts {sql}"
            _run(con, statement, params, name=export.path.name, progress=share)
        if len(exports) > 1:
            merged = (
                f"SELECT {', '.join(KEY)}, sum(row_count) AS row_count, "
                + "".join(f"sum({_quoted(n)}) AS {_quoted(n)}, " for n in AMOUNTS)
                + "max(latest) AS latest, sum(bad_tags) AS bad_tags, "
                "sum(no_provider) AS no_provider FROM parts GROUP BY ALL"
            )
            names = ", ".join(data.files)
            _run(
                con,
                f"CREATE TEMP TABLE agg AS SELECT {_STORED} FROM ({merged})",
                [],
                name=names,
                progress=None,
            )
            con.execute("DROP TABLE parts")
        if wanted.detail:
            _read_detail(con, exports, data)
        if progress:
            progress(1.0)
        _summarise(con, data)
    except BaseException:
        data.close()
        raise
    return data


def _read_detail(con: duckdb.DuckDBPyConnection, exports: list[Export], data: ExportData) -> None:
    """Table `detail`: CostDetailDay's rows over every file, the kept rows only, counted."""
    wanted = data.wanted
    tag_keys = [k.strip() for k in wanted.scope_tags if k.strip()]
    resources = sorted({r.strip().casefold() for r in wanted.resources if r.strip()})
    for i, export in enumerate(exports):
        sql, params = _detail_query(export, tag_keys, resources)
        into = "CREATE TEMP TABLE detail_parts AS" if i == 0 else "INSERT INTO detail_parts"
        _run(con, f"{into} {sql}", params, name=export.path.name, progress=None)
    key = ", ".join(DETAIL_KEY)
    amounts = ", ".join(map(_amount_sql, ("effective", "consumed")))
    con.execute(
        f"CREATE TEMP TABLE detail AS SELECT {key}, row_count, {amounts} FROM ("
        f"SELECT {key}, sum(row_count) AS row_count, sum(effective) AS effective, "
        f"sum(consumed) AS consumed FROM detail_parts WHERE {KEPT} GROUP BY ALL)"
    )
    con.execute("DROP TABLE detail_parts")
    found = con.execute(
        "SELECT count(*), coalesce(sum(row_count) FILTER (WHERE effective_units IS NULL "
        "OR consumed_units IS NULL), 0) FROM detail"
    ).fetchone()
    assert found is not None  # aggregates without GROUP BY: always one row
    data.details, data.detail_beyond = int(found[0]), int(found[1])


def _summarise(con: duckdb.DuckDBPyConnection, data: ExportData) -> None:
    """What the summary and the writer need to know before any row is written."""
    totals = con.execute(
        "SELECT coalesce(sum(row_count), 0), coalesce(sum(bad_tags), 0), "
        "coalesce(sum(row_count) FILTER (WHERE day IS NULL), 0), "
        "coalesce(sum(row_count) FILTER (WHERE day IS NOT NULL AND charge_category = ''), 0), "
        f"coalesce(sum(no_provider) FILTER (WHERE {KEPT}), 0), count(*) FILTER (WHERE {KEPT}), "
        f"coalesce(sum(row_count) FILTER (WHERE ({KEPT}) AND ({OUT_OF_RANGE})), 0) FROM agg"
    ).fetchone()
    assert totals is not None  # aggregates without GROUP BY: always one row
    read, bad_tags, no_day, no_charge, no_provider, kept, beyond = totals
    data.rows_read, data.aggregates, data.beyond = int(read), int(kept), int(beyond)
    for reason, rows in (
        (SKIPPED_DAY, no_day),
        (SKIPPED_CHARGE, no_charge),
    ):
        if rows:
            data.skipped[reason] += int(rows)
    for note, rows in ((BAD_TAGS, bad_tags), (NO_PROVIDER, no_provider)):
        if rows:
            data.notes[note] += int(rows)
    for provider, first, last, rows, latest in con.execute(
        "SELECT provider, min(day), max(day), sum(row_count), max(latest) "
        f"FROM agg WHERE {KEPT} GROUP BY provider"
    ).fetchall():
        data.providers[provider] = ProviderPart(first, last, int(rows))
        if latest is not None:
            data.period_end[provider] = latest.astimezone(UTC)
    data.beyond += data.detail_beyond
    data.replaced = {
        (provider, account, period)
        for provider, account, period in con.execute(
            f"SELECT DISTINCT provider, billing_account, billing_period FROM agg WHERE {KEPT}"
        ).fetchall()
    }


_SETTINGS: dict[str, str | bool | int | float | list[str]] = {  # duckdb.connect's config type
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


# Read per row, then grouped by their raw values (normalised per group afterwards).
RAW = (
    "ServiceProviderName",
    "ProviderName",
    "BillingCurrency",
    "BillingAccountId",
    "SubAccountName",
    "SubAccountId",
    "ServiceCategory",
    "ServiceName",
    "RegionId",
    "RegionName",
    "ChargeCategory",
    "PricingCategory",
    "CommitmentDiscountStatus",
    "CommitmentDiscountId",
    "BillingPeriodStart",
)
TIME_TYPES = ("TIMESTAMP", "DATE")


class _Columns:
    """SQL for one export's columns: how each is read per row (`raw`, `money`, `instant`) and,
    in an outer query over an inner GROUP BY of raw values (`r_<name>`), normalised to the
    stored values (`grouped`, `cut`, `spelled`)."""

    def __init__(self, export: Export) -> None:
        self.export = export
        self.columns = export.columns

    def raw(self, name: str) -> str:
        return _quoted(self.columns[name]) if name in self.columns else "NULL::VARCHAR"

    def text(self, name: str, value: str | None = None) -> str:
        value = value or self.raw(name)
        return f"nullif(trim(CAST({value} AS VARCHAR)), '')"

    def money(self, name: str) -> str:
        """The amount, exact: a CSV's column is read as DECIMAL(38, 18), a Parquet decimal is
        summed as it is (the sum cast after), anything else (a float) cast row by row."""
        if name not in self.columns:
            return f"CAST(0 AS {MONEY_TYPE})"
        header = self.columns[name]
        column = _quoted(header)
        if self.export.kind != "parquet" or self.export.types.get(header, "").startswith("DECIMAL"):
            return f"coalesce({column}, 0)"
        return f"coalesce(CAST({column} AS {MONEY_TYPE}), 0)"

    def instant(self, name: str) -> str:
        """A Parquet timestamp as it is (UTC when naive), else the text when ISO 8601."""
        if self.export.types.get(self.columns.get(name, ""), "").startswith(TIME_TYPES):
            return f"CAST({self.raw(name)} AS TIMESTAMPTZ)"
        return _instant(self.text(name))

    def tags(self) -> str:
        """The row's tags as JSON text (AWS ships Parquet tags as MAP<string,string>)."""
        tag_type = self.export.types.get(self.columns.get("Tags", ""), "")
        if tag_type.startswith(("MAP", "STRUCT")):
            return f"nullif(CAST(to_json({_quoted(self.columns['Tags'])}) AS VARCHAR), 'null')"
        return self.text("Tags")

    def grouped(self, name: str) -> str:  # a raw column of the inner GROUP BY, in the outer
        return self.text(name, f"r_{name}")

    def cut(self, name: str, value: str) -> str:  # to the stored width, "" for none
        return f"substring(coalesce({value}, ''), 1, {LIMITS[name]})"

    def spelled(self, name: str, column: str, values: tuple[str, ...]) -> str:
        """The specification's spelling ("usage" and "USAGE" are "Usage"), else the value
        trimmed of any white space (a newer FOCUS version may add values)."""
        value = f"trim(coalesce({self.grouped(column)}, ''), {WHITE_SPACE})"
        cases = " ".join(f"WHEN {_literal(v.casefold())} THEN {_literal(v)}" for v in values)
        return self.cut(name, f"CASE lower({value}) {cases} ELSE {value} END")

    def provider(self) -> str:
        return f"coalesce({self.grouped('ServiceProviderName')}, {self.grouped('ProviderName')})"

    def shared(self) -> str:
        """The stored dimensions CostDay and CostDetailDay share, from the raw groups."""
        if self.export.types.get(self.columns.get("BillingPeriodStart", ""), "").startswith(
            TIME_TYPES
        ):
            period_start = "CAST(r_BillingPeriodStart AS TIMESTAMPTZ)"
        else:  # replacement is keyed by billing period: without the column, the charge's month
            period_start = _instant(self.grouped("BillingPeriodStart"))
        period = f"coalesce(CAST({period_start} AS DATE), day)"
        sub_account = f"coalesce({self.grouped('SubAccountName')}, {self.grouped('SubAccountId')})"
        region = f"coalesce({self.grouped('RegionId')}, {self.grouped('RegionName')})"
        service_category = self.spelled(
            "service_category", "ServiceCategory", focus.SERVICE_CATEGORIES
        )
        return f"""
            day,
            substring(coalesce({self.provider()}, 'unknown'), 1, {LIMITS["provider"]})
                AS provider,
            upper({self.cut("currency", self.grouped("BillingCurrency"))}) AS currency,
            {self.cut("billing_account", self.grouped("BillingAccountId"))} AS billing_account,
            {self.cut("sub_account", sub_account)} AS sub_account,
            {service_category} AS service_category,
            {self.cut("service", self.grouped("ServiceName"))} AS service,
            {self.cut("region", region)} AS region,
            {self.spelled("charge_category", "ChargeCategory", focus.CHARGE_CATEGORIES)}
                AS charge_category,
            CAST(date_trunc('month', {period}) AS DATE) AS billing_period"""


def _query(export: Export, owner_keys: list[str]) -> tuple[str, list[Any]]:
    """Two GROUP BYs. The inner one reads each row once: its UTC day, tags and money, and
    the other columns as they are in the file (the work per row kept to what needs every
    row); the outer one normalises each of those groups (far fewer than rows) to the stored
    values and sums again the groups that become one ("usage" and "Usage")."""
    sql = _Columns(export)
    start, end = sql.instant("ChargePeriodStart"), sql.instant("ChargePeriodEnd")
    raw_tags = sql.tags()
    # `t` is the row's tags as text, `ok` whether it is valid JSON: json_keys and json_type
    # only ever see valid JSON (CASE evaluates a branch only for the rows taking it; an AND
    # evaluates both sides). json_keys of anything but an object is empty.
    params: list[Any] = []
    owners = []
    for key in owner_keys:  # the first key the row has, compared without case or spaces
        owners.append(_tag_value())
        params.append(key)
    owner = EMPTY
    if owners:
        owner = (
            "CASE WHEN ok THEN (CASE WHEN json_type(t) = 'OBJECT' "
            f"THEN coalesce({', '.join([*owners, EMPTY])}) ELSE '' END) ELSE '' END"
        )
    source, source_params = _source(export)
    raw_names = ", ".join(f"r_{name}" for name in RAW)
    inner = f"""
        SELECT
            day, {raw_names}, tagged, owner,
            count(*) AS row_count,
            CAST(sum(b) AS {MONEY_TYPE}) AS billed,
            CAST(sum(e) AS {MONEY_TYPE}) AS effective,
            CAST(sum(l) AS {MONEY_TYPE}) AS list,
            CAST(sum(c) AS {MONEY_TYPE}) AS contracted,
            -- The savings' prices (both known, or ContractedCost known), row by row; the
            -- outer query leaves purchases out (ChargeCategory is one of this group's keys).
            CAST(sum(l - c) FILTER (WHERE c > 0 AND l > 0) AS {MONEY_TYPE}) AS negotiated,
            CAST(sum(c - e) FILTER (WHERE c > 0) AS {MONEY_TYPE}) AS commitment,
            max(finish) AS latest,
            count(*) FILTER (WHERE t IS NOT NULL AND NOT ok) AS bad_tags
        FROM (
            SELECT
                *,
                CASE WHEN ok THEN len(json_keys(t)) > 0 ELSE false END AS tagged,
                {sql.cut("owner", owner)} AS owner
            FROM (
                SELECT
                    CAST({start} AS DATE) AS day,
                    {", ".join(f"{sql.raw(name)} AS r_{name}" for name in RAW)},
                    {raw_tags} AS t,
                    coalesce(json_valid({raw_tags}), false) AS ok,
                    {sql.money("BilledCost")} AS b,
                    {sql.money("EffectiveCost")} AS e,
                    {sql.money("ListCost")} AS l,
                    {sql.money("ContractedCost")} AS c,
                    coalesce({end}, {start}) AS finish
                FROM {source}
            )
        )
        GROUP BY day, {raw_names}, tagged, owner
    """
    purchase = f"coalesce(lower({sql.grouped('ChargeCategory')}) = 'purchase', false)"
    usage = f"lower({sql.grouped('ChargeCategory')}) = 'usage'"
    outer = f"""
        SELECT
            {sql.shared()},
            {sql.spelled("pricing_category", "PricingCategory", focus.PRICING_CATEGORIES)}
                AS pricing_category,
            {
        sql.spelled("commitment_status", "CommitmentDiscountStatus", focus.COMMITMENT_STATUSES)
    }
                AS commitment_status,
            {sql.cut("commitment_id", sql.grouped("CommitmentDiscountId"))} AS commitment_id,
            tagged,
            owner,
            sum(row_count) AS row_count,
            sum(billed) AS billed,
            sum(effective) AS effective,
            sum(list) AS list,
            sum(contracted) AS contracted,
            coalesce(sum(negotiated) FILTER (WHERE NOT {purchase}), 0) AS negotiated,
            coalesce(sum(commitment) FILTER (WHERE NOT {purchase}), 0) AS commitment,
            -- Freshness: monthly tax and fees end with the month, usage shows the real lag.
            max(latest) FILTER (WHERE {usage}) AS latest,
            sum(bad_tags) AS bad_tags,
            coalesce(sum(row_count) FILTER (WHERE {sql.provider()} IS NULL), 0) AS no_provider
        FROM ({inner})
        GROUP BY ALL
    """
    return outer, params + source_params


def _tag_value() -> str:
    """The value in the tags `t` of the first key equal to the bound parameter, compared
    without case or surrounding spaces (NULL when it has none or it is empty)."""
    found = "list_filter(json_keys(t), lambda k: lower(trim(k)) = ?)[1]"
    return f"nullif(trim(json_extract_string(t, {JSON_PATH.format(key=found)})), '')"


# What CostDetailDay keeps of one export (read only when some scope needs it): the raw
# columns of `shared()`, without the pricing and commitment ones.
COMMITMENT_RAW = ("PricingCategory", "CommitmentDiscountStatus", "CommitmentDiscountId")
DETAIL_RAW = tuple(name for name in RAW if name not in COMMITMENT_RAW)
DETAIL_KEY = (
    "day",
    "provider",
    "currency",
    "billing_account",
    "billing_period",
    "sub_account",
    "service_category",
    "service",
    "region",
    "kind",
    "key",
    "value",
    "consumed_unit",
)
MAX_DETAIL_VALUE = 500  # CostDetailDay.value
MAX_UNIT = 60  # CostDetailDay.consumed_unit


def _detail_query(
    export: Export, tag_keys: Sequence[str], resources: Sequence[str]
) -> tuple[str, list[Any]]:
    """The daily effective cost (and consumed quantity, per unit) per value of each of
    `tag_keys` and per resource of `resources` (lower case; ResourceId is compared without
    case, as Azure's are), beside the dimensions a scope combines them with. A row yields
    one pair per tag key it has and one for its resource when tracked: `unnest` of the
    row's pairs, so a file is read once for all of them."""
    sql = _Columns(export)
    start = sql.instant("ChargePeriodStart")
    params: list[Any] = []
    pairs = []
    for key in tag_keys:
        value = f"CASE WHEN ok THEN (CASE WHEN json_type(t) = 'OBJECT' THEN {_tag_value()} END) END"
        pairs.append(f"{{'kind': 'tag', 'key': ?, 'value': {value}}}")
        params += [key, key.strip().casefold()]
    if resources:
        resource = f"lower({sql.text('ResourceId', 'r_ResourceId')})"
        pairs.append(
            "{'kind': 'resource', 'key': '', 'value': "
            f"CASE WHEN list_contains(?::VARCHAR[], {resource}) THEN {resource} END}}"
        )
        params.append(list(resources))
    quantity = (
        f"coalesce(try_cast({sql.text('ConsumedQuantity')} AS {MONEY_TYPE}), 0)"
        if "ConsumedQuantity" in sql.columns
        else f"CAST(0 AS {MONEY_TYPE})"
    )
    raw_names = ", ".join(f"r_{name}" for name in DETAIL_RAW)
    source, source_params = _source(export)
    raw_tags = sql.tags()
    inner = f"""
        SELECT day, {raw_names}, p.kind AS kind, p.key AS key, p.value AS value, unit,
            count(*) AS row_count,
            CAST(sum(e) AS {MONEY_TYPE}) AS effective,
            CAST(sum(q) AS {MONEY_TYPE}) AS consumed
        FROM (
            SELECT *, unnest(list_filter([{", ".join(pairs)}], lambda x: x.value IS NOT NULL))
                AS p
            FROM (
                SELECT
                    CAST({start} AS DATE) AS day,
                    {", ".join(f"{sql.raw(name)} AS r_{name}" for name in DETAIL_RAW)},
                    {sql.raw("ResourceId")} AS r_ResourceId,
                    {raw_tags} AS t,
                    coalesce(json_valid({raw_tags}), false) AS ok,
                    {sql.money("EffectiveCost")} AS e,
                    {quantity} AS q,
                    substring(coalesce({sql.text("ConsumedUnit")}, ''), 1, {MAX_UNIT}) AS unit
                FROM {source}
            )
        )
        GROUP BY ALL
    """
    outer = f"""
        SELECT {sql.shared()}, kind, key,
            substring(value, 1, {MAX_DETAIL_VALUE}) AS value, unit AS consumed_unit,
            sum(row_count) AS row_count, sum(effective) AS effective,
            sum(consumed) AS consumed
        FROM ({inner})
        GROUP BY ALL
    """
    return outer, params + source_params


WHITE_SPACE = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _amount_sql(name: str) -> str:
    """Units and billionths of the exact sum `name`, rounded once to the billionth: units
    NULL when a BIGINT cannot hold them (the import is then refused with the row count)."""
    rounded = f"CAST({_quoted(name)} AS {NANOS})"
    return (
        f"try_cast(trunc({rounded}) AS BIGINT) AS {name}_units, "
        f"CAST(({rounded} - trunc({rounded})) * 1000000000 AS BIGINT) AS {name}_nanos"
    )


# The table `agg`: CostDay's columns, with what the summary needs beside them.
_STORED = ", ".join(
    [*KEY, "row_count", "latest", "bad_tags", "no_provider", *map(_amount_sql, AMOUNTS)]
)


def _run(
    con: duckdb.DuckDBPyConnection,
    statement: str,
    params: list[Any],
    *,
    name: str,
    progress: Callable[[float], None] | None,
) -> None:
    done = threading.Event()
    watcher = None
    if progress:  # the query runs in this thread; another reports how far it has got
        watcher = threading.Thread(target=_report, args=(con, done, progress), daemon=True)
        watcher.start()
    try:
        con.execute(statement, params)
    except duckdb.Error as error:
        raise ExportRefused(f"{name}: {_duckdb_message(error)}") from error
    finally:
        done.set()
        if watcher:
            watcher.join()


def _report(con: duckdb.DuckDBPyConnection, done: threading.Event, progress) -> None:
    while not done.wait(0.25):
        percent = con.query_progress()
        if percent >= 0:
            progress(percent / 100)


def _duckdb_message(error: Exception) -> str:
    """DuckDB's first lines (the problem, the line and the column), without its advice."""
    lines = [line for line in str(error).splitlines() if line.strip()][:3]
    return " ".join(lines).replace("'DECIMAL'", "a number")[:400]
