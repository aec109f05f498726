"""Stream FOCUS exports (CSV, gzipped CSV, Parquet) into daily aggregates, in bounded memory.

pyarrow parses the file in blocks on its own threads (chosen by measurement: BENCHMARKS.md,
"Reading FOCUS exports"). Each block is grouped by the stored dimensions with exact decimal
sums (`decimal128(38, 18)`, never floats); Python only merges the groups, whose number does not
grow with the file. Tags are JSON text: each distinct value is parsed once per block.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bot.costs import focus

MONEY_TYPE = pa.decimal128(38, 18)
BLOCK_BYTES = 4 << 20  # per parsed CSV block: memory stays flat whatever the file's size
PARQUET_BATCH = 65_536
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?)?(Z|[+-]00:?00)?$"
SUMMED = (*focus.MONEY, "list_priced", "contracted_priced", "contracted_used", "effective_used")
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
)
LIMITS = {  # column widths in storage/models.py CostDay
    "provider": 100,
    "currency": 3,
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


@dataclass
class Sums:
    rows: int = 0
    billed: Decimal = Decimal(0)
    effective: Decimal = Decimal(0)
    listed: Decimal = Decimal(0)
    contracted: Decimal = Decimal(0)
    negotiated: Decimal = Decimal(0)  # see CostDay: ListCost - ContractedCost where priced
    commitment: Decimal = Decimal(0)  # ContractedCost - EffectiveCost where contracted

    def add(self, rows: int, *amounts: Any) -> None:
        """Add a group's row count and its sums, in SUMMED order (None counts as 0)."""
        billed, effective, listed, contracted, l_priced, c_priced, c_used, e_used = (
            a or 0 for a in amounts
        )
        self.rows += rows
        self.billed += billed
        self.effective += effective
        self.listed += listed
        self.contracted += contracted
        self.negotiated += l_priced - c_priced
        self.commitment += c_used - e_used

    def merge(self, other: Sums) -> None:
        self.rows += other.rows
        self.billed += other.billed
        self.effective += other.effective
        self.listed += other.listed
        self.contracted += other.contracted
        self.negotiated += other.negotiated
        self.commitment += other.commitment


@dataclass
class ExportData:
    """Everything read from one or more export files."""

    groups: dict[tuple, Sums] = field(default_factory=dict)
    rows_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> rows
    notes: Counter[str] = field(default_factory=Counter)  # tolerated oddities -> rows
    missing: set[str] = field(default_factory=set)  # expected columns absent from a file
    period_end: dict[str, datetime] = field(default_factory=dict)  # provider -> latest end
    files: list[str] = field(default_factory=list)

    def days_by_provider(self) -> dict[str, set[date]]:
        days: dict[str, set[date]] = {}
        for key in self.groups:
            days.setdefault(key[1], set()).add(key[0])
        return days


@dataclass(frozen=True, slots=True)
class Export:
    path: Path
    kind: str  # "csv", "csv.gz" or "parquet"
    headers: tuple[str, ...]
    columns: dict[str, str]  # canonical name -> the file's header


def inspect(path: Path) -> Export:
    """The file's format and columns; refuses it when a required column is missing."""
    with path.open("rb") as raw:
        magic = raw.read(4)
    if magic == PARQUET_MAGIC:
        kind = "parquet"
        headers = tuple(pq.ParquetFile(path).schema_arrow.names)
    else:
        kind = "csv.gz" if magic[:2] == GZIP_MAGIC else "csv"
        opener = gzip.open if kind == "csv.gz" else open
        try:
            with opener(path, "rt", encoding="utf-8-sig", newline="") as text:
                headers = tuple(next(csv.reader(text), []))
        except (UnicodeDecodeError, OSError, csv.Error) as error:
            raise ExportRefused(f"{path.name}: not a readable CSV file ({error})") from error
    columns = focus.header_map(list(headers))
    missing = focus.missing_required(columns)
    if missing:
        raise ExportRefused(
            f"{path.name} is not a FOCUS cost export: missing the required column"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    return Export(path, kind, headers, columns)


def read_exports(
    paths: Sequence[Path],
    owner_tags: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> ExportData:
    """Aggregate every file (each checked first, so a bad one refuses the lot before any
    reading). `progress` is called with the number of bytes consumed since the last call."""
    exports = [inspect(path) for path in paths]
    data = ExportData()
    raw: dict[tuple, Sums] = {}
    tags = _TagReader(owner_tags)
    for export in exports:
        data.files.append(export.path.name)
        data.missing.update(c for c in focus.EXPECTED if c not in export.columns)
        for batch in _batches(export, progress):
            _fold(batch, export.columns, raw, tags, data)
    _finish(raw, data)
    data.notes.update(tags.notes)
    return data


def _batches(export: Export, progress: Callable[[int], None] | None) -> Iterator[pa.RecordBatch]:
    wanted = list(export.columns.values())
    if export.kind == "parquet":
        parquet = pq.ParquetFile(export.path)
        total_rows = max(parquet.metadata.num_rows, 1)
        file_size = export.path.stat().st_size
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH, columns=wanted):
            if progress:
                progress(int(file_size * batch.num_rows / total_rows))
            yield batch
        return
    source = pa.OSFile(str(export.path), "rb")
    stream = pa.CompressedInputStream(source, "gzip") if export.kind == "csv.gz" else source
    types = {
        header: MONEY_TYPE if name in focus.MONEY else pa.string()
        for name, header in export.columns.items()
    }
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                column_names=list(export.headers), skip_rows=1, block_size=BLOCK_BYTES
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=wanted,
                null_values=focus.NULLS,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        done = 0
        for batch in reader:
            if progress:
                position = source.tell()
                progress(position - done)
                done = position
            yield batch
    except pa.ArrowInvalid as error:
        raise ExportRefused(f"{export.path.name}: {_arrow_message(error)}") from error
    finally:
        source.close()


def _arrow_message(error: Exception) -> str:
    text = str(error).splitlines()[0]
    text = text.replace("decimal128(38, 18)", "a number")
    return text[:300]


def _money(column: pa.ChunkedArray | pa.Array | None, length: int) -> pa.Array:
    if column is None:
        return pa.nulls(length, MONEY_TYPE)
    if pa.types.is_floating(column.type):  # Parquet doubles: their shortest decimal text
        column = pc.cast(column, pa.string())
    return pc.cast(column, MONEY_TYPE)


def _text(column: pa.Array | None, length: int) -> pa.Array:
    if column is None:
        return pa.nulls(length, pa.string())
    if pa.types.is_timestamp(column.type):
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    return pc.utf8_trim_whitespace(column)


def _fold(
    batch: pa.RecordBatch,
    columns: dict[str, str],
    raw: dict[tuple, Sums],
    tags: _TagReader,
    data: ExportData,
) -> None:
    n = batch.num_rows
    if n == 0:
        return
    data.rows_read += n

    def get(name: str) -> pa.Array | None:
        header = columns.get(name)
        return batch.column(header) if header is not None else None

    def text(name: str) -> pa.Array:
        return _text(get(name), n)

    try:
        money = {name: _money(get(name), n) for name in focus.MONEY}
    except pa.ArrowInvalid as error:
        raise ExportRefused(
            f"a cost column holds something that is not a number: {error}"
        ) from error
    start = text("ChargePeriodStart")
    provider = pc.coalesce(text("ServiceProviderName"), text("ProviderName"))
    tagged, owner = tags.columns(get("Tags"), n)
    table = pa.table(
        {
            "day": pc.utf8_slice_codeunits(start, 0, 10),
            "provider": provider,
            "currency": text("BillingCurrency"),
            "billing_account": text("BillingAccountId"),
            "sub_account": pc.coalesce(text("SubAccountName"), text("SubAccountId")),
            "service_category": text("ServiceCategory"),
            "service": text("ServiceName"),
            "region": pc.coalesce(text("RegionId"), text("RegionName")),
            "charge_category": text("ChargeCategory"),
            "pricing_category": text("PricingCategory"),
            "commitment_status": text("CommitmentDiscountStatus"),
            "commitment_id": text("CommitmentDiscountId"),
            "tagged": tagged,
            "owner": owner,
            **money,
        }
    )
    _note_period_end(text("ChargePeriodEnd"), start, provider, data)
    table = _with_priced_parts(table)
    grouped = table.group_by(list(KEY), use_threads=False).aggregate(
        [("day", "count", pc.CountOptions(mode="all"))] + [(m, "sum") for m in SUMMED]
    )
    keys = [grouped.column(k).to_pylist() for k in KEY]
    counts = grouped.column("day_count").to_pylist()
    sums = [grouped.column(f"{m}_sum").to_pylist() for m in SUMMED]
    for i, key in enumerate(zip(*keys, strict=True)):
        found = raw.get(key)
        if found is None:
            found = raw[key] = Sums()
        found.add(counts[i], *(column[i] for column in sums))


def _with_priced_parts(table: pa.Table) -> pa.Table:
    """Add the costs of the rows whose savings can be computed (masked to 0 elsewhere), so
    savings stay exact sums: decimal subtraction in Arrow would need 39 digits."""
    zero = pa.scalar(Decimal(0), MONEY_TYPE)
    listed, contracted = table["ListCost"], table["ContractedCost"]
    not_purchase = pc.fill_null(
        pc.not_equal(pc.utf8_lower(table["charge_category"]), "purchase"), True
    )
    has_contracted = pc.fill_null(pc.greater(contracted, zero), False)
    priced = pc.and_(
        not_purchase, pc.and_(has_contracted, pc.fill_null(pc.greater(listed, zero), False))
    )
    used = pc.and_(not_purchase, has_contracted)
    for name, column, mask in (
        ("list_priced", listed, priced),
        ("contracted_priced", contracted, priced),
        ("contracted_used", contracted, used),
        ("effective_used", table["EffectiveCost"], used),
    ):
        table = table.append_column(name, pc.if_else(mask, column, zero))
    return table


def _note_period_end(end: pa.Array, start: pa.Array, provider: pa.Array, data: ExportData) -> None:
    """The latest well-formed ChargePeriodEnd per provider (start where end is unusable):
    the data-freshness KPI."""
    valid_end = pc.match_substring_regex(end, TIMESTAMP)
    moment = pc.if_else(pc.fill_null(valid_end, False), end, start)
    table = pa.table({"provider": provider, "moment": moment})
    table = table.filter(pc.fill_null(pc.match_substring_regex(moment, TIMESTAMP), False))
    if table.num_rows == 0:
        return
    latest = table.group_by(["provider"], use_threads=False).aggregate([("moment", "max")])
    for name, text in zip(
        latest.column("provider").to_pylist(), latest.column("moment_max").to_pylist(), strict=True
    ):
        when = _timestamp(text)
        name = (name or "").strip()
        if when and (name not in data.period_end or when > data.period_end[name]):
            data.period_end[name] = when


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _TagReader:
    """Turns the Tags column (JSON text) into `tagged` and `owner`: each distinct text is
    parsed once, the keys compared without case or surrounding spaces."""

    def __init__(self, owner_tags: Sequence[str]) -> None:
        self.owner_keys = [k.strip().casefold() for k in owner_tags if k.strip()]
        self.cache: dict[str, tuple[bool, str]] = {}
        self.notes: Counter[str] = Counter()

    def read(self, text: str | None) -> tuple[bool, str]:
        if text is None:
            return False, ""
        found = self.cache.get(text)
        if found is None:
            found = self.cache[text] = self._parse(text)
            if len(self.cache) > 200_000:  # tags unique per resource: keep memory bounded
                self.cache.clear()
        return found

    def _parse(self, text: str) -> tuple[bool, str]:
        try:
            tags = json.loads(text)
        except ValueError:
            self.notes["Tags not valid JSON (counted as untagged)"] += 1
            return False, ""
        if not isinstance(tags, dict) or not tags:
            return False, ""
        keys = {str(k).strip().casefold(): v for k, v in tags.items()}
        for wanted in self.owner_keys:
            value = keys.get(wanted)
            if value not in (None, ""):
                return True, str(value).strip()[: LIMITS["owner"]]
        return True, ""

    def columns(self, column: pa.Array | None, length: int) -> tuple[pa.Array, pa.Array]:
        if column is None:
            return pa.repeat(False, length), pa.repeat("", length)
        encoded = pc.dictionary_encode(_text(column, length))
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        parsed = [self.read(t) for t in encoded.dictionary.to_pylist()]
        indices = pc.fill_null(encoded.indices, len(parsed))
        parsed.append((False, ""))  # null Tags
        tagged = pa.array([p[0] for p in parsed], pa.bool_())
        owner = pa.array([p[1] for p in parsed], pa.string())
        return pc.take(tagged, indices), pc.take(owner, indices)


def _finish(raw: dict[tuple, Sums], data: ExportData) -> None:
    """Check and normalise each group's key (few groups, so this is cheap) and merge those
    that become equal ("Usage-based" and "Usage-Based")."""
    for key, sums in raw.items():
        day_text, provider, *rest = key
        if not day_text or not DAY.fullmatch(day_text):
            data.skipped["ChargePeriodStart empty or not a date-time"] += sums.rows
            continue
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            data.skipped["ChargePeriodStart empty or not a date-time"] += sums.rows
            continue
        values = dict(zip(KEY[2:], rest, strict=True))
        if not values["charge_category"]:
            data.skipped["ChargeCategory empty"] += sums.rows
            continue
        if not provider:
            data.notes["no provider name (stored as 'unknown')"] += sums.rows
        values["charge_category"] = focus.charge_category(values["charge_category"])
        values["pricing_category"] = focus.pricing_category(values["pricing_category"])
        values["commitment_status"] = focus.commitment_status(values["commitment_status"])
        values["service_category"] = focus.service_category(values["service_category"])
        for name, limit in LIMITS.items():
            if name in values:
                values[name] = (values[name] or "")[:limit]
        values["currency"] = values["currency"].upper()
        normal = (day, (provider or "unknown")[: LIMITS["provider"]], *values.values())
        merged = data.groups.get(normal)
        if merged is None:
            data.groups[normal] = sums
        else:
            merged.merge(sums)
