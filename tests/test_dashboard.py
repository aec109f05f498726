"""The wins-wall dashboard over real HTTP, on SQLite and PostgreSQL: signed links, escaping,
the CSV exports (and `finops-bot export`), the `dashboard` command and the digest archive."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer
from pydantic import ValidationError

from adapters.console.adapter import PLACE, ConsoleSession
from app.server import BOT
from bot.core import Bot
from bot.dashboard.exports import safe_cell
from bot.dashboard.links import LinkSigner, link_key
from bot.dashboard.routes import redact
from bot.events import CommandEvent
from bot.features import digest
from bot.message import Audience, ChannelPost, DirectMessage, Reply
from bot.settings import Settings
from storage import wins
from storage.models import DigestArchive
from tests.helpers import TEST_SECRET_KEY, number, rows, running_bot

ADMIN = "ada"
LIFETIME = timedelta(hours=12)


class Served:
    """The bot's HTTP app on 127.0.0.1 and a console person talking to the same bot."""

    def __init__(self, client, bot: Bot, workspace: str) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.bot = bot
        self.workspace = workspace

    async def say(self, line: str, user: str = ADMIN, workspace: str | None = None) -> str:
        session = ConsoleSession(self.bot, user, workspace or self.workspace)
        return "\n".join(await session.say(line))

    def token(self, workspace: str | None = None, *, age: timedelta = timedelta(0)) -> str:
        moment = datetime.now(UTC) - age
        signer = LinkSigner(self.bot.voter_key, LIFETIME, clock=lambda: moment)
        return signer.sign("console", workspace or self.workspace)[0]

    async def get(self, path: str, **params: str):  # type: ignore[no-untyped-def]
        response = await self.client.get(path, params=params)
        return response, await response.text()


@pytest.fixture
async def served(settings: Settings, workspace: str) -> AsyncIterator[Served]:
    async with running_bot(settings) as (client, _tasks):
        yield Served(client, client.server.app[BOT], workspace)


async def test_dashboard_command_answers_privately_with_a_signed_link(served: Served):
    await served.say("win Rightsized 40 dev VMs $3,200/mo #rightsizing @jane")
    session = ConsoleSession(served.bot, "bob", served.workspace)
    outcome = await served.bot.handle(CommandEvent(session.actor(), PLACE, "dashboard"))
    assert len(outcome.items) == 1  # nothing posted in the channel, no DM
    [reply] = outcome.items
    assert isinstance(reply, Reply) and reply.audience is Audience.ASKER
    assert not any(isinstance(i, ChannelPost | DirectMessage) for i in outcome.items)
    text = reply.message.text
    link = re.search(r"(http\S+)", text)[1]  # type: ignore[index]
    assert link.startswith(f"{served.bot.settings.base_url}/dashboard?t=")
    assert "expires" in text and "(in 12 hours)" in text and "finops-bot serve" in text
    parts = urlsplit(link)
    response, body = await served.get(
        parts.path, **{k: v[0] for k, v in parse_qs(parts.query).items()}
    )
    assert response.status == 200
    assert "Rightsized 40 dev VMs" in body and "3,200 USD/mo" in body and "jane" in body
    assert "Usage: dashboard" in await served.say("dashboard now")


async def test_the_default_public_url_and_its_validation():
    assert Settings(_env_file=None, PORT=8080).base_url == "http://localhost:8080"
    configured = Settings(_env_file=None, FINOPS_PUBLIC_URL="https://finops.example.com/bot/")
    assert configured.base_url == "https://finops.example.com/bot"
    for wrong in ("finops.example.com", "ftp://x", "https://x/?a=1"):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, FINOPS_PUBLIC_URL=wrong)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, FINOPS_DASHBOARD_LINK_HOURS="0")


async def test_a_link_shows_its_own_workspace_only(served: Served):
    other = served.workspace + "-other"
    await served.say("win Our own cleanup $100")
    await served.say("win Their secret cleanup $200", workspace=other)
    response, body = await served.get("/dashboard", t=served.token())
    assert response.status == 200
    assert "Our own cleanup" in body and "Their secret cleanup" not in body
    response, body = await served.get("/dashboard", t=served.token(other))
    assert "Their secret cleanup" in body and "Our own cleanup" not in body


@pytest.mark.parametrize("page", ["/dashboard", "/dashboard/wins.csv", "/dashboard/polls.csv"])
async def test_without_a_valid_link_nothing_is_served(served: Served, page: str):
    await served.say("win Confidential cleanup $100")
    valid = served.token()
    payload, timestamp, signature = valid.split(".")
    other_payload = served.token("someone-else").split(".")[0]
    foreign = URLSafeTimedSerializer(link_key(b"another deployment"), salt="finops-dashboard-link")
    refused = {
        "missing": {},
        "empty": {"t": ""},
        "garbage": {"t": "not-a-token"},
        "altered signature": {"t": f"{payload}.{timestamp}.{signature[:-2]}AA"},
        "other workspace's payload": {"t": f"{other_payload}.{timestamp}.{signature}"},
        "another key": {"t": foreign.dumps({"v": 1, "p": "console", "w": served.workspace})},
        "expired": {"t": served.token(age=LIFETIME + timedelta(seconds=5))},
        "signed in the future": {"t": served.token(age=-timedelta(hours=1))},
        "unknown workspace": {"t": served.token("never-seen-here")},
        "too long": {"t": valid + "x" * 1000},
    }
    for case, params in refused.items():
        response, body = await served.get(page, **params)
        assert response.status == 403, case
        assert response.headers["Cache-Control"] == "no-store", case
        assert "Confidential" not in body and served.workspace not in body, case
        assert "cannot be opened" in body, case
    response, body = await served.get("/dashboard", t=served.token(age=LIFETIME + timedelta(1)))
    assert "The link has expired." in body
    response, _ = await served.get(page, t=served.token(age=LIFETIME - timedelta(minutes=1)))
    assert response.status == 200  # still valid just before it expires


async def test_user_text_is_escaped_everywhere(served: Served):
    await served.say('win <script>alert(1)</script> & "q" <img src=x onerror=alert(2)> $5')
    await served.say('poll "<b>Bold</b> question?" "<i>yes</i>" "no"')
    await served.say('decide "<svg onload=alert(3)> adopt tagging"')
    await served.say("committee add @mallory finance")
    response, body = await served.get("/dashboard", t=served.token())
    assert response.status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script" not in body.lower()  # not even ours: the page has no script at all
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(2)&gt;" in body
    assert "&lt;b&gt;Bold&lt;/b&gt; question?" in body and "&lt;i&gt;yes&lt;/i&gt;" in body
    assert "&lt;svg onload=alert(3)&gt; adopt tagging" in body
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none'
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


async def test_page_sections_and_periods(served: Served):
    await served.say("config timezone Europe/Paris")
    await served.say("win Rightsized VMs $3,200/mo #rightsizing @jane")
    await served.say("win Stopped a runaway job $900 #avoidance")
    await served.say("committee add @maria finance")
    await served.say('decide "Tag every production resource"')
    await served.say("metric coverage 60%")
    await served.say("metric coverage 72%")
    poll = number(r"Poll #(\d+)", await served.say('poll "Renew the plan?" "Yes" "No" anonymous'))
    await served.say(f"vote {poll} 1", user="bob")
    token = served.token()
    response, body = await served.get("/dashboard", t=token)
    assert 'role="img"' in body and "Savings over the last 12 months" in body
    assert "38,400 USD" in body  # annualised savings this month
    assert "900 USD" in body and "Cost avoided" in body
    assert "maria" in body and "Finance" in body and "vacant" in body
    assert "Tag every production resource" in body
    assert "coverage" in body and "72%" in body and "▲ +12 pts" in body
    assert "Renew the plan?" in body and "anonymous: counts only" in body
    assert "bob" not in body  # the anonymous poll's voter is never named
    assert 'aria-current="page">This month<' in body
    assert f"/dashboard/wins.csv?t={token}" in body and f"/dashboard/polls.csv?t={token}" in body
    for period, label in (("week", "This week"), ("year", "This year"), ("all", "All time")):
        response, body = await served.get("/dashboard", t=token, period=period)
        assert response.status == 200 and f'aria-current="page">{label}<' in body
    response, body = await served.get("/dashboard", t=token, period="nonsense")
    assert response.status == 200 and 'aria-current="page">This month<' in body
    response = await served.client.get("/dashboard/static/dashboard.css")
    assert response.status == 200 and response.content_type == "text/css"


def parse_csv(body: str) -> list[dict[str, str]]:
    assert body.startswith("\ufeff")  # spreadsheets read it as UTF-8
    return list(csv.DictReader(io.StringIO(body[1:])))


async def test_wins_csv_opens_cleanly_without_live_formulas(served: Served):
    await served.say('win =HYPERLINK("http://evil.example","click") $7')
    await served.say("win +1+2 cleanup $8")
    await served.say("win -2+3 cleanup $9")
    await served.say('win Plain, with a comma and "quotes" 3.2k EUR/mo #rightsizing @jane')
    undone = number(r"Logged win #(\d+)", await served.say("win Undone one $1"))
    await served.say(f"win undo {undone}")
    response, body = await served.get("/dashboard/wins.csv", t=served.token())
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    table = parse_csv(body)
    described = [row["description"] for row in table]
    assert len(table) == 4 and str(undone) not in [row["id"] for row in table]  # not counted
    assert described[0] == '\'=HYPERLINK("http://evil.example","click")'
    assert described[1] == "'+1+2 cleanup" and described[2] == "'-2+3 cleanup"
    assert described[3] == 'Plain, with a comma and "quotes"'
    plain = table[3]
    assert (plain["amount"], plain["currency"], plain["recurrence"]) == (
        "3200.00",
        "EUR",
        "monthly",
    )
    assert plain["annualised"] == "38400.00" and plain["kind"] == "saving"
    assert plain["categories"] == "Usage Optimization" and plain["credited"] == "ada; jane"
    for row in table:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_cells_that_would_be_formulas_are_neutralised():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "  =1", "＝1", "＠x"):
        assert safe_cell(text) == "'" + text
    for text in ("plain", "1,000", "", "a=b", "x-y", "#tag"):
        assert safe_cell(text) == text
    assert safe_cell(None) == "" and safe_cell(42) == "42"


async def test_polls_csv_counts_only_for_anonymous_polls(served: Served):
    secret_id = number(r"Poll #(\d+)", await served.say('poll "Secret?" "Yes" "No" anonymous'))
    open_id = number(r"Poll #(\d+)", await served.say('poll "Open ballot?" "=A" "B"'))
    for voter, option in (("bob", 1), ("carol", 2), ("dave", 1)):
        await served.say(f"vote {secret_id} {option}", user=voter)
    await served.say(f"vote {open_id} 1", user="erin")
    response, body = await served.get("/dashboard/polls.csv", t=served.token())
    assert response.status == 200
    table = parse_csv(body)
    secret = [row for row in table if row["poll_id"] == str(secret_id)]
    assert [(r["label"], r["votes"], r["chosen_by"]) for r in secret] == [
        ("Yes", "2", ""),
        ("No", "1", ""),
    ]
    assert all(r["anonymous"] == "yes" and r["voters"] == "3" for r in secret)
    for name in ("bob", "carol", "dave"):
        assert name not in body  # no identity of anonymous voters, anywhere
    shown = [row for row in table if row["poll_id"] == str(open_id)]
    assert shown[0]["label"] == "'=A" and shown[0]["chosen_by"] == "erin"


def export(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": url, "FINOPS_SECRET_KEY": TEST_SECRET_KEY}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "export", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=120,
    )


@pytest.mark.slow  # `finops-bot export` as a real process
async def test_cli_export(chat, workspace: str, settings: Settings, tmp_path: Path):
    await chat.say("win =cmd|'/c calc'!A0 cleanup $5")
    poll = number(r"Poll #(\d+)", await chat.say('poll "Anonymous?" "Yes" "No" anonymous'))
    await chat.say(f"vote {poll} 2", user="bob")
    target = tmp_path / "wins.csv"
    result = export(
        ["wins", "--workspace", f"console:{workspace}", "--out", str(target)],
        settings.database_url,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    [row] = parse_csv(target.read_text(encoding="utf-8"))
    assert row["description"] == "'=cmd|'/c calc'!A0 cleanup" and row["amount"] == "5.00"
    result = export(
        ["polls", "--workspace", f"console:{workspace}"], settings.database_url, tmp_path
    )
    assert result.returncode == 0, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))  # stdout: no byte-order mark
    assert [(r["label"], r["votes"], r["chosen_by"]) for r in table] == [
        ("Yes", "0", ""),
        ("No", "1", ""),
    ]
    assert "bob" not in result.stdout
    unknown = export(
        ["wins", "--workspace", "console:nobody-here"], settings.database_url, tmp_path
    )
    assert unknown.returncode == 2 and "no workspace console:nobody-here" in unknown.stderr
    malformed = export(["wins", "--workspace", "nocolon"], settings.database_url, tmp_path)
    assert malformed.returncode == 2 and "<platform>:<external id>" in malformed.stderr


async def test_posted_digests_are_archived_and_shown(served: Served, database):  # type: ignore[no-untyped-def]
    await served.say("win Deleted idle disks $400/mo")
    await served.say("digest")  # shown to the asker only: not archived
    assert await rows(database, DigestArchive, served.workspace) == 0
    await served.say("config digest-channel #finops")
    assert "Posted the digest for" in await served.say("digest post")
    assert "Posted the digest for" in await served.say("digest post")  # again, the same day
    assert await rows(database, DigestArchive, served.workspace) == 2
    session = ConsoleSession(served.bot, ADMIN, served.workspace)
    ran = await served.bot.run_scheduled(
        session.actor(),
        digest.scheduled_post,
        served.bot.clock(),
        job=f"digest:test-{served.workspace}",
        period="p",
        owner="t",
        prepare=digest.prepare_scheduled,
    )
    assert ran and await rows(database, DigestArchive, served.workspace) == 3
    token = served.token()
    _, body = await served.get("/dashboard", t=token)
    links = re.findall(r'href="(/dashboard/digests/\d+\?t=[^"]+)"', body)
    assert len(links) == 2  # one entry per period: the hand-posted one twice is listed once
    assert ", weekly</a>" in body and ", posted by hand</a>" in body
    response = await served.client.get(links[0].replace("&amp;", "&"))
    page = await response.text()
    assert response.status == 200 and "FinOps digest" in page
    assert "4,800 USD" in page  # the week's annualised savings, as posted
    response, _ = await served.get("/dashboard/digests/999999", t=token)
    assert response.status == 404
    other = served.token(served.workspace + "-x")
    await served.say("win Elsewhere $1", workspace=served.workspace + "-x")
    response, _ = await served.get(links[0].split("?")[0], t=other)
    assert response.status == 404  # a digest of another workspace is not found with this link


async def test_daily_totals_are_exact_across_time_zones_and_undo(chat, clock, database, workspace):  # type: ignore[no-untyped-def]
    await chat.say("config timezone America/New_York")
    moments = [
        datetime(2026, 10, 31, 23, 30, tzinfo=UTC),  # 19:30 on 31 Oct in New York
        datetime(2026, 11, 1, 3, 30, tzinfo=UTC),  # 23:30 on 31 Oct in New York
        datetime(2026, 11, 1, 4, 30, tzinfo=UTC),  # 00:30 on 1 Nov in New York
        datetime(2026, 11, 15, 12, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 4, 59, tzinfo=UTC),  # 23:59 on 30 Nov in New York
        datetime(2026, 12, 1, 5, 0, tzinfo=UTC),  # 00:00 on 1 Dec in New York
    ]
    ids = []
    for n, moment in enumerate(moments, start=1):
        clock.now = moment
        ids.append(number(r"Logged win #(\d+)", await chat.say(f"win Cleanup {n} ${n}00")))
    await chat.say("win Avoided 7 $700 #avoidance")
    await chat.say(f"win undo {ids[3]}")
    assert "already undone" in await chat.say(f"win undo {ids[3]}")  # counted out once only
    bounds = [
        datetime(2026, 10, 1, 4, 0, tzinfo=UTC),  # months in New York
        datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
        datetime(2027, 1, 1, 5, 0, tzinfo=UTC),
    ]
    async with database.reading() as session:
        from storage.workspaces import find

        ws = await find(session, "console", workspace)
        rolled = await wins.totals_by_interval(session, ws, bounds)
        for index in range(3):
            direct = await wins.totals(session, ws, start=bounds[index], end=bounds[index + 1])
            mine = [r for r in rolled if r.bucket == index]
            assert sum(r.count for r in mine) == direct.count
            assert {r.currency: r.annualised for r in mine if not r.avoidance} == direct.savings
            assert {r.currency: r.annualised for r in mine if r.avoidance} == direct.avoidance
        whole = await wins.totals_by_interval(session, ws, [bounds[0], bounds[-1]])
    assert sum(r.count for r in whole) == 6  # 7 wins, one undone
    assert [r.count for r in rolled if not r.avoidance] == [2, 2, 1]
    assert sum(r.annualised for r in rolled if not r.avoidance) == 1_700 * 100


def test_tokens_never_reach_the_access_log():
    assert redact("/dashboard?t=abc.def.ghi&period=year") == "/dashboard?t=[redacted]&period=year"
    assert (
        redact("/dashboard/wins.csv?period=x&t=abc") == "/dashboard/wins.csv?period=x&t=[redacted]"
    )
    assert redact("/healthz") == "/healthz"
    token = "eyJ3IjoiVDEifQ.aBcD.eFgH"
    for spelt in (f"/dashboard?%74={token}", f"/dashboard?t%3D{token}", f"/dashboard;t={token}"):
        assert token not in redact(spelt), spelt
    assert redact(f"/dashboard?period=year;t={token}") == "/dashboard?period=year&t=[redacted]"
    assert token not in redact(f"/dashboard?period={token}")  # only short, plain periods


async def test_the_served_access_log_never_holds_a_token_however_it_is_spelt(settings, caplog):
    from aiohttp.test_utils import TestClient, TestServer
    from yarl import URL

    from app.server import create_app
    from bot.dashboard.routes import RedactingAccessLogger

    token = "eyJ3IjoiVDEifQ.aBcDsecret.eFgH"
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server(access_log_class=RedactingAccessLogger)  # as `serve` runs it
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with TestClient(server) as client:
        for spelt in (
            f"/dashboard?%74={token}",
            f"/dashboard?t%3D{token}",
            f"/dashboard;t={token}",
            f"/dashboard?period=year&t={token}",
        ):
            url = URL(f"http://{server.host}:{server.port}{spelt}", encoded=True)
            response = await client.session.get(url)
            assert response.status in (403, 404), spelt
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == 4 and all("[redacted]" in line for line in lines), lines
    assert token not in caplog.text and "aBcDsecret" not in caplog.text


async def test_the_export_pages_through_wins_logged_at_the_same_moment(
    chat, database, workspace: str, monkeypatch: pytest.MonkeyPatch
):
    from bot.dashboard import exports
    from storage.workspaces import find

    for n in range(5):  # the test clock stands still: five wins at the same instant
        await chat.say(f"win Same moment {n} ${n + 1}")
    monkeypatch.setattr(exports, "BATCH", 2)
    async with database.reading() as session:
        ws = await find(session, "console", workspace)
    chunks = [chunk async for chunk in exports.win_batches(database, ws)]
    assert len(chunks) == 1 + 3  # the header, then batches of 2, 2 and 1
    table = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert [row["description"] for row in table] == [f"Same moment {n}" for n in range(5)]


@pytest.mark.slow  # `finops-bot serve` and `console` as real processes
def test_serve_without_credentials_serves_the_dashboard(tmp_path: Path):
    """`finops-bot serve` as a person starts it after the Quick start: no Slack, no Teams."""
    import socket
    import time
    import urllib.error
    import urllib.request

    from bot.dashboard.links import LinkSigner
    from storage.secret import load_voter_key

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    console = subprocess.run(
        [sys.executable, "-m", "app.cli", "console"],
        input="win Quick start cleanup $40\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": url},
        timeout=120,
    )
    assert console.returncode == 0, console.stderr
    environment = {**os.environ, "DATABASE_URL": url, "HOST": "127.0.0.1", "LOG_LEVEL": "INFO"}
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MicrosoftAppId"):
        environment.pop(key, None)
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        key = load_voter_key("", url)  # the key file beside the database, as the console made
        token = LinkSigner(key, LIFETIME).sign("console", "local")[0]
        with urllib.request.urlopen(f"{base}/dashboard?t={token}", timeout=10) as answer:
            assert answer.status == 200
            assert "Quick start cleanup" in answer.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/dashboard", timeout=10)
        assert refused.value.code == 403
    finally:
        server.terminate()
        _, log = server.communicate(timeout=60)
    assert "t=[redacted]" in log and token not in log  # the access log never holds a token


class StoppedClock:
    """The running bot's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def link_params(answer: str) -> tuple[str, dict[str, str]]:
    link = urlsplit(re.search(r"(http\S+/dashboard\?t=\S+)", answer)[1])  # type: ignore[index]
    return link.path, {k: v[0] for k, v in parse_qs(link.query).items()}


async def test_a_screen_link_works_after_12_hours_and_stops_once_revoked(served: Served):
    clock = StoppedClock(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    served.bot.clock = clock
    await served.say("win Screen-worthy cleanup $1,200/mo")
    refused = await served.say("dashboard screen", user="bob")
    assert "Only an admin can make a screen link" in refused and "http" not in refused
    assert "Only an admin" in await served.say("dashboard links", user="bob")
    assert "Only an admin" in await served.say("dashboard revoke 1", user="bob")
    private_path, private = link_params(await served.say("dashboard"))
    answer = await served.say("dashboard screen")
    screen_id = number(r"Screen link #(\d+)", answer)
    assert "valid until an admin revokes it" in answer
    path, params = link_params(answer)

    response, body = await served.get(path, **params)
    assert response.status == 200 and "Screen-worthy cleanup" in body
    assert '<meta http-equiv="refresh" content="120">' in body  # reloads itself, no script
    assert "<script" not in body.lower()
    assert 'figures read <time datetime="2026-12-03T09:00:00+00:00">Thu 3 Dec 2026 09:00' in body
    assert f"Screen link #{screen_id}" in body and f"dashboard revoke {screen_id}" in body
    _, private_body = await served.get(private_path, **private)
    assert "http-equiv" not in private_body  # the private link's page stays still

    clock.now += timedelta(hours=13)
    response, body = await served.get(path, **params)
    assert response.status == 200  # long past the private link's 12 hours
    assert "Thu 3 Dec 2026 22:00" in body  # and it says when its figures were read
    response, body = await served.get(private_path, **private)
    assert response.status == 403 and "The link has expired." in body
    for page in ("/dashboard/wins.csv", "/dashboard/polls.csv"):
        response, _ = await served.get(page, **params)
        assert response.status == 200, page

    listing = await served.say("dashboard links")
    assert f"#{screen_id} · created Thu 3 Dec 2026 09:00 UTC by {ADMIN}" in listing
    assert "last used Thu 3 Dec 2026 22:00 UTC" in listing

    # A screen link names its workspace: another workspace's screen id does not open this one.
    other = served.workspace + "-other"
    await served.say("win Elsewhere $1", workspace=other)
    assert "There is no screen link" in await served.say(
        f"dashboard revoke {screen_id}", workspace=other
    )
    signer = LinkSigner(served.bot.voter_key, LIFETIME, clock=clock)
    crossed = signer.sign_screen("console", other, screen_id)
    response, body = await served.get("/dashboard", t=crossed)
    assert response.status == 403 and "Screen-worthy" not in body

    assert f"Screen link #{screen_id} is revoked" in await served.say(
        f"dashboard revoke {screen_id}"
    )
    for page in ("/dashboard", "/dashboard/wins.csv", "/dashboard/polls.csv"):
        response, body = await served.get(page, **params)
        assert response.status == 403, page
        assert "Screen-worthy" not in body and "The link has been revoked." in body, page
    assert "already revoked" in await served.say(f"dashboard revoke {screen_id}")
    assert "No screen links" in await served.say("dashboard links")
    assert "There is no screen link #999999" in await served.say("dashboard revoke 999999")
    assert "Usage: dashboard" in await served.say("dashboard revoke")
    assert "Usage: dashboard" in await served.say("dashboard revoke x")


async def test_the_polls_panel_shows_every_open_poll_then_the_latest_closed(served: Served):
    first_open = number(r"Poll #(\d+)", await served.say('poll "Committee: renew?" "Yes" "No"'))
    closed = []
    for n in range(7):
        poll = number(r"Poll #(\d+)", await served.say(f'poll "Closed {n}?" "Yes" "No"'))
        await served.say(f"poll close {poll}")
        closed.append(poll)
    soon = number(r"Poll #(\d+)", await served.say('poll "Closing soon?" "Yes" "No" closes in 2h'))
    _, body = await served.get("/dashboard", t=served.token())
    shown = [
        int(n) for n in re.findall(r'<article class="poll[^"]*" aria-labelledby="poll-(\d+)"', body)
    ]
    # Open first, closing soonest first; then the four newest closed ones, newest first.
    assert shown == [soon, first_open, *reversed(closed[-4:])]


async def test_a_new_install_charts_the_last_12_months_with_their_years(served: Served):
    clock = StoppedClock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    served.bot.clock = clock
    await served.say("config timezone Europe/Paris")  # the workspace exists, no win yet
    token = LinkSigner(served.bot.voter_key, LIFETIME, clock=clock).sign(
        "console", served.workspace
    )[0]
    response, body = await served.get("/dashboard", t=token)
    assert response.status == 200
    wide = re.findall(
        r'<text class="month"[^>]*>([A-Z][a-z]{2})<tspan class="year"[^>]*>(\d{4})', body
    )
    expected = [("Apr", "2025"), ("May", "2025"), ("Jun", "2025"), ("Jul", "2025")]
    expected += [("Aug", "2025"), ("Sep", "2025"), ("Oct", "2025"), ("Nov", "2025")]
    expected += [("Dec", "2025"), ("Jan", "2026"), ("Feb", "2026"), ("Mar", "2026")]
    assert wide == expected  # twelve months, each with its year, empty ones included
    phone = re.findall(r'<text class="month" x="0"[^>]*>([A-Z][a-z]{2} \d{4})</text>', body)
    assert phone == [f"{m} {y}" for m, y in reversed(expected)]  # newest first
    assert "No wins with an amount in these months yet." in body
    table = re.findall(r'<tr><th scope="row">([A-Z][a-z]{2} \d{4})</th>', body)
    assert table == [f"{m} {y}" for m, y in expected]


async def test_the_favicon_and_the_digest_chart_caption(served: Served, database):  # type: ignore[no-untyped-def]
    from bot.dashboard.render import chart_caption

    for path in ("/favicon.ico", "/dashboard/static/favicon.svg"):
        response = await served.client.get(path)
        assert response.status == 200 and response.content_type == "image/svg+xml", path
        assert (await response.text()).startswith("<svg")
    _, body = await served.get("/dashboard", t=served.token())
    assert 'rel="icon"' in body
    assert chart_caption("Chart: weekly cost in USD") == "Chart: weekly cost in USD"
    assert chart_caption("weekly cost in USD") == "Chart: weekly cost in USD"
    from bot import message_json
    from bot.message import Chart, Fields, Message
    from storage import digests as digest_store
    from storage.workspaces import find

    await served.say("win Something $1")
    message = Message(
        text="digest",
        blocks=(
            Fields((("Savings", "1,000 USD + 2,000 EUR + 300 GBP"),)),
            Chart(png=b"", alt="Chart: weekly cost in USD", sparkline="Cost ▁▃▅"),
        ),
    )
    moment = datetime.now(UTC)
    async with database.session() as session:
        ws = await find(session, "console", served.workspace)
        row = await digest_store.archive(
            session,
            ws,
            week_start=moment.date(),
            period=(moment - timedelta(days=7), moment),
            scheduled=True,
            posted_at=moment,
            message=message_json.dumps(message),
        )
    response, page = await served.get(f"/dashboard/digests/{row.id}", t=served.token())
    assert response.status == 200
    assert "Chart: weekly cost in USD" in page and "Chart: Chart" not in page
    assert "(chart:" not in page.lower()
    assert '<span class="part">1,000 USD</span><span class="part">+ 2,000 EUR</span>' in page


async def test_a_lower_is_better_metric_falling_is_shown_as_good_news(served: Served):
    for line in ("metric unit-cost 2.40 USD", "metric unit-cost 1.90 USD"):
        await served.say(line)
    for line in ("metric coverage 60%", "metric coverage 72%"):
        await served.say(line)
    assert "Only steering committee members and admins" in await served.say(
        "metric unit-cost direction lower", user="bob"
    )
    _, body = await served.get("/dashboard", t=served.token())
    assert re.search(r'class="trend down bad"[^>]*>▼ -0\.5 USD', body)  # the default: higher
    assert "lower is better" in await served.say("metric unit-cost direction lower")
    _, body = await served.get("/dashboard", t=served.token())
    assert re.search(r'class="trend down good"[^>]*>▼ -0\.5 USD', body)
    assert re.search(r'class="trend up good"[^>]*>▲ \+12 pts', body)
    assert "unit-cost: 1.9 USD, -0.5 USD since the previous value" in body
    assert ", lower is better" in body
    assert "higher is better" in await served.say("metric unit-cost direction higher")
    _, body = await served.get("/dashboard", t=served.token())
    assert re.search(r'class="trend down bad"', body) and ", lower is better" not in body
    assert "Usage: metric" in await served.say("metric unit-cost direction sideways")
