"""`finops-bot focus import` of a generated 5-million-row FOCUS export, CSV and Parquet, against
a plain DuckDB GROUP BY of the same file over the same dimensions, with exact sums.

    .venv/bin/python bench/focus_import.py [--rows 5000000] [--formats csv,parquet] [--keep DIR]
                                           [--databases sqlite,postgresql]

1. Generates the CSV export with bench/focus_data.py (kept in --keep DIR between runs), which
   also gives its exact cost totals; the Parquet file is the same rows converted by DuckDB's
   COPY (decimals stay DECIMAL(38, 10), the charge and billing periods UTC timestamps, `NULL`
   and empty cells real nulls), so both formats hold the same money to the billionth.
2. Baseline, in a child process, for each format: a plain DuckDB `GROUP BY` over the dimensions
   the importer groups by (the charge day, provider, currency, billing account, sub-account,
   service category, service, region, charge, pricing and commitment columns, tagged or not,
   the billing period), with exact DECIMAL sums of every money column the importer stores
   (billed, effective, list, contracted, and the negotiated and commitment savings under the
   importer's conditions). No normalising, no validation, nothing written: the fastest honest
   answer to "the daily aggregates of this file". Run twice, the faster run kept; its grand
   totals are checked too.
3. The bot, in a child process: the real command line, `finops-bot focus import FILE`, into a
   new database (a SQLite file; a PostgreSQL database of its own on 127.0.0.1 when it answers)
   that `finops-bot db upgrade` has just migrated (not timed: `focus import` refuses a database
   without the current schema). Timed: start-up, reading, and the one transaction writing.
4. Checks the stored totals against the generator's (to the cent), then a second import of the
   same file (it replaces the same deliveries: the row count and totals must not change).
Each child's wall time and peak resident memory (GNU time's %M) are reported, with the ratio
to its format's baseline; results go to bench/results/focus_import.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import focus_data  # noqa: E402
from sqlalchemy import text  # noqa: E402

from storage.engine import Database  # noqa: E402
from tests.helpers import POSTGRES_URL, create_postgres_database, drop_postgres_database  # noqa: E402

MONEY_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
# The plain GROUP BY, one child process per file. A CSV's money columns are read as exact
# decimals (DuckDB's sniffer would take them for floats), everything else as sniffed.
BASELINE = r'''
import sys, duckdb
path, kind = sys.argv[1], sys.argv[2]
money = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
if kind == "parquet":
    source, params = "read_parquet(?)", [path]
else:
    source = "read_csv(?, types = ?, nullstr = ['', 'NULL'])"
    params = [path, {name: "DECIMAL(38, 18)" for name in money}]
not_purchase = "ChargeCategory <> 'Purchase'"
priced = f"{not_purchase} AND ContractedCost > 0 AND ListCost > 0"
used = f"{not_purchase} AND ContractedCost > 0"
sql = f"""
SELECT count(*), sum(n), sum(billed), sum(effective), sum(listed), sum(contracted),
       sum(negotiated), sum(commitment)
FROM (
    SELECT
        CAST(ChargePeriodStart AS DATE), ProviderName, BillingCurrency, BillingAccountId,
        SubAccountName, ServiceCategory, ServiceName, RegionId, ChargeCategory,
        PricingCategory, CommitmentDiscountStatus, CommitmentDiscountId,
        coalesce(Tags NOT IN ('', '{{}}'), false), CAST(BillingPeriodStart AS DATE),
        count(*) AS n,
        sum(BilledCost) AS billed,
        sum(EffectiveCost) AS effective,
        sum(ListCost) AS listed,
        sum(ContractedCost) AS contracted,
        sum(ListCost - ContractedCost) FILTER (WHERE {priced}) AS negotiated,
        sum(ContractedCost - EffectiveCost) FILTER (WHERE {used}) AS commitment
    FROM {source}
    GROUP BY ALL
)
"""
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
print(" ".join(str(v) for v in con.execute(sql, params).fetchall()[0]))
'''


def run_child(argv: list[str], env: dict[str, str] | None = None) -> dict[str, float | str]:
    """Wall time and peak RSS of a child. GNU time reports the peak: a child's own
    ru_maxrss starts from its parent's size across fork, so wait4 here would overstate it."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "MAXRSS_KB %M", *argv],
        capture_output=True,
        env=env,
        cwd=ROOT,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed:\n{done.stdout}\n{done.stderr}")
    peak_kb = int(done.stderr.rsplit("MAXRSS_KB", 1)[1].split()[0])
    return {"seconds": seconds, "peak_mb": peak_kb / 1024, "output": done.stdout.strip()}


async def stored_totals(url: str) -> tuple[int, Decimal, Decimal]:
    """Aggregate rows and the billed and effective totals, each amount joined from its two
    stored integers (storage/money.py)."""
    database = Database(url)
    try:
        async with database.reading() as session:
            connection = await session.connection()
            row = (
                await connection.execute(
                    text(
                        "SELECT count(*), sum(billed_units), sum(billed_nanos), "
                        "sum(effective_units), sum(effective_nanos) FROM cost_day"
                    )
                )
            ).one()
    finally:
        await database.dispose()
    billed = Decimal(int(row[1]) * 10**9 + int(row[2])).scaleb(-9)
    effective = Decimal(int(row[3]) * 10**9 + int(row[4])).scaleb(-9)
    return int(row[0]), billed, effective


def bot(url: str, *args: str) -> dict[str, float | str]:
    """`finops-bot ARGS` on the database at `url`, in a child process."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FINOPS_SECRET_KEY": "bench-Wq7nE2sR9yT4uI1oP6aS3dF8gH0jK5lZxC4vB",
        "LOG_LEVEL": "WARNING",
    }
    return run_child([str(ROOT / ".venv/bin/finops-bot"), *args], env)


def import_into(url: str, path: Path) -> dict[str, float | str]:
    return bot(url, "focus", "import", str(path))


def export(folder: Path, rows: int, fmt: str) -> tuple[Path, dict[str, Decimal]]:
    """The kept export of `rows` rows in `fmt` (made once) and the generator's exact totals."""
    csv_path = folder / f"focus_{rows}.csv"
    totals_file = csv_path.with_suffix(".csv.totals.json")
    if not (csv_path.exists() and totals_file.exists()):
        summary = focus_data.generate(csv_path, rows, "csv")
        totals_file.write_text(json.dumps({k: str(v) for k, v in summary.totals.items()}))
    totals = {k: Decimal(v) for k, v in json.loads(totals_file.read_text()).items()}
    if fmt == "csv":
        return csv_path, totals
    path = folder / f"focus_{rows}.parquet"
    if not path.exists():
        import duckdb

        types = {
            name: (
                "DECIMAL(38, 10)"
                if name in focus_data.DECIMAL_COLUMNS
                else "TIMESTAMPTZ"
                if name in focus_data.TIMESTAMP_COLUMNS
                else "VARCHAR"
            )
            for name in focus_data.COLUMNS
        }
        partial = path.with_suffix(".parquet.partial")
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(
                "COPY (SELECT * FROM read_csv(?, header = true, auto_detect = false, "
                "columns = ?, nullstr = ['', 'NULL'])) TO '"
                + str(partial).replace("'", "''")
                + "' (FORMAT parquet, COMPRESSION zstd)",
                [str(csv_path), types],
            )
        partial.rename(path)
    return path, totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--keep", type=Path, help="keep the generated exports in this directory")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args(argv)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="focus-import-"))
    folder.mkdir(parents=True, exist_ok=True)
    cents = Decimal("0.01")
    report: dict[str, dict] = {}
    for fmt in args.formats.split(","):
        path, expected = export(folder, args.rows, fmt)
        size_mb = path.stat().st_size / 2**20
        print(f"{path.name}: {args.rows:,} rows, {size_mb:,.0f} MB", flush=True)
        results: dict[str, dict[str, float | str | int | bool]] = {}
        # The faster of two runs: the first may read the file from disk, the bot's from the
        # page cache; the baseline gets the better of the two chances.
        base = min(
            (run_child([sys.executable, "-c", BASELINE, str(path), fmt]) for _ in range(2)),
            key=lambda r: float(r["seconds"]),
        )
        groups, rows, billed, effective = base["output"].split()[:4]  # type: ignore[union-attr]
        base_exact = Decimal(billed).quantize(cents) == expected["BilledCost"].quantize(
            cents
        ) and Decimal(effective).quantize(cents) == expected["EffectiveCost"].quantize(cents)
        results["baseline: DuckDB GROUP BY, exact sums"] = {
            **base,
            "groups": int(groups),
            "rows": int(rows),
            "totals_match_to_the_cent": base_exact,
        }
        print(f"  baseline {base['seconds']:.1f} s, {int(groups):,} groups", flush=True)
        for name in args.databases.split(","):
            if name == "sqlite":
                url = f"sqlite:///{folder / 'bench-import.db'}"
                for suffix in ("", "-wal", "-shm", ".secret"):
                    (folder / f"bench-import.db{suffix}").unlink(missing_ok=True)
            else:
                try:
                    url = asyncio.run(create_postgres_database())
                except Exception as error:
                    print(f"PostgreSQL at {POSTGRES_URL} not reachable ({error}); skipped")
                    continue
            try:
                bot(url, "db", "upgrade")  # the schema first (`focus import` requires it), untimed
                first = import_into(url, path)
                count, billed_total, effective_total = asyncio.run(stored_totals(url))
                again = import_into(url, path)
                recount = asyncio.run(stored_totals(url))
            finally:
                if name != "sqlite":
                    asyncio.run(drop_postgres_database(url))
            exact = billed_total.quantize(cents) == expected["BilledCost"].quantize(
                cents
            ) and effective_total.quantize(cents) == expected["EffectiveCost"].quantize(cents)
            results[f"finops-bot focus import ({name})"] = {
                **first,
                "aggregates": count,
                "totals_match_to_the_cent": exact,
                "reimport_unchanged": recount == (count, billed_total, effective_total),
                "reimport_seconds": again["seconds"],
                "reimport_peak_mb": again["peak_mb"],
            }
            print(f"  {name}: {first['seconds']:.1f} s, again {again['seconds']:.1f} s", flush=True)
            if not exact or recount != (count, billed_total, effective_total):
                print(f"MISMATCH on {name}: {billed_total} / {effective_total} vs {expected}")
        report[fmt] = {"size_mb": size_mb, "results": results}

    print(
        "\n| format | reader | seconds | rows/s | peak RSS MB | vs baseline |"
        "\n|---|---|--:|--:|--:|--:|"
    )
    for fmt, part in report.items():
        results = part["results"]
        base = float(next(iter(results.values()))["seconds"])
        for label, r in results.items():
            print(
                f"| {fmt} | {label} | {float(r['seconds']):.1f} "
                f"| {args.rows / float(r['seconds']):,.0f} | {float(r['peak_mb']):,.0f} "
                f"| {float(r['seconds']) / base:.2f}× |"
            )
    for fmt, part in report.items():
        for label, r in part["results"].items():
            if "aggregates" in r:
                print(
                    f"{fmt}, {label}: {r['aggregates']:,} daily aggregates; totals to the cent: "
                    f"{r['totals_match_to_the_cent']}; re-import unchanged: "
                    f"{r['reimport_unchanged']} ({float(r['reimport_seconds']):.1f} s, "
                    f"{float(r['reimport_peak_mb']):,.0f} MB)"
                )
            else:
                print(
                    f"{fmt}, {label}: {r['groups']:,} groups of {r['rows']:,} rows; totals to "
                    f"the cent: {r['totals_match_to_the_cent']}"
                )
    out = ROOT / "bench" / "results" / "focus_import.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": args.rows, "formats": report}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
