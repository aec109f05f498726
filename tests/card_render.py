"""Microsoft's Adaptive Cards renderer (npm `adaptivecards`, in jsdom), run with node.

`tests/cardrender/` holds the node side: `package.json` and its lock pin the renderer, jsdom and
markdown-it, and `render.js` turns a JSON array of cards into their HTML. The npm packages are
installed there by the first test that needs them (`npm ci`, again whenever the lock changes),
so a clean clone needs nothing by hand. Without node or npm the tests are skipped with the
reason; under CI=true that fails instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import IN_CI

FOLDER = Path(__file__).parent / "cardrender"
LOCK = FOLDER / "package-lock.json"
STAMP = FOLDER / "node_modules" / ".finops-lock-sha256"  # the lock the install came from
# Elements that start a new line when the HTML is shown.
BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "button",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "label",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true the card rendering tests must run", pytrace=False)
    pytest.skip(reason)


def install() -> Path:
    """`tests/cardrender` with its npm packages installed; the node executable's path."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("node and npm are needed to run Microsoft's Adaptive Cards renderer")
    assert node is not None and npm is not None
    wanted = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    # pytest-xdist workers may get here at once: one installs (holding a lock on the lock file),
    # the others wait for it and then find the stamp.
    with LOCK.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not STAMP.exists() or STAMP.read_text().strip() != wanted:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=FOLDER,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                pytest.fail(
                    f"npm ci in {FOLDER} failed:\n{done.stdout}\n{done.stderr}", pytrace=False
                )
            STAMP.write_text(wanted)
    return Path(node)


def render(node: Path, cards: list[dict[str, Any]]) -> list[Rendered]:
    """Each card as Microsoft's renderer shows it."""
    done = subprocess.run(
        [str(node), str(FOLDER / "render.js")],
        input=json.dumps(cards),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    rendered = []
    for card, result in zip(cards, results, strict=True):
        assert "error" not in result, f"{result['error']}\n{json.dumps(card)[:2000]}"
        rendered.append(Rendered.of(result["html"]))
    return rendered


def normal(text: str) -> str:
    """Whitespace (no-break spaces included) collapsed, as a reader sees it."""
    return " ".join(text.replace("\xa0", " ").split())


@dataclass
class Rendered:
    html: str
    lines: list[str] = field(default_factory=list)  # the text, cut where the HTML breaks lines
    links: list[tuple[str, str]] = field(default_factory=list)  # (href, the link's text)

    @classmethod
    def of(cls, html: str) -> Rendered:
        reader = _Reader()
        reader.feed(html)
        reader.close()
        reader.cut()
        return cls(html, [line for line in reader.lines if line], reader.links)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._line: list[str] = []
        self._href: str | None = None
        self._link_text: list[str] = []

    def cut(self) -> None:
        self.lines.append(normal("".join(self._line)))
        self._line = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            self.cut()
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self.cut()
        if tag == "a" and self._href is not None:
            self.links.append((self._href, normal("".join(self._link_text))))
            self._href = None

    def handle_data(self, data: str) -> None:
        self._line.append(data)
        if self._href is not None:
            self._link_text.append(data)


URL = re.compile(r"https?://[^\s<>\"'`]+")


def urls_in(text: str) -> list[str]:
    """The URLs a reader sees in a line, without the punctuation after them."""
    found = []
    for match in URL.finditer(text):
        url = match[0].rstrip(".,;:!?")
        while url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1]
        found.append(url)
    return found
