"""Which library should the importer read big FOCUS exports with? Measured, not guessed.

    .venv/bin/python bench/focus_readers.py --rows 5000000 [--formats csv,csv.gz,parquet]
        [--keep DIR] [--python-rows N] [--block-size MIB] [--duckdb-memory-limit 1GB]
        [--candidates NAME,...] [--repeat N] [--json FILE]

Every candidate does the importer's real work on the same generated file (`focus_data.py`):
stream it and build the daily aggregate, grouped by (UTC date of ChargePeriodStart,
ProviderName, ServiceCategory, ServiceName, SubAccountId, ChargeCategory, PricingCategory,
CommitmentDiscountStatus, tagged or not), summing BilledCost, EffectiveCost, ListCost and
ContractedCost exactly (Decimal / decimal128 / DECIMAL(38,18), never a float), with `NULL`,
`null` and empty cells read as nulls, ending with the aggregate as Python values, as the
importer needs them to insert. Candidates:

- `csv+Decimal`: the standard library (gzip.open for .gz);
- `pyarrow`: `pyarrow.csv.open_csv` (Parquet: `ParquetFile.iter_batches`) with explicit
  column types, one `group_by().aggregate()` per batch, the partials merged in Python;
- `pyarrow/arrow-merge`: the same, but the partials are merged by Arrow (concatenate and group
  again every few batches) and turned into Python values once at the end;
- `duckdb`: `read_csv` with explicit types and nullstr (Parquet: `read_parquet`), one SQL
  GROUP BY, with a memory_limit, rows fetched in batches;
- baselines (no aggregation): the csv module iterating rows; pyarrow's streaming reader with the
  same columns and types; DuckDB `COUNT(*)` over the same `read_csv` (CSV only: on Parquet it is
  answered from the footer).

Each candidate runs in its own child process, so its peak RSS (VmHWM: see `peak_rss_mb`) is its
own and includes the interpreter and its libraries. Wall seconds are from opening the file to
holding the aggregate; import time is measured apart. The parent checks that every candidate's
grand totals equal the generator's exact totals, and that all candidates on a file produce the
identical aggregate (group count and a digest summing each group's SHA-256); it exits non-zero
if not.
"""

from __future__ import annotations

import argparse
import decimal
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from focus_data import MONEY, generate

DIMENSIONS = (
    "ProviderName",
    "ServiceCategory",
    "ServiceName",
    "SubAccountId",
    "ChargeCategory",
    "PricingCategory",
    "CommitmentDiscountStatus",
)
NEEDED = ("ChargePeriodStart", *DIMENSIONS, "Tags", *MONEY)
NULLS = ("NULL", "null", "")
DUCKDB_MEMORY_LIMIT = "1GB"  # default of --duckdb-memory-limit
ARROW_MERGE_EVERY = 16  # batches of partial aggregates kept before Arrow merges them

Key = tuple[Any, ...]  # (date, *DIMENSIONS, tagged)
Sums = list[Decimal | None]  # BilledCost, EffectiveCost, ListCost, ContractedCost
# A candidate yields the aggregate's groups, one (key, sums) at a time, and returns the row count:
# the importer inserts the aggregate in batches, so no candidate has to hold it all in Python
# unless its own merging needs that (the csv module and pyarrow's Python merge do).
Groups = Generator[tuple[Key, Sums], None, int]


def _exact() -> None:
    """Make any rounding in Python-side Decimal sums raise instead of passing silently."""
    context = decimal.getcontext()
    context.prec = 60
    context.traps[decimal.Inexact] = True
    context.traps[decimal.Rounded] = True


def _add(groups: dict[Key, Sums], key: Key, sums: Iterable[Decimal | None]) -> None:
    acc = groups.get(key)
    if acc is None:
        groups[key] = acc = [None] * 4
    for i, value in enumerate(sums):
        if value is not None:
            acc[i] = value if acc[i] is None else acc[i] + value


# --- candidates (run in the child) -------------------------------------------------------------


def csv_module(path: Path, fmt: str, _block: int) -> Groups:
    """Pure Python: csv.reader over every field, Decimal sums, nulls normalised per row."""
    import csv
    import gzip
    from operator import itemgetter

    null = dict.fromkeys(NULLS)
    opener = gzip.open if fmt == "csv.gz" else open
    groups: dict[Key, list[Decimal]] = {}
    days: dict[str, date] = {}
    rows = 0
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        index = {name: i for i, name in enumerate(next(reader))}
        dims = itemgetter(*(index[k] for k in DIMENSIONS))
        money = itemgetter(*(index[k] for k in MONEY))
        i_start, i_tags = index["ChargePeriodStart"], index["Tags"]
        for row in reader:
            rows += 1
            start = row[i_start]
            day = days.get(start)
            if day is None:
                day = days[start] = _utc_day(start)
            tags = row[i_tags].strip()
            key = (day, *[null.get(v, v) for v in dims(row)], tags not in null and tags != "{}")
            acc = groups.get(key)
            if acc is None:
                groups[key] = acc = [Decimal(0)] * 4
            b, e, li, c = money(row)
            if b not in null:
                acc[0] += Decimal(b)
            if e not in null:
                acc[1] += Decimal(e)
            if li not in null:
                acc[2] += Decimal(li)
            if c not in null:
                acc[3] += Decimal(c)
    yield from groups.items()  # type: ignore[misc]
    return rows


def _utc_day(text: str) -> date:
    """The UTC date of a FOCUS timestamp ("2024-09-18 22:00:00", "...T22:00:00Z", offsets)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def csv_module_plain(path: Path, fmt: str, _block: int) -> Groups:
    """Baseline: the csv module splitting every row, nothing else."""
    import csv
    import gzip

    opener = gzip.open if fmt == "csv.gz" else open
    rows = 0
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for _ in reader:
            rows += 1
    yield from ()
    return rows


def _arrow_batches(path: Path, fmt: str, block: int) -> Iterator[Any]:
    """Record batches of the NEEDED columns: CSV typed at parse time, Parquet as stored."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        yield from pq.ParquetFile(path).iter_batches(batch_size=65_536, columns=list(NEEDED))
        return
    import pyarrow.csv as pv

    types = {k: pa.string() for k in NEEDED}
    types.update({k: pa.decimal128(38, 18) for k in MONEY})
    # naive, taken as UTC: right for these files; a "Z" or "+02:00" in the column is rejected
    types["ChargePeriodStart"] = pa.timestamp("s")
    reader = pv.open_csv(
        path,  # a path ending in .gz is decompressed on the fly
        read_options=pv.ReadOptions(block_size=block, use_threads=True),
        parse_options=pv.ParseOptions(newlines_in_values=False),
        convert_options=pv.ConvertOptions(
            column_types=types,
            include_columns=list(NEEDED),
            null_values=list(NULLS),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    yield from reader


KEYS = ("day", *DIMENSIONS, "tagged")


def _arrow_partial(batch: Any) -> Any:
    """One batch's group-by: date, dimensions, tagged flag; sums of the four costs."""
    import pyarrow as pa
    import pyarrow.compute as pc

    day = pc.cast(batch.column("ChargePeriodStart"), pa.date32())  # UTC timestamp: UTC date
    tags = pc.utf8_trim_whitespace(batch.column("Tags"))
    tagged = pc.fill_null(pc.not_equal(tags, "{}"), False)
    table = pa.Table.from_arrays(
        [day, *(batch.column(k) for k in DIMENSIONS), tagged, *(batch.column(k) for k in MONEY)],
        names=[*KEYS, *MONEY],
    )
    aggregated = table.group_by(list(KEYS)).aggregate([(k, "sum") for k in MONEY])
    return aggregated.rename_columns([n.removesuffix("_sum") for n in aggregated.column_names])


def _arrow_rows(table: Any, slice_rows: int = 10_000) -> Iterator[tuple[Key, Sums]]:
    """Python values of an aggregate table, a slice at a time."""
    for offset in range(0, table.num_rows, slice_rows):
        part = table.slice(offset, slice_rows)
        keys = [part.column(k).to_pylist() for k in KEYS]
        sums = [part.column(k).to_pylist() for k in MONEY]
        yield from zip(zip(*keys, strict=True), map(list, zip(*sums, strict=True)), strict=True)


def pyarrow_python_merge(path: Path, fmt: str, block: int) -> Groups:
    """pyarrow per batch, partials merged into a Python dict batch by batch."""
    groups: dict[Key, Sums] = {}
    rows = 0
    for batch in _arrow_batches(path, fmt, block):
        rows += batch.num_rows
        for key, sums in _arrow_rows(_arrow_partial(batch)):
            _add(groups, key, sums)
    yield from groups.items()
    return rows


def pyarrow_arrow_merge(path: Path, fmt: str, block: int) -> Groups:
    """pyarrow per batch, partials merged by Arrow (concatenate, group again every few
    batches); Python values are made once, at the end, a slice at a time."""
    import pyarrow as pa

    def merge(tables: list[Any]) -> Any:
        merged = (
            pa.concat_tables(tables).group_by(list(KEYS)).aggregate([(k, "sum") for k in MONEY])
        )
        return merged.rename_columns([n.removesuffix("_sum") for n in merged.column_names])

    partials: list[Any] = []
    rows = 0
    for batch in _arrow_batches(path, fmt, block):
        rows += batch.num_rows
        partials.append(_arrow_partial(batch))
        if len(partials) > ARROW_MERGE_EVERY:
            partials = [merge(partials)]
    if partials:
        yield from _arrow_rows(merge(partials))
    return rows


def pyarrow_plain(path: Path, fmt: str, block: int) -> Groups:
    """Baseline: pyarrow's streaming reader alone, same columns and types."""
    rows = sum(batch.num_rows for batch in _arrow_batches(path, fmt, block))
    yield from ()
    return rows


def _duckdb_source(path: Path, fmt: str) -> tuple[Any, str]:
    import duckdb

    con = duckdb.connect(
        config={
            "memory_limit": os.environ.get("FOCUS_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT),
            "threads": os.cpu_count() or 1,
            "preserve_insertion_order": False,
            "temp_directory": tempfile.gettempdir(),
        }
    )
    con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ -> DATE uses the session zone
    if fmt == "parquet":
        return con, f"read_parquet('{path}')"
    header = _header(path, fmt)
    types = dict.fromkeys(header, "VARCHAR")
    types.update(dict.fromkeys(MONEY, "DECIMAL(38,18)"))
    # TIMESTAMPTZ, read in a UTC session: "Z" and "+02:00" offsets are applied (TIMESTAMP would
    # silently drop an offset) and a timestamp without one is taken as UTC
    types["ChargePeriodStart"] = "TIMESTAMPTZ"
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    nullstr = "[" + ", ".join(f"'{v}'" for v in NULLS) + "]"
    return con, (
        f"read_csv('{path}', header = true, delim = ',', quote = '\"', escape = '\"', "
        f"nullstr = {nullstr}, columns = {columns}, auto_detect = false)"
    )


def _header(path: Path, fmt: str) -> list[str]:
    import csv
    import gzip

    opener = gzip.open if fmt == "csv.gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return next(csv.reader(f))


def duckdb_sql(path: Path, fmt: str, _block: int) -> Groups:
    """DuckDB: one GROUP BY over read_csv / read_parquet, results fetched in batches."""
    con, source = _duckdb_source(path, fmt)
    dims = ", ".join(DIMENSIONS)
    money = ", ".join(f"sum({k})" for k in MONEY)
    con.execute(
        f"SELECT CAST(ChargePeriodStart AS DATE), {dims}, "
        f"coalesce(trim(Tags) NOT IN ('', '{{}}'), false), {money}, count(*) "
        f"FROM {source} GROUP BY ALL"
    )
    rows = 0
    width = len(KEYS)
    while batch := con.fetchmany(10_000):
        for record in batch:
            rows += record[-1]
            yield record[:width], list(record[width : width + 4])
    return rows


def duckdb_count(path: Path, fmt: str, _block: int) -> Groups:
    """Baseline: DuckDB COUNT(*) over the same read_csv (every line is still parsed)."""
    con, source = _duckdb_source(path, fmt)
    rows: int = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
    yield from ()
    return rows


@dataclass(frozen=True)
class Candidate:
    name: str
    formats: tuple[str, ...]
    baseline: bool
    run: Callable[[Path, str, int], Groups]
    libraries: tuple[str, ...]


ALL_FORMATS = ("csv", "csv.gz", "parquet")
CSV_FORMATS = ("csv", "csv.gz")
CANDIDATES = (
    Candidate("csv+Decimal", CSV_FORMATS, False, csv_module, ()),
    Candidate("pyarrow", ALL_FORMATS, False, pyarrow_python_merge, ("pyarrow",)),
    Candidate("pyarrow/arrow-merge", ALL_FORMATS, False, pyarrow_arrow_merge, ("pyarrow",)),
    Candidate("duckdb", ALL_FORMATS, False, duckdb_sql, ("duckdb",)),
    Candidate("csv module, rows only", CSV_FORMATS, True, csv_module_plain, ()),
    Candidate("pyarrow reader only", ALL_FORMATS, True, pyarrow_plain, ("pyarrow",)),
    Candidate("duckdb COUNT(*)", CSV_FORMATS, True, duckdb_count, ("duckdb",)),
)
BY_NAME = {c.name: c for c in CANDIDATES}


class Digest:
    """Group count, grand totals and an order-independent digest of the groups, built as they
    stream by: equal aggregates give equal digests whatever order or Python types they came in.
    """

    QUANTUM = Decimal("1e-18")

    def __init__(self) -> None:
        self.groups = 0
        self.totals = [Decimal(0)] * 4
        self.digest = 0

    def add(self, key: Key, sums: Sums) -> None:
        day, *dims, tagged = key
        values = [Decimal(0) if s is None else s for s in sums]
        self.groups += 1
        self.totals = [t + v for t, v in zip(self.totals, values, strict=True)]
        text = json.dumps([day.isoformat(), *dims, bool(tagged)]) + ",".join(
            format(v.quantize(self.QUANTUM), "f") for v in values
        )
        self.digest += int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")

    def as_json(self) -> dict[str, Any]:
        return {
            "groups": self.groups,
            "totals": {k: str(t.normalize()) for k, t in zip(MONEY, self.totals, strict=True)},
            "digest": f"{self.digest % 2**256:064x}",
        }


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, not ru_maxrss.

    Linux carries ru_maxrss across fork and exec, so a child's ru_maxrss starts at its parent's
    size (measured here: a 10 MB child of a 510 MB parent reported 510 MB). VmHWM belongs to
    the child's own address space.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(name: str, path: Path, fmt: str, block: int) -> None:
    """Run one candidate and print one JSON line: rows, seconds, CPU, peak RSS, aggregate.

    The time spent checking the groups (the digest) is measured and taken out of `seconds`.
    """
    _exact()
    candidate = BY_NAME[name]
    for library in candidate.libraries:
        __import__(library)
    digest = Digest()
    clock = time.perf_counter
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    started = clock()
    checking = 0.0
    groups = candidate.run(path, fmt, block)
    while True:
        try:
            key, sums = next(groups)
        except StopIteration as stop:
            rows = stop.value
            break
        t = clock()
        digest.add(key, sums)
        checking += clock() - t
    seconds = clock() - started - checking
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result: dict[str, Any] = {
        "rows": rows,
        "seconds": seconds,
        "check_seconds": checking,
        "cpu": usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime - checking,
        "max_rss_mb": peak_rss_mb(),
    }
    if not candidate.baseline:
        result.update(digest.as_json())
    print(json.dumps(result))


# --- the parent ---------------------------------------------------------------------------------


def run_child(name: str, path: Path, fmt: str, block: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    cmd = [sys.executable, __file__, "--child", name, "--path", str(path), "--format", fmt]
    cmd += ["--block-size", str(block / 2**20)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} on {path.name} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load1_before"] = load
    return result


def dataset(directory: Path, rows: int, fmt: str, seed: int, days: int) -> tuple[Path, dict]:
    """The generated file and its exact totals, reused from `directory` when already there."""
    path = directory / f"focus_{rows}_s{seed}_d{days}.{fmt}"
    sidecar = path.with_name(path.name + ".json")
    if path.exists() and sidecar.exists():
        return path, json.loads(sidecar.read_text())
    print(f"generating {path} ...", file=sys.stderr, flush=True)
    summary = generate(path, rows, fmt, seed=seed, days=days).as_json()
    summary["bytes"] = path.stat().st_size
    sidecar.write_text(json.dumps(summary))
    return path, summary


def import_costs(repeat: int = 5) -> dict[str, dict[str, float]]:
    """Median import time and the RSS right after importing, each in a fresh interpreter."""
    statements = {
        "stdlib (csv, decimal, gzip)": "import csv, decimal, gzip",
        "pyarrow (+csv, compute, parquet)": (
            "import pyarrow, pyarrow.csv, pyarrow.compute, pyarrow.parquet"
        ),
        "duckdb": "import duckdb",
    }
    probe = (
        "import sys, time; t = time.perf_counter(); exec(sys.argv[1]); "
        "print(time.perf_counter() - t, "
        "[s.split()[1] for s in open('/proc/self/status') if s.startswith('VmHWM:')][0])"
    )
    out = {}
    for label, statement in statements.items():
        times, rss = [], []
        for _ in range(repeat):
            done = subprocess.run(
                [sys.executable, "-c", probe, statement], capture_output=True, text=True, check=True
            )
            t, r = done.stdout.split()
            times.append(float(t))
            rss.append(int(r) / 1024)
        out[label] = {"import_ms": statistics.median(times) * 1000, "rss_mb": max(rss)}
    return out


def installed_size(distribution: str) -> dict[str, Any]:
    """Bytes of every file the distribution installed (its RECORD), plus du of its folders."""
    dist = metadata.distribution(distribution)
    total = 0
    tops: set[Path] = set()
    site = Path(str(dist.locate_file("")))
    for file in dist.files or []:
        located = Path(str(dist.locate_file(file)))
        if located.is_file():
            total += located.stat().st_size
        if file.parts and not file.parts[0].endswith(".dist-info") and file.parts[0] != "..":
            tops.add(site / file.parts[0])
    du = subprocess.run(
        ["du", "-sk", *sorted(map(str, tops))], capture_output=True, text=True, check=False
    ).stdout
    return {
        "version": dist.version,
        "record_mb": total / 2**20,
        "du_mb": sum(int(line.split()[0]) for line in du.splitlines()) / 1024,
        "paths": sorted(p.name for p in tops),
        "requires": dist.requires or [],
    }


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| format | file rows | candidate | kind | seconds | rows/s | peak RSS MB | CPU s "
        "| groups | totals = generator | load1 before |\n"
        "|---|--:|---|---|--:|--:|--:|--:|--:|---|--:|\n"
    )
    lines = []
    for r in results:
        lines.append(
            f"| {r['format']} | {r['file_rows']:,} | {r['candidate']} "
            f"| {'baseline' if r['baseline'] else 'aggregate'} | {r['seconds']:.1f} "
            f"| {r['rows'] / r['seconds']:,.0f} | {r['max_rss_mb']:,.0f} | {r['cpu']:.1f} "
            f"| {r.get('groups', '–') if not r['baseline'] else '–'} "
            f"| {'yes' if r.get('totals_ok') else ('n/a' if r['baseline'] else 'NO')} "
            f"| {r['load1_before']:.2f} |"
        )
    return head + "\n".join(lines)


def check(results: list[dict[str, Any]]) -> list[str]:
    """Every aggregate equals the generator's totals and every other aggregate on its file."""
    problems = []
    by_file: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if r["rows"] != r["file_rows"]:
            problems.append(
                f"{r['candidate']} on {r['file']}: {r['rows']} rows, not {r['file_rows']}"
            )
        if r["baseline"]:
            continue
        truth = {k: Decimal(v) for k, v in r["truth"].items()}
        got = {k: Decimal(v) for k, v in r["totals"].items()}
        r["totals_ok"] = got == truth
        if not r["totals_ok"]:
            problems.append(f"{r['candidate']} on {r['file']}: totals {got} != generator {truth}")
        by_file.setdefault(r["file"], []).append(r)
    for file, runs in by_file.items():
        if len({(r["groups"], r["digest"]) for r in runs}) > 1:
            seen = ", ".join(f"{r['candidate']}: {r['groups']} {r['digest'][:12]}" for r in runs)
            problems.append(f"aggregates differ on {file}: {seen}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,csv.gz,parquet")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated files here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--python-rows", type=int, help="run csv+Decimal on a file this big")
    parser.add_argument("--block-size", type=float, default=16, help="pyarrow CSV block, MiB")
    parser.add_argument("--duckdb-memory-limit", default=DUCKDB_MEMORY_LIMIT)
    parser.add_argument("--candidates", help="comma-separated subset of: " + ", ".join(BY_NAME))
    parser.add_argument("--repeat", type=int, default=1, help="runs per candidate; best is kept")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    block = int(args.block_size * 2**20)
    if args.child:
        child(args.child, args.path, args.format, block)
        return 0
    os.environ["FOCUS_DUCKDB_MEMORY_LIMIT"] = args.duckdb_memory_limit  # children inherit it

    formats = [f for f in args.formats.split(",") if f]
    chosen = args.candidates.split(",") if args.candidates else list(BY_NAME)
    directory = args.keep or Path(tempfile.mkdtemp(prefix="focus-readers-"))
    directory.mkdir(parents=True, exist_ok=True)
    environment = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": os.getloadavg(),
        "pyarrow_block_mib": args.block_size,
        "duckdb_memory_limit": args.duckdb_memory_limit,
    }
    results: list[dict[str, Any]] = []
    try:
        for fmt in formats:
            for name in chosen:
                candidate = BY_NAME[name]
                if fmt not in candidate.formats:
                    continue
                rows = args.rows
                if name.startswith("csv") and args.python_rows:
                    rows = min(rows, args.python_rows)
                path, summary = dataset(directory, rows, fmt, args.seed, args.days)
                runs = [run_child(name, path, fmt, block) for _ in range(args.repeat)]
                best = min(runs, key=lambda r: r["seconds"])
                best["max_rss_mb"] = max(r["max_rss_mb"] for r in runs)
                best.update(
                    candidate=name,
                    baseline=candidate.baseline,
                    format=fmt,
                    file=path.name,
                    file_rows=summary["rows"],
                    file_mb=summary["bytes"] / 2**20,
                    generate_seconds=summary["seconds"],
                    truth=summary["totals"],
                    runs=[round(r["seconds"], 2) for r in runs],
                )
                results.append(best)
                print(
                    f"{fmt:8} {name:24} {best['seconds']:8.1f} s "
                    f"{best['rows'] / best['seconds']:>12,.0f} rows/s "
                    f"{best['max_rss_mb']:8,.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)
    problems = check(results)
    imports = import_costs()
    sizes = {name: installed_size(name) for name in ("pyarrow", "duckdb")}
    environment["load_after"] = os.getloadavg()
    files = {
        r[
            "file"
        ]: f"{r['file']} ({r['file_mb']:,.0f} MiB, generated in {r['generate_seconds']:.0f} s)"
        for r in results
    }
    print(f"Python {environment['python']} on {environment['machine']}")
    print(f"load average before: {environment['load_before']}, after: {environment['load_after']}")
    print("files: " + "; ".join(files.values()) + "\n")
    print(table(results))
    print(
        "\n| dependency | version | installed MB (RECORD) | du MB | import ms "
        "| RSS after import MB |"
    )
    print("|---|---|--:|--:|--:|--:|")
    for label, cost in imports.items():
        name = label.split()[0]
        size = sizes.get(name)
        version = size["version"] if size else platform.python_version()
        record = f"{size['record_mb']:.1f}" if size else "0 (stdlib)"
        du = f"{size['du_mb']:.1f}" if size else "–"
        print(
            f"| {label} | {version} | {record} | {du} | {cost['import_ms']:.0f} "
            f"| {cost['rss_mb']:.0f} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "environment": environment,
                    "results": results,
                    "imports": imports,
                    "sizes": sizes,
                },
                indent=1,
                default=str,
            )
        )
    if problems:
        print("\nMISMATCH:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    print("\nall aggregates agree with each other and with the generator's exact totals")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
