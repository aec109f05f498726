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
from bot.app import BOT
from bot.dashboard.links import LinkSigner
from bot.settings import Settings
from tests.helpers import IN_CI, running_bot

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
