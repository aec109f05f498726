"""The `finops-bot` command as a person runs it: real processes, real databases."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from storage.migrate import head_revision
from tests.helpers import TEST_SECRET_KEY, create_postgres_database, drop_postgres_database

pytestmark = pytest.mark.slow  # the `finops-bot` command as real processes

BOT = [sys.executable, "-m", "app.cli"]


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (no migrations yet: the bot applies them)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    request.getfixturevalue("postgresql_url")  # skips (or fails under CI) without a server
    url = asyncio.run(create_postgres_database())
    yield url.replace("postgresql+asyncpg://", "postgresql://")  # the plain form people write
    asyncio.run(drop_postgres_database(url))


def run(args: list[str], url: str, cwd: Path, stdin: str = "", **env: str):
    environment = {**os.environ, "DATABASE_URL": url, "FINOPS_SECRET_KEY": TEST_SECRET_KEY, **env}
    environment.pop("FINOPS_ADMINS", None)
    return subprocess.run(
        BOT + args,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["console", "--help"],
        ["serve", "--help"],
        ["db", "--help"],
        ["db", "upgrade", "--help"],
    ],
)
def test_help_everywhere(args: list[str], tmp_path: Path):
    result = run(args, f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    assert result.returncode == 0
    assert "usage: finops-bot" in result.stdout


def test_console_state_persists_across_processes(fresh_url: str, tmp_path: Path):
    first = run(
        ["console"],
        fresh_url,
        tmp_path,
        stdin=(
            "win Rightsized 40 dev VMs $3,200/mo #usage-optimization\n"
            "win Deleted idle disks 1.5k USD one-time\n"
            'poll "Adopt tagging policy?" "Yes" "No"\n'
        ),
    )
    assert first.returncode == 0, first.stderr
    assert "Logged win" in first.stdout
    second = run(["console", "--as", "bob"], fresh_url, tmp_path, stdin="polls\ndigest\n")
    assert second.returncode == 0, second.stderr
    assert "Adopt tagging policy?" in second.stdout
    assert "39,900 USD" in second.stdout


def test_malformed_input_answers_and_stores_nothing(fresh_url: str, tmp_path: Path):
    lines = [
        "win",
        "win $",
        "win Saved -500",
        "win " + "x" * 5000,
        'poll "Only one?" "Yes"',
        'poll "Unclosed "Yes" "No',
        "vote abc",
        "frobnicate",
        "config colour blue",
    ]
    result = run(["console"], fresh_url, tmp_path, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.count("Usage:") >= 8
    assert "Unknown command 'frobnicate'" in result.stdout
    check = run(["console"], fresh_url, tmp_path, stdin="wins all\npolls\n")
    assert "none yet" in check.stdout and "No open polls" in check.stdout


def test_db_upgrade_reports_the_revision(fresh_url: str, tmp_path: Path):
    result = run(["db", "upgrade"], fresh_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"schema revision {head_revision()}" in result.stdout


def test_bad_database_url_is_a_clear_error(tmp_path: Path):
    result = run(["db", "upgrade"], "mysql://u@h/db", tmp_path)
    assert result.returncode == 2
    assert "supported: sqlite and postgresql" in result.stderr
    assert "Traceback" not in result.stderr


def test_default_database_is_a_sqlite_file_in_the_working_directory(tmp_path: Path):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [*BOT, "console"],
        input="win Saved $5\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "finops-bot.db").exists()
    assert (tmp_path / "finops-bot.db.secret").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_healthz(fresh_url: str, tmp_path: Path):
    port = _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": fresh_url,
        "FINOPS_SECRET_KEY": TEST_SECRET_KEY,
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    server = subprocess.Popen(
        [*BOT, "serve"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = asyncio.run(_poll_healthz(port, server))
        assert body == {"status": "ok", "database": "ok"}
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "Traceback" not in output


async def _poll_healthz(port: int, server: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise AssertionError(f"server exited: {server.stdout.read()}")  # type: ignore[union-attr]
            try:
                async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                    assert response.status == 200
                    return await response.json()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)
    raise AssertionError("server did not answer /healthz within 60 s")


def test_unreachable_database_is_a_clear_error(tmp_path: Path):
    port = _free_port()  # nothing listens there
    result = run(["db", "upgrade"], f"postgresql://u:hunter2@127.0.0.1:{port}/db", tmp_path)
    assert result.returncode == 2
    assert "cannot use the database at postgresql://u:***@127.0.0.1" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args", [["console"], ["db", "upgrade"], ["schedule", "list"], ["outbox"], ["serve"]]
)
def test_postgres_without_secret_key_is_refused_before_any_write(args: list[str], tmp_path: Path):
    environment = {**os.environ, "DATABASE_URL": "postgresql://u@127.0.0.1:1/db"}
    environment.pop("FINOPS_SECRET_KEY", None)
    result = subprocess.run(
        [*BOT, *args],
        input="help\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 2
    assert "FINOPS_SECRET_KEY must be set with PostgreSQL" in result.stderr


def test_sqlite_file_in_a_new_directory(tmp_path: Path):
    result = run(
        ["console"], f"sqlite:///{tmp_path / 'data' / 'bot.db'}", tmp_path, stdin="win Saved $5\n"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "bot.db").exists()


def test_db_revision_finds_no_drift(tmp_path: Path):
    result = run(["db", "revision", "-m", "nothing"], f"sqlite:///{tmp_path / 'r.db'}", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No model changes to migrate." in result.stdout


def test_schedule_list_prints_each_schedule_and_its_next_run(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert run(["db", "upgrade"], url, tmp_path).returncode == 0
    assert "No schedules" in run(["schedule", "list"], url, tmp_path).stdout
    run(["console"], url, tmp_path, stdin="digest schedule monday 09:00 Europe/Paris\n")
    listed = run(["schedule", "list"], url, tmp_path)
    assert listed.returncode == 0
    assert "digest  every Monday 09:00 Europe/Paris  next Mon" in listed.stdout
    run(["console"], url, tmp_path, stdin="committee meeting tuesday 15:00 monthly UTC\n")
    listed = run(["schedule", "list"], url, tmp_path)
    assert "committee  first Tuesday 15:00 UTC  next Tue" in listed.stdout


def test_teams_package_out_to_a_new_folder_and_a_missing_parent(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    made = run(["teams-package", "--app-id", APP_ID_FOR_CLI, "--out", "newdir/"], url, tmp_path)
    assert made.returncode == 0, made.stderr
    assert [p.name for p in (tmp_path / "newdir").iterdir()] == ["finops-community-bot-teams.zip"]
    missing = run(["teams-package", "--app-id", APP_ID_FOR_CLI, "--out", "no/such/"], url, tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command",
    [
        ["schedule", "list"],
        ["outbox"],
        ["outbox", "retry", "1"],
        ["export", "wins", "--workspace", "console:acme"],
        ["focus", "import", "--watch", "."],
    ],
    ids=lambda words: " ".join(words),
)
def test_read_only_and_operator_commands_never_create_or_migrate_a_database(
    tmp_path: Path, command: list[str]
):
    """Only `db upgrade`, `serve` and `console` migrate: the others refuse, in one line, a
    database that is missing or behind, and leave it exactly as it was."""
    missing = tmp_path / "missing.db"
    result = run(command, f"sqlite:///{missing}", tmp_path)
    assert result.returncode == 1 and not missing.exists()
    assert "Run `finops-bot db upgrade` first" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    behind = tmp_path / "behind.db"
    url = f"sqlite:///{behind}"
    assert run(["db", "upgrade"], url, tmp_path).returncode == 0
    with sqlite3.connect(behind) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0013'")
    result = run(command, url, tmp_path)
    assert result.returncode == 1 and "at schema revision 0013" in result.stderr
    with sqlite3.connect(behind) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("0013",)
        ]


def test_outbox_retry_of_unknown_ids_exits_non_zero(fresh_url: str, tmp_path: Path):
    assert run(["db", "upgrade"], fresh_url, tmp_path).returncode == 0
    result = run(["outbox", "retry", "9999"], fresh_url, tmp_path)
    assert result.returncode == 1
    assert "not dead messages" in result.stderr


APP_ID_FOR_CLI = "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    "args", [["serve", "--port", "70000"], ["serve", "--port", "x"], ["frobnicate"]]
)
def test_an_invalid_argument_exits_2_with_one_line(args: list[str], tmp_path: Path):
    result = run(args, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_says_so(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            ["serve", "--port", str(port)],
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            tmp_path,
            HOST="127.0.0.1",
        )
    assert result.returncode == 1, result.stderr
    assert f"port 127.0.0.1:{port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr and "cannot use the database" not in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "changeme",
        "a" * 64,
        "abc" * 20,
        "test-secret-key",
        "correct horse battery staple",
        "Abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "ThisIsMyVeryOwnLongSecretForTheFinopsBot2026",
    ],
)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"]])
def test_a_weak_secret_key_is_refused_before_anything_starts(
    key: str, command: list[str], tmp_path: Path
):
    result = run(command, f"sqlite:///{tmp_path / 'bot.db'}", tmp_path, FINOPS_SECRET_KEY=key)
    assert result.returncode == 2, result.stderr
    assert "FINOPS_SECRET_KEY is too weak" in result.stderr
    assert "python -c 'import secrets; print(secrets.token_urlsafe(32))'" in result.stderr
    if len(key) > 8:
        assert key not in result.stderr  # never echoed
    assert not (tmp_path / "bot.db").exists()  # refused before the database was touched


def test_generated_keys_are_accepted():
    import secrets

    from storage.secret import key_problem

    for _ in range(2000):
        for key in (secrets.token_urlsafe(32), secrets.token_hex(32), secrets.token_urlsafe(64)):
            assert key_problem(key) is None, key


def test_a_key_file_others_can_read_is_made_private_with_a_warning(tmp_path: Path, caplog):
    from storage.secret import load_voter_key

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    first = load_voter_key("", url)
    path = tmp_path / "bot.db.secret"
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    assert load_voter_key("", url) == first  # the same key, now private again
    assert path.stat().st_mode & 0o777 == 0o600
    assert "was readable by other users" in caplog.text and "delete it" in caplog.text


def test_a_key_file_without_a_full_key_is_refused(tmp_path: Path):
    secret = tmp_path / "bot.db.secret"
    secret.write_text("abcd\n")
    secret.chmod(0o600)
    result = run(["console"], f"sqlite:///{tmp_path / 'bot.db'}", tmp_path, FINOPS_SECRET_KEY="")
    assert result.returncode == 2, result.stderr
    assert "does not hold a 32-byte key" in result.stderr
