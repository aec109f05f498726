"""HTML from the Jinja2 templates in bot/dashboard/templates, with autoescaping on: every
string from the database (win texts, names, questions, digests) is escaped when it is
written into the page, never before."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.dashboard.data import PERIODS, Dashboard, DigestPage
from bot.dashboard.links import dashboard_path

STATIC = "dashboard/static"  # under the public path prefix
SCREEN_REFRESH_SECONDS = 120  # a screen link's page reloads itself (meta refresh, no script)


def chart_caption(alt: str) -> str:
    """A chart's description as a caption, said once: "Chart: weekly cost …" (the stored alt
    text may already start with "Chart:")."""
    text = alt.strip()
    if text.lower().startswith("chart:"):
        text = text[len("chart:") :].strip()
    return f"Chart: {text}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("bot.dashboard", "templates"),
        autoescape=True,  # every template is HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["chart_caption"] = chart_caption
    return env


@cache
def stylesheet() -> bytes:
    return files("bot.dashboard").joinpath("static/dashboard.css").read_bytes()


@cache
def favicon() -> bytes:
    """The icon browsers ask for (`/favicon.ico`, and linked from every page): a small SVG."""
    return files("bot.dashboard").joinpath("static/favicon.svg").read_bytes()


def dashboard_page(
    data: Dashboard, token: str, prefix: str, *, expires: str, screen: int | None = None
) -> str:
    """The wins wall; for a screen link (`screen` its id) a page that reloads itself."""

    def link(page: str = "", **params: str) -> str:
        return dashboard_path(prefix, token, page, **params)

    return (
        environment()
        .get_template("dashboard.html")
        .render(
            d=data,
            link=link,
            periods=PERIODS,
            expires=expires,
            static=f"{prefix}/{STATIC}",
            screen=screen,
            refresh=SCREEN_REFRESH_SECONDS if screen is not None else 0,
        )
    )


def digest_page(page: DigestPage, token: str, prefix: str, *, expires: str) -> str:
    def link(page: str = "", **params: str) -> str:
        return dashboard_path(prefix, token, page, **params)

    blocks = [(type(block).__name__, block) for block in page.blocks]
    return (
        environment()
        .get_template("digest.html")
        .render(
            p=page,
            blocks=blocks,
            link=link,
            expires=expires,
            static=f"{prefix}/{STATIC}",
            charts=f"{prefix}/charts",  # bot/costs/routes.py, under the public path prefix
        )
    )


def denied_page(reason: str, prefix: str) -> str:
    return (
        environment().get_template("denied.html").render(reason=reason, static=f"{prefix}/{STATIC}")
    )
