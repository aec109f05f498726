"""The dashboard in a real headless Chromium (Debian's, driven by Playwright; no browser is
downloaded): a person asks for the link in chat, opens it, sees the win just logged, and a
`<script>` in a win shows as text. An expired or forged link shows nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adapters.console.adapter import ConsoleSession
from app.server import BOT
from bot.dashboard.links import LinkSigner
from bot.settings import Settings
from tests.helpers import IN_CI, running_bot

pytestmark = pytest.mark.slow  # a real Chromium

CHROMIUM = Path("/usr/bin/chromium")
XSS = "<script>alert('xss')</script> Cleaned up buckets"


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium: skipped without it, but under CI=true (.ci/run installs it) a
    missing browser fails the run."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium (Playwright downloads nothing)"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true the browser tests must run", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def test_a_person_opens_the_link_and_sees_the_wall(
    browser, settings: Settings, workspace: str, tmp_path: Path
):
    async with running_bot(settings) as (client, _tasks):
        bot = client.server.app[BOT]
        person = ConsoleSession(bot, "ada", workspace)
        await person.say("win Rightsized 40 dev VMs $3,200/mo #rightsizing @jane")
        await person.say(f"win {XSS} $250/mo")
        await person.say("committee add @maria finance")
        answer = "\n".join(await person.say("dashboard"))
        link = urlsplit(re.search(r"(http\S+/dashboard\?t=\S+)", answer)[1])  # type: ignore[index]
        url = f"{client.make_url(link.path)}?{link.query}"  # the same link, on the test server

        page = await browser.new_page(
            viewport={"width": 1280, "height": 900}, reduced_motion="reduce"
        )
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        response = await page.goto(url)
        assert response is not None and response.status == 200
        assert await page.get_by_role("heading", name="Wins wall", level=1).is_visible()
        wall = page.locator("#wins")
        assert await wall.get_by_text("Rightsized 40 dev VMs").is_visible()
        assert await wall.get_by_text("3,200 USD/mo (38,400 USD a year)").is_visible()
        # The script is text on the page, not a script: it shows, runs nothing, opens nothing.
        assert await wall.get_by_text(XSS, exact=False).count() == 1
        assert "<script>alert('xss')</script>" in await wall.inner_text()
        assert await page.locator("script").count() == 0
        assert dialogs == []
        # Keyboard first: the first Tab lands on the skip link, which leads to the content.
        await page.keyboard.press("Tab")
        assert await page.evaluate("() => document.activeElement.textContent") == (
            "Skip to the content"
        )
        assert await page.get_by_role("img", name=re.compile("savings and cost avoidance")).count()
        await page.get_by_role("link", name="This year").click()
        assert "period=year" in page.url
        assert await page.locator('a[aria-current="page"]').inner_text() == "This year"
        assert await page.get_by_role("heading", name=re.compile("Leaderboard")).is_visible()
        shot = await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert len(shot) > 10_000

        narrow = await browser.new_page(  # a phone
            viewport={"width": 390, "height": 844}, reduced_motion="reduce"
        )
        await narrow.goto(url)
        overflow = await narrow.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0  # responsive: nothing wider than the screen
        await narrow.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)


async def test_an_expired_or_forged_link_shows_nothing(browser, settings: Settings, workspace: str):
    async with running_bot(settings) as (client, _tasks):
        bot = client.server.app[BOT]
        await ConsoleSession(bot, "ada", workspace).say("win Confidential cleanup $999")
        long_ago = datetime.now(UTC) - timedelta(hours=13)
        expired = LinkSigner(bot.voter_key, timedelta(hours=12), lambda: long_ago).sign(
            "console", workspace
        )[0]
        valid = LinkSigner(bot.voter_key, timedelta(hours=12)).sign("console", workspace)[0]
        forged = valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB")
        page = await browser.new_page()
        for token, heading in (
            (expired, "The link has expired."),
            (forged, "The link is not valid."),
            ("", "The link is incomplete."),
        ):
            response = await page.goto(str(client.make_url("/dashboard")) + f"?t={token}")
            assert response is not None and response.status == 403
            assert await page.get_by_role("heading", name=heading).is_visible()
            text = await page.locator("body").inner_text()
            assert "Confidential" not in text and workspace not in text
            assert "999" not in text


# Every character the page draws, its text and what CSS adds (::before, ::after).
DRAWN_TEXT = """() => {
  const parts = [document.body.innerText, document.title];
  for (const element of document.querySelectorAll("*")) {
    for (const pseudo of ["::before", "::after", "::marker"]) {
      const content = getComputedStyle(element, pseudo).content;
      if (content && content !== "none" && content !== "normal") parts.push(content);
    }
  }
  return parts.join("\\n");
}"""
EMOJI = """(text) => [...text].filter(
  (c) => /\\p{Extended_Pictographic}|\\p{Emoji_Presentation}/u.test(c))"""


def uncovered(characters: set[str]) -> list[str]:
    """The characters no installed font has a glyph for (they would show as boxes)."""
    import subprocess

    missing = []
    for character in sorted(characters):
        found = subprocess.run(
            ["fc-list", f":charset={ord(character):x}", "family"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        if not found:
            missing.append(f"U+{ord(character):04X}")
    return missing


async def test_no_emoji_and_every_glyph_has_a_font(
    browser, settings: Settings, workspace: str, tmp_path: Path
):
    import shutil

    if shutil.which("fc-list") is None:
        pytest.skip("fontconfig's fc-list is missing")
    async with running_bot(settings) as (client, _tasks):
        bot = client.server.app[BOT]
        person = ConsoleSession(bot, "ada", workspace)
        for n in range(4):
            await person.say(f"win Cleanup {n} ${(n + 1) * 300}/mo @jane @bob")
        await person.say('poll "Adopt tagging?" "Yes" "No"')
        await person.say("metric coverage 60%")
        await person.say("metric coverage 72%")
        url = await dashboard_url(client, person)
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        await page.goto(url)
        drawn = await page.evaluate(DRAWN_TEXT)
        assert await page.evaluate(EMOJI, drawn) == []
        assert uncovered({c for c in drawn if ord(c) > 127}) == []
        medal = await page.locator(".rank-1").evaluate("e => getComputedStyle(e).backgroundColor")
        assert medal not in ("rgba(0, 0, 0, 0)", "transparent")  # the gold disc is drawn
        icons = page.locator("h2 svg.icon")
        assert await icons.count() >= 4 and (await icons.first.bounding_box())["width"] > 8
        await page.screenshot(path=str(tmp_path / "dashboard-kiosk.png"))


async def dashboard_url(client, person: ConsoleSession, line: str = "dashboard") -> str:  # type: ignore[no-untyped-def]
    answer = "\n".join(await person.say(line))
    link = urlsplit(re.search(r"(http\S+/dashboard\?t=\S+)", answer)[1])  # type: ignore[index]
    return f"{client.make_url(link.path)}?{link.query}"


CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK")
PEOPLE = ("jane", "bob", "maria", "chen", "priya", "omar", "lena", "tom", "ines", "kofi", "yuki")


class Moving:
    """The running bot's clock, set by the test (the wins spread over the last months)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def populate(bot, workspace: str, wins: int, polls: int, open_polls: int) -> None:  # type: ignore[no-untyped-def]
    """Generated data: `wins` wins over the last 11 months in up to 8 currencies, credited to
    up to 11 people, and `polls` polls of which `open_polls` stay open, with votes."""
    now = datetime.now(UTC)
    clock = Moving(now - timedelta(days=330))
    bot.clock = clock
    ada = ConsoleSession(bot, "ada", workspace)
    currencies = CURRENCIES if wins > 10 else ("USD",)
    for n in range(wins):
        clock.now = now - timedelta(days=330) + timedelta(days=330 * n / max(wins, 1))
        people = " ".join(f"@{PEOPLE[(n + k) % len(PEOPLE)]}" for k in range(n % 3 + 1))
        amount = 100 + (n * 37) % 4_000
        await ada.say(
            f"win Cleanup number {n}: idle disks and old snapshots {amount:,} "
            f"{currencies[n % len(currencies)]}/mo #usage-optimization {people}"
        )
    clock.now = now - timedelta(hours=1)
    for n in range(polls):
        answer = "\n".join(
            await ada.say(f'poll "Question {n}: adopt policy {n}?" "Yes" "No" "Needs work"')
        )
        poll = int(re.search(r"Poll #(\d+)", answer)[1])  # type: ignore[index]
        for k, voter in enumerate(PEOPLE[: 3 + n % 5]):
            await ConsoleSession(bot, voter, workspace).say(f"vote {poll} {1 + (n + k) % 3}")
        if n < polls - open_polls:
            await ada.say(f"poll close {poll}")
    clock.now = now


# The size of every piece of visible text as drawn (SVG text scaled with its drawing), for
# the phone's "nothing below 12 px".
TEXT_SIZES = """() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const element = node.parentElement;
    if (!node.textContent.trim() || element.closest("title, desc, .visually-hidden")) continue;
    if (!element.checkVisibility({ checkVisibilityCSS: true, checkOpacity: true })) continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    let size = parseFloat(getComputedStyle(element).fontSize);
    if (element.closest("svg")) size *= element.getScreenCTM().a;
    found.push([node.textContent.trim().slice(0, 40), Math.round(size * 100) / 100]);
  }
  return found;
}"""
FIRST_SCREEN = {
    "headline numbers": ".overview > .period",
    "leaderboard": "#leaderboard",
    "savings chart": "#savings",
}


async def assert_first_screen(page, width: int, height: int, shot: Path) -> None:  # type: ignore[no-untyped-def]
    await page.set_viewport_size({"width": width, "height": height})
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.screenshot(path=str(shot))  # a test artefact: the first screen as shown
    boxes = {name: await page.locator(css).bounding_box() for name, css in FIRST_SCREEN.items()}
    polls = page.locator("#polls article.poll")
    assert await polls.count() >= 1
    for index in range(await polls.count()):
        boxes[f"open poll {index + 1}"] = await polls.nth(index).bounding_box()
    for name, box in boxes.items():
        assert box is not None, name
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (width, height, name, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, height, name, box)
    wide = await page.locator("main").bounding_box()
    assert wide is not None and wide["width"] >= width * 0.95  # the wide screen is used


WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .map((e) => `${e.tagName}.${e.className.baseVal ?? e.className}`).slice(0, 8)"""


async def assert_phone(page, shot: Path) -> None:  # type: ignore[no-untyped-def]
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(shot), full_page=True)  # a test artefact
    assert await page.evaluate(WIDER_THAN_THE_SCREEN) == []
    columns = set()
    for css in (*FIRST_SCREEN.values(), "#polls", "#wins"):
        box = await page.locator(css).bounding_box()
        assert box is not None and box["width"] >= 390 * 0.9, css
        columns.add(round(box["x"]))
    assert len(columns) == 1  # one column
    sizes = await page.evaluate(TEXT_SIZES)
    assert sizes, "no text measured"
    assert [(text, size) for text, size in sizes if size < 12] == []
    month = [size for text, size in sizes if re.fullmatch(r"[A-Z][a-z]{2} 20\d\d", text)]
    assert len(month) == 12  # the phone's chart names all 12 months with their year, legibly


@pytest.mark.parametrize(
    ("wins", "polls", "open_polls"), [(10, 3, 2), (500, 30, 6)], ids=["10-wins", "500-wins"]
)
async def test_the_first_screen_tells_the_story(
    browser,
    settings: Settings,
    workspace: str,
    tmp_path: Path,
    wins: int,
    polls: int,
    open_polls: int,
):
    async with running_bot(settings) as (client, _tasks):
        bot = client.server.app[BOT]
        await populate(bot, workspace, wins, polls, open_polls)
        url = await dashboard_url(client, ConsoleSession(bot, "ada", workspace), "dashboard")
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await page.goto(url + "&period=year")
        assert await page.locator("#polls article.poll").count() == open_polls
        for width, height in ((1920, 1080), (1440, 900)):
            await assert_first_screen(
                page, width, height, tmp_path / f"first-screen-{width}x{height}.png"
            )
        await assert_phone(page, tmp_path / "phone.png")
        labels = await page.locator(".chart-wide text.month").all_text_contents()
        assert len(labels) == 12 and all(re.fullmatch(r"[A-Z][a-z]{2}\s*20\d\d", t) for t in labels)
