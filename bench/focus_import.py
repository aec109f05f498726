"""`finops-bot focus import` of a generated 5-million-row FOCUS CSV, against the fastest plain
reader of the same file.

    .venv/bin/python bench/focus_import.py [--rows 5000000] [--format csv] [--keep DIR]
                                           [--databases sqlite,postgresql]

1. Generates the export with bench/focus_data.py (kept in --keep DIR between runs), which also
   gives its exact cost totals.
2. Baselines, each in a child process: the fastest plain readers measured in "Reading FOCUS
   exports: which library" (DuckDB's COUNT(*) and pyarrow's streaming reader), parsing the
   file and aggregating nothing; ratios are against the faster of the two.
3. The bot, in a child process: the real command line, `finops-bot focus import FILE`, into a
   new database (SQLite file; PostgreSQL on 127.0.0.1 when it answers), stdout/stderr kept.
4. Checks the stored totals against the generator's (to the cent), then a second import of the
   same file (replaces the days: the row count and totals must not change).
Each child's wall time and peak resident memory (GNU time's %M) are reported; results go to
bench/results/focus_import.json.
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

# The fastest plain readers of the file in "Reading FOCUS exports: which library": parse every
# row, aggregate nothing.
PLAIN_READERS = {
    "baseline: duckdb COUNT(*)": (
        "import sys, duckdb\n"
        "print(duckdb.connect().execute('SELECT count(*) FROM read_csv(?)', [sys.argv[1]])"
        ".fetchall()[0][0])"
    ),
    "baseline: pyarrow streaming read": (
        "import sys, pyarrow.csv as c\nrows = 0\n"
        "for b in c.open_csv(sys.argv[1], read_options=c.ReadOptions(block_size=16 << 20)):\n"
        "    rows += b.num_rows\nprint(rows)"
    ),
}


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
    database = Database(url)
    try:
        async with database.reading() as session:
            connection = await session.connection()
            row = (
                await connection.execute(
                    text("SELECT count(*), sum(billed_nanos), sum(effective_nanos) FROM cost_day")
                )
            ).one()
    finally:
        await database.dispose()
    return int(row[0]), Decimal(row[1]).scaleb(-9), Decimal(row[2]).scaleb(-9)


def import_into(url: str, path: Path) -> dict[str, float | str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FINOPS_SECRET_KEY": "bench-Wq7nE2sR9yT4uI1oP6aS3dF8gH0jK5lZxC4vB",
        "LOG_LEVEL": "WARNING",
    }
    return run_child([str(ROOT / ".venv/bin/finops-bot"), "focus", "import", str(path)], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--format", default="csv", choices=["csv", "csv.gz", "parquet"])
    parser.add_argument("--keep", type=Path, help="keep the generated export in this directory")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args(argv)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="focus-import-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"focus_{args.rows}.{args.format}"
    totals_file = path.with_suffix(path.suffix + ".totals.json")
    if path.exists() and totals_file.exists():
        expected = {k: Decimal(v) for k, v in json.loads(totals_file.read_text()).items()}
    else:
        summary = focus_data.generate(path, args.rows, args.format)
        expected = summary.totals
        totals_file.write_text(json.dumps({k: str(v) for k, v in expected.items()}))
    size_mb = path.stat().st_size / 2**20
    print(f"{path.name}: {args.rows:,} rows, {size_mb:,.0f} MB")

    results: dict[str, dict[str, float | str]] = {}
    if args.format == "csv":
        for label, code in PLAIN_READERS.items():
            results[label] = run_child([sys.executable, "-c", code, str(path)])
    for name in args.databases.split(","):
        if name == "sqlite":
            url = f"sqlite:///{folder / 'bench-import.db'}"
            (folder / "bench-import.db").unlink(missing_ok=True)
        else:
            try:
                url = asyncio.run(create_postgres_database())
            except Exception as error:
                print(f"PostgreSQL at {POSTGRES_URL} not reachable ({error}); skipped")
                continue
        try:
            first = import_into(url, path)
            count, billed, effective = asyncio.run(stored_totals(url))
            again = import_into(url, path)
            recount = asyncio.run(stored_totals(url))
        finally:
            if name != "sqlite":
                asyncio.run(drop_postgres_database(url))
        cents = Decimal("0.01")
        exact = billed.quantize(cents) == expected["BilledCost"].quantize(
            cents
        ) and effective.quantize(cents) == expected["EffectiveCost"].quantize(cents)
        results[f"finops-bot focus import ({name})"] = {
            **first,
            "aggregates": count,
            "totals_match_to_the_cent": exact,
            "reimport_unchanged": recount == (count, billed, effective),
            "reimport_seconds": again["seconds"],
        }
        if not exact or recount != (count, billed, effective):
            print(f"MISMATCH on {name}: {billed} / {effective} vs {expected}")

    print("\n| reader | seconds | rows/s | peak RSS MB | vs baseline |\n|---|---:|---:|---:|---:|")
    base = min((r["seconds"] for k, r in results.items() if k.startswith("baseline")), default=None)
    for label, r in results.items():
        ratio = f"{float(r['seconds']) / float(base):.2f}×" if base else "n/a"
        print(
            f"| {label} | {float(r['seconds']):.1f} | {args.rows / float(r['seconds']):,.0f} "
            f"| {float(r['peak_mb']):,.0f} | {ratio} |"
        )
    for label, r in results.items():
        if "aggregates" in r:
            print(
                f"{label}: {r['aggregates']:,} daily aggregates; totals to the cent: "
                f"{r['totals_match_to_the_cent']}; re-import unchanged: {r['reimport_unchanged']} "
                f"({float(r['reimport_seconds']):.1f} s)"
            )
    out = ROOT / "bench" / "results" / "focus_import.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"rows": args.rows, "format": args.format, "size_mb": size_mb, "results": results},
            indent=2,
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
