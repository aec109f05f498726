"""The two Teams adapters side by side: import time, memory, and a turn's latency.

    .venv/bin/python bench/teams_sdks.py [--turns 60] [--imports 5]

- **Import**: a fresh interpreter imports the adapter module (`adapters.teams.adapter`,
  botbuilder; `adapters.teams_agents.adapter`, the Microsoft 365 Agents SDK) and reports the
  seconds it took and its peak RSS (`ru_maxrss`), `--imports` times; the median counts.
- **Turn**: the bot as tests/test_teams.py runs it (`running_teams`: real HTTP, real JWT
  validation against the local OpenID endpoint, the fake Bot Framework connector), a SQLite
  file of its own per adapter. `--turns` signed `help` messages in a team channel, one after
  the other, after 5 to warm up: the time to the HTTP answer, and to the reply at the fake
  connector. Needs `../shared/samples/teams` (the activity samples the tests use).
Results: a Markdown table on stdout, JSON in bench/results/teams_sdks.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import migrate, shared_path  # noqa: E402
from tests.teams_auth import OpenIdServer, TestKeys  # noqa: E402
from tests.test_teams import running_teams  # noqa: E402

MODULES = {"botbuilder": "adapters.teams.adapter", "agents": "adapters.teams_agents.adapter"}
PROBE = (
    "import resource, sys, time\n"
    "began = time.perf_counter()\n"
    "__import__(sys.argv[1])\n"
    "print(time.perf_counter() - began, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def import_cost(module: str, runs: int) -> dict[str, float]:
    seconds, rss = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, module],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.split()
        seconds.append(float(out[0]))
        rss.append(int(out[1]) / 1024)
    return {"import_s": statistics.median(seconds), "rss_mb": statistics.median(rss)}


async def turns(sdk: str, count: int, shared: Path) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"teams-{sdk}-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    await migrate(url)
    keys = TestKeys()
    openid = OpenIdServer(keys)
    openid.start()
    answers, replies = [], []
    try:
        async with running_teams(url, keys, openid.metadata_url, shared, sdk=sdk) as teams:
            for n in range(count + 5):
                activity = teams.activity("message_channel_mention.json")
                activity["text"] = "<at>FinOps</at> help"
                before = len(teams.connector.calls)
                began = time.perf_counter()
                response = await teams.post(activity, drain=False)
                answered = time.perf_counter() - began
                assert response.status in (200, 201), response.status
                while len(teams.connector.calls) == before:  # noqa: ASYNC110 (a bench probe)
                    await asyncio.sleep(0.001)
                replied = time.perf_counter() - began
                if n >= 5:
                    answers.append(answered * 1000)
                    replies.append(replied * 1000)
            await teams.settled()
    finally:
        openid.close()
    return {
        "answer_p50_ms": statistics.median(answers),
        "answer_p95_ms": statistics.quantiles(answers, n=20)[18],
        "reply_p50_ms": statistics.median(replies),
        "reply_p95_ms": statistics.quantiles(replies, n=20)[18],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--imports", type=int, default=5)
    args = parser.parse_args(argv)
    shared = shared_path()
    report: dict[str, dict[str, Any]] = {}
    for sdk, module in MODULES.items():
        report[sdk] = {**import_cost(module, args.imports)}
        report[sdk] |= asyncio.run(turns(sdk, args.turns, shared))
        print(sdk, report[sdk])
    print(
        "\n| adapter | import s | peak RSS MB | HTTP answer p50 / p95 ms | reply p50 / p95 ms |"
        "\n|---|--:|--:|--:|--:|"
    )
    for sdk, r in report.items():
        print(
            f"| {sdk} | {r['import_s']:.2f} | {r['rss_mb']:.0f} | "
            f"{r['answer_p50_ms']:.1f} / {r['answer_p95_ms']:.1f} | "
            f"{r['reply_p50_ms']:.1f} / {r['reply_p95_ms']:.1f} |"
        )
    out = ROOT / "bench" / "results" / "teams_sdks.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
