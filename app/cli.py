"""`finops-bot`: console, serve, work, db, schedule, outbox, export, focus, teams-package."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, NoReturn
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from app.database import open_database
from bot.settings import Settings
from storage.engine import DatabaseURLError, shown_url
from storage.migrate import SchemaNotCurrent
from storage.secret import MissingSecretKey


def _version() -> str:
    try:
        return version("finops-community-bot")
    except PackageNotFoundError:
        return "unknown"


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return int(text)


class _Parser(argparse.ArgumentParser):
    """Bad arguments: exit 2 with one line naming the problem (`--help` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="finops-bot",
        description="FinOps community bot: wins, polls, digests, learning and the steering "
        "committee, on Slack, Microsoft Teams and a local console. Settings come from the "
        "environment or a .env file (see the README).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    console = commands.add_parser(
        "console",
        help="chat with the bot in this terminal (SQLite by default, no credentials)",
        description="Chat with the bot locally. Reads commands from standard input when it is "
        "not a terminal, one per line, and exits 0 at the end of input.",
    )
    console.add_argument(
        "--as",
        dest="as_user",
        metavar="NAME",
        help="act as another person (not an admin unless in FINOPS_ADMINS)",
    )

    serve = commands.add_parser(
        "serve",
        help="run the HTTP server (GET /healthz; the platform adapters mount on it)",
        description="Run the bot's HTTP server on HOST:PORT (default 0.0.0.0:3978).",
    )
    serve.add_argument("--port", type=_port, help="override PORT")
    commands.add_parser(
        "work",
        help="work off stored requests, the outbox and the schedules (no HTTP)",
        description="A worker process: `serve` with FINOPS_WORKERS=N starts N of these itself; "
        "run more on other machines against the same PostgreSQL database if you like.",
    )

    db = commands.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser(
        "upgrade",
        help="apply the schema migrations (also done at start-up)",
        description="Apply every pending Alembic migration to DATABASE_URL.",
    )
    revision = db_commands.add_parser(
        "revision",
        help="(developers) write a migration for model changes",
        description="Upgrade DATABASE_URL, compare it with storage/models.py and write a new "
        "Alembic migration into storage/migrations/versions for the differences.",
    )
    revision.add_argument("-m", "--message", required=True, help="what the change does")

    schedule = commands.add_parser(
        "schedule", help="scheduled posts", description="Scheduled posts (the weekly digest)."
    )
    schedule_commands = schedule.add_subparsers(
        dest="schedule_command", metavar="ACTION", required=True
    )
    schedule_commands.add_parser(
        "list",
        help="every schedule and its next run",
        description="Print every workspace's schedules, on or off, with their next run time.",
    )

    queue = commands.add_parser(
        "outbox",
        help="messages waiting to be sent, and failed ones",
        description="Everything the bot sends on its own goes through the outbox. Without an "
        "action: a count per status and the latest dead (undeliverable) messages.",
    )
    queue_commands = queue.add_subparsers(dest="outbox_command", metavar="ACTION")
    listing = queue_commands.add_parser(
        "list", help="list messages", description="List the latest messages, newest first."
    )
    listing.add_argument("--status", choices=["pending", "sending", "sent", "dead"])
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    again = queue_commands.add_parser(
        "retry",
        help="queue dead messages again",
        description="Give dead messages a fresh set of attempts.",
    )
    again.add_argument("ids", nargs="*", type=int, metavar="ID", help="outbox ids (see list)")
    again.add_argument("--all-dead", action="store_true", help="every dead message")

    export = commands.add_parser(
        "export",
        help="write a workspace's wins or poll results as CSV",
        description="Write the wins (every win still counted) or the poll results (votes per "
        "option; anonymous polls: counts only) of one workspace as CSV, safe to open in a "
        "spreadsheet: cells that would start a formula are prefixed with '.",
    )
    export.add_argument("kind", choices=["wins", "polls"], help="what to export")
    export.add_argument(
        "--workspace",
        required=True,
        metavar="PLATFORM:ID",
        help="e.g. slack:T0123ABC, teams:<tenant id>, console:local",
    )
    export.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")

    focus = commands.add_parser(
        "focus",
        help="import FOCUS cloud cost exports",
        description="Cloud cost data in the FinOps Open Cost and Usage Specification (FOCUS).",
    )
    focus_commands = focus.add_subparsers(dest="focus_command", metavar="ACTION", required=True)
    focus_import = focus_commands.add_parser(
        "import",
        help="import FOCUS exports (CSV, .csv.gz, Parquet; FOCUS 1.0 to 1.4)",
        description="Read FOCUS cost and usage exports and store their daily aggregates. Give "
        "files or directories (their .csv, .csv.gz and .parquet files are read). Importing an "
        "export again replaces its provider's days instead of adding to them. A file missing "
        "a required column is refused and nothing is changed (exit status 1).",
    )
    focus_import.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    focus_import.add_argument(
        "--workspace",
        metavar="PLATFORM:ID",
        help="only this workspace sees the data (default: every workspace the bot serves)",
    )
    focus_import.add_argument(
        "--watch",
        type=Path,
        metavar="DIR",
        help="also import what is in DIR now, and let `serve` import new exports there",
    )
    focus_import.add_argument(
        "--unwatch", type=Path, metavar="DIR", help="stop watching DIR (imports nothing)"
    )

    package = commands.add_parser(
        "teams-package",
        help="write the Teams app package (zip) to upload",
        description="Write manifest.json (with your bot's app id) and the two icons into the zip "
        "you upload in Teams (Apps > Manage your apps > Upload an app).",
    )
    package.add_argument("--app-id", help="the bot's Microsoft App ID (default: MicrosoftAppId)")
    package.add_argument("--out", default=".", help="a .zip path or a folder (default: here)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
        print(f"finops-bot: invalid settings: {problems}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level != "DEBUG":  # Alembic's INFO lines are plumbing, not news
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "console":
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        if args.command not in ("teams-package",):  # the key before anything is written
            _check_secret_key(settings)
        return _dispatch(args, settings)
    except (DatabaseURLError, MissingSecretKey) as error:
        print(f"finops-bot: {error}", file=sys.stderr)
        return 2
    except SchemaNotCurrent as error:  # only `db upgrade`, serve and console migrate
        print(f"finops-bot: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `finops-bot export wins | head`: the reader left, say nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 0
    except (OSError, SQLAlchemyError) as error:
        cause = getattr(error, "orig", None) or error
        where = shown_url(settings.database_url)
        print(f"finops-bot: cannot use the database at {where}: {cause}", file=sys.stderr)
        return 2


def _check_secret_key(settings: Settings) -> None:
    """Every command refuses a weak FINOPS_SECRET_KEY, and on PostgreSQL a missing one, before
    it creates or changes a schema (SQLite keeps a key file beside the database)."""
    from storage.engine import async_url
    from storage.secret import check_secret_key, load_voter_key

    if settings.secret_key:
        check_secret_key(settings.secret_key)
    if async_url(settings.database_url).get_backend_name() == "postgresql":
        load_voter_key(settings.secret_key, settings.database_url)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "console":
        from app.console import run

        return run(settings, args.as_user)
    if args.command == "serve":
        from aiohttp import web

        from app.server import create_app
        from bot.dashboard.routes import RedactingAccessLogger

        if args.port:  # dashboard links name the port the bot really listens on
            settings = settings.model_copy(update={"port": args.port})
        try:
            role: Literal["intake", "all"] = "intake" if settings.workers else "all"
            web.run_app(
                create_app(settings, role=role),
                host=settings.host,
                port=settings.port,
                print=None,
                access_log_class=RedactingAccessLogger,  # no dashboard tokens in the logs
            )
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            where = f"{settings.host}:{settings.port}"
            print(f"finops-bot: port {where} is already in use", file=sys.stderr)
            return 1
        return 0
    if args.command == "work":
        return asyncio.run(_work(settings))
    if args.command == "outbox":
        return _outbox(args, settings)
    if args.command == "schedule":
        return asyncio.run(_schedule_list(settings))
    if args.command == "teams-package":
        return _teams_package(args, settings)
    if args.command == "export":
        return _export(args, settings)
    if args.command == "focus":
        from bot.costs import cli as focus_cli

        problem = focus_cli.check(args)
        if problem is not None:
            return problem
        return asyncio.run(_with_database(settings, focus_cli.run, args))
    if args.command == "db" and args.db_command == "revision":
        return asyncio.run(_db_revision(settings, args.message))
    if args.command == "db":
        return asyncio.run(_db_upgrade(settings))
    return 2


async def _work(settings: Settings) -> int:
    """The app's start-up and shut-down without serving it: work until SIGTERM or SIGINT (or
    exit with the `serve` process that started this one)."""
    import signal

    from aiohttp import web

    from app.server import create_app
    from app.workers import watch_parent

    runner = web.AppRunner(create_app(settings, role="worker"))
    await runner.setup()  # migrations (already current), adapters, intake, outbox, schedules
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(watch_parent())
    await stop.wait()
    watcher.cancel()
    await runner.cleanup()  # finishes the work it claimed (up to 20 s), like `serve`
    return 0


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    from bot import outbox_admin

    if args.outbox_command == "retry":
        if bool(args.ids) == args.all_dead:
            print("finops-bot: give outbox ids or --all-dead (not both)", file=sys.stderr)
            return 2
        return asyncio.run(_with_database(settings, outbox_admin.retry, args.ids or None))
    if args.outbox_command == "list":
        return asyncio.run(_with_database(settings, outbox_admin.show, args.status, args.limit))
    return asyncio.run(_with_database(settings, outbox_admin.show, "dead", 20))


async def _with_database(
    settings: Settings, command: Callable[..., Awaitable[int]], *args: Any, **kwargs: Any
) -> int:
    """Run `command(database, *args, **kwargs)` on the settings' database (its schema must be
    current)."""
    async with open_database(settings) as database:
        return await command(database, *args, **kwargs)


async def _db_upgrade(settings: Settings) -> int:
    from storage.migrate import head_revision

    async with open_database(settings, migrate=True):
        pass  # migrated to the newest revision on opening
    print(f"Database is at schema revision {head_revision()}.")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.dashboard import exports

    try:
        return asyncio.run(
            _with_database(settings, exports.export, args.kind, args.workspace, out=args.out)
        )
    except (ValueError, exports.UnknownWorkspace) as error:
        print(f"finops-bot: {error}", file=sys.stderr)
        return 2


def _teams_package(args: argparse.Namespace, settings: Settings) -> int:
    import os
    from pathlib import Path

    from adapters.teams.package import build_package

    app_id = args.app_id or settings.microsoft_app_id
    if not app_id:
        print("finops-bot: give --app-id or set MicrosoftAppId", file=sys.stderr)
        return 2
    try:
        out = Path(args.out)
        if args.out.endswith(("/", os.sep)):  # `--out newdir/`: a folder, made if need be
            out.mkdir(exist_ok=True)
        path = build_package(app_id, out)
    except (ValueError, FileNotFoundError) as error:
        print(f"finops-bot: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {path}: upload it in Teams (Apps > Manage your apps > Upload an app).")
    return 0


async def _schedule_list(settings: Settings) -> int:
    from bot import recurrence_times as times
    from bot.parsing.when import describe
    from storage.schedules import all_with_workspaces

    async with open_database(settings) as database, database.session() as session:
        rows = await all_with_workspaces(session)
    if not rows:
        print("No schedules. In chat, an admin says: digest schedule monday 09:00")
        return 0
    now = datetime.now(UTC)
    for schedule, workspace in rows:
        rhythm = times.meetings(
            schedule.weekday,
            schedule.at,
            schedule.timezone,
            cadence=schedule.cadence,
            anchor=schedule.anchor,
        )
        upcoming = times.next_meeting(rhythm, now)
        when = describe(upcoming, ZoneInfo(schedule.timezone))
        state = f"next {when}" if schedule.enabled else "off"
        every = {"weekly": "every", "biweekly": "every other", "monthly": "first"}
        print(
            f"{workspace.platform}:{workspace.external_id}  {schedule.kind}  "
            f"{every.get(schedule.cadence, 'every')} "
            f"{times.WEEKDAY_NAMES[schedule.weekday]} {schedule.at} {schedule.timezone}  "
            f"{state}"
        )
    return 0


async def _db_revision(settings: Settings, message: str) -> int:
    from storage.migrate import write_revision

    async with open_database(settings, migrate=True) as database:
        path = await write_revision(database, message)
    print(f"Wrote {path}; read it, then commit it." if path else "No model changes to migrate.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
