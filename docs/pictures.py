"""Makes the README's pictures from generated data, so they show the bot as it is today.

    .venv/bin/python docs/pictures.py [folder]      (default: docs/images)

It starts the bot in this process on a new SQLite file (as the tests do, `running_bot`), logs a
year of wins, polls, metrics and decisions through the console on a fixed clock (the same data
and the same clock give the same pictures), then, in Debian's Chromium (/usr/bin/chromium,
driven by Playwright; no browser is downloaded), takes:

- `wall-desktop.png`: the wins wall at 1440x900, the first screen;
- `wall-phone.png`: the wins wall at 390x844, its first three screens (390x2532);
- `teams-card.png`: the win celebration's Adaptive Card, exactly the JSON the Teams adapter posts,
  drawn by Microsoft's `adaptivecards` renderer (the npm packages of tests/cardrender, installed
  there as the card tests install them);
- `slack-message.png`: the win celebration's Block Kit, exactly the JSON the Slack adapter
  posts, drawn by the small mock-up below (Slack has no public renderer; this is not Slack's
  client).

Needs the test extras (`pip install -e '.[test]'`, as `make test` does), Chromium, node and npm.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import html
import re
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.helpers and tests.card_render

from adapters.console.adapter import ConsoleSession  # noqa: E402
from adapters.slack.render import message_payload  # noqa: E402
from adapters.teams.render import activity_fields  # noqa: E402
from app.server import BOT  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.helpers import TEST_SECRET_KEY, migrate, running_bot  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CARDRENDER = ROOT / "tests" / "cardrender"
WORKSPACE = "finops-demo"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday
DESKTOP, PHONE = (1440, 900), (390, 844)  # viewports, in CSS pixels (device scale 1)
# The phone picture is the page's first three screens: the whole page (the latest 24 wins, the
# committee, decisions, metrics, archive) is some 8,000 px tall and over 700 KB as a PNG.
PHONE_SCREENS = 3
CARD_SCALE = 2  # the Slack and Teams pictures are small: drawn at twice the CSS pixels


class Clock:
    """The running bot's clock, moved by the script."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


# (when, who types it, what): a year of a FinOps practice, in USD and EUR.
STORY: list[tuple[str, str, str]] = [
    ("2026-01-05 09:00", "ada", "committee add @ada practitioner"),
    ("2026-01-05 09:01", "ada", "committee add @maria finance"),
    ("2026-01-05 09:02", "ada", "committee add @chen engineering"),
    ("2026-01-05 09:03", "ada", "committee add @priya leadership"),
    ("2026-01-05 09:04", "ada", "metric unit-cost direction lower"),
    ("2026-01-05 09:05", "ada", "config wins-channel #finops-wins"),
    ("2025-12-09 10:00", "bob", "win Deleted idle disks $400/mo #usage-optimization"),
    (
        "2026-01-14 10:00",
        "maria",
        "win Bought a 1-year compute savings plan $4,100/mo #commitments",
    ),
    ("2026-02-10 11:00", "jane", "win Moved build logs to cold storage €850/mo #storage-tiering"),
    ("2026-03-18 15:00", "chen", "win Dev clusters off at night $2,400/mo #scheduling @priya"),
    ("2026-04-22 14:00", "bob", "win Deleted 300 unattached volumes $1,150/mo #usage-optimization"),
    ("2026-02-24 10:00", "priya", "win Moved batch jobs to Graviton $1,700/mo #rightsizing @chen"),
    ("2026-05-12 10:00", "bob", "win Lifecycle rules on log buckets $900/mo #storage-tiering"),
    ("2026-05-27 16:00", "maria", "win Renegotiated the CDN contract €18,000/yr #commitments"),
    (
        "2026-06-16 10:00",
        "priya",
        "win Stopped an idle GPU cluster before launch $36,000 #avoidance",
    ),
    ("2026-07-08 09:30", "ada", "win Tagged 95% of production with a cost centre #tagging @jane"),
    ("2026-07-21 14:00", "chen", "win Scaled down staging databases $1,250/mo #rightsizing"),
    ("2026-08-19 13:00", "jane", "win Spot instances for CI runners €1,900/mo #usage-optimization"),
    (
        "2026-09-23 11:00",
        "chen",
        "win Removed idle load balancers $640/mo #usage-optimization @bob",
    ),
    ("2026-10-06 10:00", "jane", "win Compute savings plan for analytics $2,100/mo #commitments"),
    ("2026-10-14 15:30", "maria", "win Reserved database capacity €2,750/mo #commitments @priya"),
    ("2026-08-03 09:00", "ada", "metric coverage 58%"),
    ("2026-09-07 09:00", "ada", "metric coverage 64%"),
    ("2026-10-05 09:00", "ada", "metric coverage 69%"),
    ("2026-11-02 09:00", "ada", "metric coverage 72%"),
    ("2026-09-07 09:05", "ada", "metric unit-cost 0.42 USD"),
    ("2026-10-05 09:05", "ada", "metric unit-cost 0.39 USD"),
    ("2026-11-02 09:05", "ada", "metric unit-cost 0.35 USD"),
    ("2026-11-02 09:10", "ada", "metric untagged-spend 12%"),
    ("2026-11-16 09:10", "ada", "metric untagged-spend 8%"),
    (
        "2026-11-09 10:00",
        "ada",
        'poll "Adopt the tagging policy?" "Yes" "No" "Needs work" committee',
    ),
    ("2026-11-09 10:05", "maria", "vote 1 1"),
    ("2026-11-09 10:06", "chen", "vote 1 1"),
    ("2026-11-09 10:07", "priya", "vote 1 3"),
    ("2026-11-09 10:08", "ada", "vote 1 1"),
    ("2026-11-10 17:00", "ada", "poll close 1"),
    ("2026-11-10 17:01", "ada", "decide poll 1"),
    ("2026-11-12 11:00", "ada", 'decide "Buy 1-year savings plans only, reviewed each quarter"'),
    ("2026-11-16 09:00", "ada", "digest post"),
    ("2026-11-23 09:00", "ada", "digest post"),
    (
        "2026-11-23 10:00",
        "jane",
        "win Archived old snapshots to cold storage $1,350/mo #storage-tiering",
    ),
    (
        "2026-11-24 10:00",
        "priya",
        "win Closed idle sandbox accounts €780/mo #usage-optimization @bob",
    ),
    (
        "2026-11-24 11:00",
        "ada",
        'poll "Renew the compute savings plan for 3 years?" "Yes" "No" "Needs more data" '
        "committee closes friday 17:00",
    ),
    ("2026-11-24 11:05", "maria", "vote 2 1"),
    ("2026-11-24 11:06", "chen", "vote 2 3"),
    (
        "2026-11-24 12:00",
        "jane",
        'poll "Lunch & learn topic in December?" "Savings plans" "Spot" "Unit economics" '
        "multi anonymous",
    ),
    ("2026-11-24 12:05", "bob", "vote 3 2"),
    ("2026-11-24 12:06", "jane", "vote 3 3"),
    ("2026-11-24 12:07", "chen", "vote 3 3"),
    ("2026-11-24 12:08", "priya", "vote 3 1"),
    # The win the Slack and Teams pictures celebrate: the README's own example.
    ("2026-11-25 09:30", "ada", "win Rightsized 40 dev VMs $3,200/mo #rightsizing @jane"),
]


# What the bot answers when a line of the story did not do what it says.
FAILED = re.compile(r"^Usage: |^Only |^Unknown command|^Sorry, something went wrong", re.M)


async def tell_the_story(bot: Any, clock: Clock, verbose: bool = False) -> int:
    """Runs STORY in time order on the bot's clock; the number of the last win logged."""
    last_win = 0
    for when, who, line in sorted(STORY, key=lambda step: step[0]):
        clock.now = at(when)
        answer = "\n".join(await ConsoleSession(bot, who, WORKSPACE).say(line))
        if verbose:
            print(f"--- {when} {who}: {line}\n{answer}")
        if FAILED.search(answer):
            raise RuntimeError(f"{when} {who}: {line!r} failed:\n{answer}")
        if line.startswith("win ") and (logged := re.search(r"Logged win #(\d+)", answer)):
            last_win = int(logged[1])
    clock.now = NOW
    return last_win


# --- Slack: Block Kit as a Slack-style message (a mock-up, not Slack's client) ----------------

_SLACK_TOKEN = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_SLACK_STYLE = [
    (re.compile(r"`([^`\n]+)`"), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])"), r"<b>\1</b>"),
    (re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])"), r"<i>\1</i>"),
    (re.compile(r"(?<![\w~])~([^~\n]+)~(?![\w~])"), r"<s>\1</s>"),
]


def _slack_plain(text: str) -> str:
    """Text as Slack sent it (`&amp;`, `&lt;`, `&gt;` escaped) as HTML text."""
    return html.escape(html.unescape(text), quote=False)


def mrkdwn(text: str) -> str:
    """Slack mrkdwn as HTML: `<url|label>` links and `<@U1>` mentions (real angle brackets:
    what a person typed arrives as `&lt;`), then code, bold, italics, strikethrough."""
    parts, last = [], 0
    for token in _SLACK_TOKEN.finditer(text):
        parts.append(_slack_plain(text[last : token.start()]))
        target, label = token[1], token[2]
        if target.startswith(("@", "#", "!")):
            parts.append(f'<span class="mention">@{_slack_plain(label or target[1:])}</span>')
        else:
            href = html.escape(html.unescape(target))
            parts.append(f'<a href="{href}">{_slack_plain(label or target)}</a>')
        last = token.end()
    parts.append(_slack_plain(text[last:]))
    shown = "".join(parts)
    for pattern, replacement in _SLACK_STYLE:
        shown = pattern.sub(replacement, shown)
    return shown.replace("\n", "<br>")


def _text_object(item: dict[str, Any]) -> str:
    return mrkdwn(item["text"]) if item["type"] == "mrkdwn" else _slack_plain(item["text"])


def slack_block(block: dict[str, Any]) -> str:
    """One Block Kit block as HTML: the kinds the bot sends."""
    kind = block["type"]
    if kind == "header":
        return f'<div class="header">{_text_object(block["text"])}</div>'
    if kind == "section":
        shown = f'<div class="text">{_text_object(block["text"])}</div>' if "text" in block else ""
        if fields := block.get("fields"):
            shown += '<div class="fields">'
            shown += "".join(f"<div>{_text_object(field)}</div>" for field in fields)
            shown += "</div>"
        return f'<div class="section">{shown}</div>'
    if kind == "context":
        items = "".join(f"<span>{_text_object(item)}</span>" for item in block["elements"])
        return f'<div class="context">{items}</div>'
    if kind == "actions":
        buttons = "".join(
            f'<span class="button {element.get("style", "")}">{_text_object(element["text"])}'
            "</span>"
            for element in block["elements"]
        )
        return f'<div class="actions">{buttons}</div>'
    if kind == "divider":
        return "<hr>"
    if kind == "image":
        alt = html.escape(block["alt_text"])
        return f'<img src="{html.escape(block["image_url"])}" alt="{alt}">'
    raise ValueError(f"no mock-up for a {kind} block")


SLACK_CSS = """
body { margin: 0; background: #fff; font: 15px/1.46668 Lato, "Liberation Sans", "DejaVu Sans",
  sans-serif; color: #1d1c1d; }
.channel { width: 640px; border: 1px solid #ddd; border-radius: 8px; overflow: hidden; }
.bar { padding: 10px 16px; border-bottom: 1px solid #ddd; font-weight: 700; font-size: 16px; }
.message { display: flex; gap: 8px; padding: 12px 16px 14px; }
.avatar { flex: none; width: 36px; height: 36px; border-radius: 6px; background: #2b7a4b;
  color: #fff; font-weight: 700; display: flex; align-items: center; justify-content: center; }
.who b { font-weight: 900; } .app { font-size: 10px; font-weight: 700; background: #e8e8e8;
  color: #616061; padding: 1px 3px; border-radius: 2px; margin: 0 4px; }
.time { color: #616061; font-size: 12px; }
.header { font-size: 18px; font-weight: 900; margin: 4px 0 6px; }
.section { margin: 4px 0; } .fields { display: grid; grid-template-columns: 1fr 1fr;
  gap: 8px 16px; margin-top: 6px; }
.context { color: #616061; font-size: 12px; margin: 6px 0; }
code { font: 12px "DejaVu Sans Mono", monospace; color: #c01343; background: #f6f6f6;
  border: 1px solid #e2e2e2; border-radius: 3px; padding: 1px 3px; }
a { color: #1264a3; text-decoration: none; }
.mention { color: #1264a3; background: #e8f5fa; border-radius: 3px; padding: 0 2px; }
.actions { display: flex; gap: 8px; margin: 8px 0; }
.button { border: 1px solid #c8c8c8; border-radius: 4px; padding: 3px 12px; font-weight: 700;
  font-size: 13px; } .button.primary { background: #007a5a; color: #fff; border-color: #007a5a; }
hr { border: 0; border-top: 1px solid #ddd; }
img.emoji { width: 22px; height: 22px; vertical-align: -4px; }
"""


def slack_page(payload: dict[str, Any], channel: str) -> str:
    blocks = "".join(slack_block(block) for block in payload["blocks"])
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{SLACK_CSS}</style></head>"
        f"<body><div class='channel'><div class='bar'># {html.escape(channel)}</div>"
        "<div class='message'><div class='avatar'>F</div><div>"
        "<div class='who'><b>FinOps bot</b><span class='app'>APP</span>"
        "<span class='time'>10:00 AM</span></div>"
        f"{blocks}</div></div></div></body></html>"
    )


# --- Teams: the Adaptive Card in Microsoft's renderer -------------------------------------------

# Card text as Teams treats it (as tests/cardrender/render.js does), Teams-like fonts and colours.
TEAMS_SCRIPT = """(card) => {
  const markdown = window.markdownit({ html: true, breaks: false, linkify: false });
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    result.outputHtml = markdown.render(text);
    result.didProcess = true;
  };
  const rendered = new AdaptiveCards.AdaptiveCard();
  rendered.hostConfig = new AdaptiveCards.HostConfig({
    fontFamily: "'Segoe UI', 'Liberation Sans', 'DejaVu Sans', sans-serif",
    containerStyles: { default: { backgroundColor: "#FFFFFF",
      foregroundColors: { default: { default: "#242424", subtle: "#616161" } } } },
  });
  rendered.parse(card, new AdaptiveCards.SerializationContext());
  document.querySelector(".card").appendChild(rendered.render());
}"""
TEAMS_CSS = """
body { margin: 0; background: #f5f5f5; font: 14px "Segoe UI", "Liberation Sans", sans-serif;
  color: #242424; }
.post { width: 600px; padding: 16px; display: flex; gap: 10px; }
.avatar { flex: none; width: 32px; height: 32px; border-radius: 50%; background: #5b5fc7;
  color: #fff; font-weight: 700; display: flex; align-items: center; justify-content: center; }
.who { margin-bottom: 6px; } .who b { font-weight: 600; } .time { color: #616161;
  font-size: 12px; margin-left: 8px; }
.card { background: #fff; border-radius: 6px; box-shadow: 0 1px 2px rgba(0,0,0,.14); width: 540px;
  overflow: hidden; }
img.emoji { width: 24px; height: 24px; vertical-align: -4px; }
"""
TEAMS_PAGE = (
    f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{TEAMS_CSS}</style></head><body>"
    "<div class='post'><div class='avatar'>F</div><div><div class='who'><b>FinOps bot</b>"
    "<span class='time'>Wednesday 10:00</span></div><div class='card'></div></div></div>"
    "</body></html>"
)

# Slack and Teams draw emoji as pictures of their own; the machines that make these pictures
# have no emoji font (as a kiosk may not), so the one emoji the celebration carries is drawn.
PARTY_POPPER = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 36 36">'
    b'<path d="M4 33 L12 9 L27 24 Z" fill="#f4900c"/>'
    b'<path d="M8 21 L16 29 M10 15 L21 26" stroke="#ffcc4d" stroke-width="2.5"/>'
    b'<circle cx="24" cy="6" r="2.5" fill="#dd2e44"/><circle cx="31" cy="14" r="2.5" '
    b'fill="#55acee"/><circle cx="20" cy="13" r="2" fill="#77b255"/>'
    b'<path d="M16 4 q3 3 0 6 M28 28 q3-3 6 0 M26 10 q4-1 5-5" stroke="#aa8dd8" '
    b'stroke-width="2" fill="none"/></svg>'
).decode("ascii")
EMOJI_AS_PICTURES = """(source) => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  while (walker.nextNode()) if (walker.currentNode.textContent.includes("\\u{1F389}"))
    found.push(walker.currentNode);
  for (const node of found) {
    const parts = node.textContent.split("\\u{1F389}");
    const replaced = document.createDocumentFragment();
    parts.forEach((part, index) => {
      if (index) {
        const image = document.createElement("img");
        Object.assign(image, { src: source, alt: "party popper", className: "emoji" });
        replaced.append(image);
      }
      replaced.append(part);
    });
    node.replaceWith(replaced);
  }
  return found.length;
}"""


# --- The run -----------------------------------------------------------------------------------


def missing() -> list[str]:
    """What this machine lacks to make the pictures."""
    lacking = [] if CHROMIUM.exists() else [f"{CHROMIUM} (apt-get install chromium)"]
    return lacking + [
        f"{tool} (apt-get install nodejs npm)"
        for tool in ("node", "npm")
        if shutil.which(tool) is None
    ]


async def make(folder: Path, verbose: bool = False) -> list[Path]:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as temporary:
        url = f"sqlite:///{Path(temporary) / 'pictures.db'}"
        await migrate(url)
        settings = Settings(
            DATABASE_URL=url, FINOPS_ADMINS="ada", FINOPS_SECRET_KEY=TEST_SECRET_KEY, _env_file=None
        )
        async with running_bot(settings) as (client, _tasks), async_playwright() as playwright:
            bot = client.server.app[BOT]
            clock = Clock(NOW)
            bot.clock = clock
            win = await tell_the_story(bot, clock, verbose)
            answer = "\n".join(await ConsoleSession(bot, "ada", WORKSPACE).say("dashboard"))
            link = urlsplit(re.search(r"(http\S+/dashboard\?t=\S+)", answer)[1])  # type: ignore[index]
            wall = f"{client.make_url(link.path)}?{link.query}&period=year"
            celebration = await bot.view(
                ConsoleSession(bot, "ada", WORKSPACE).actor(), f"win:{win}"
            )

            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
            try:
                return await shoot(browser, folder, wall, celebration)
            finally:
                await browser.close()


async def shoot(browser: Any, folder: Path, wall: str, celebration: Any) -> list[Path]:
    made = []
    options = {"reduced_motion": "reduce", "color_scheme": "light"}
    page = await browser.new_page(viewport={"width": DESKTOP[0], "height": DESKTOP[1]}, **options)
    await page.goto(wall)
    made.append(folder / "wall-desktop.png")
    await page.screenshot(path=str(made[-1]))
    phone = await browser.new_page(viewport={"width": PHONE[0], "height": PHONE[1]}, **options)
    await phone.goto(wall)
    made.append(folder / "wall-phone.png")
    top = {"x": 0, "y": 0, "width": PHONE[0], "height": PHONE[1] * PHONE_SCREENS}
    await phone.screenshot(path=str(made[-1]), clip=top, full_page=True)

    cards = await browser.new_page(
        viewport={"width": 640, "height": 400}, device_scale_factor=CARD_SCALE
    )
    await cards.set_content(TEAMS_PAGE)
    dist = CARDRENDER / "node_modules"
    await cards.add_script_tag(path=str(dist / "markdown-it" / "dist" / "markdown-it.min.js"))
    await cards.add_script_tag(path=str(dist / "adaptivecards" / "dist" / "adaptivecards.min.js"))
    card = activity_fields(celebration)["attachments"][0]["content"]  # what Teams is sent
    await cards.evaluate(TEAMS_SCRIPT, card)
    await cards.evaluate(EMOJI_AS_PICTURES, PARTY_POPPER)
    made.append(folder / "teams-card.png")
    await cards.locator(".post").screenshot(path=str(made[-1]))

    slack = await browser.new_page(
        viewport={"width": 700, "height": 400}, device_scale_factor=CARD_SCALE
    )
    await slack.set_content(slack_page(message_payload(celebration), "finops-wins"))
    await slack.evaluate(EMOJI_AS_PICTURES, PARTY_POPPER)
    made.append(folder / "slack-message.png")
    await slack.locator(".channel").screenshot(path=str(made[-1]))
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--verbose", action="store_true", help="print the console transcript")
    arguments = parser.parse_args(argv)
    folder = arguments.folder
    if lacking := missing():
        print("cannot make the pictures; missing: " + ", ".join(lacking), file=sys.stderr)
        return 2
    from tests.card_render import install

    install()  # the npm packages of tests/cardrender, as the card tests install them
    folder.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(make(folder, arguments.verbose)):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
