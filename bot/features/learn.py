"""`learn`: the FinOps Framework's 22 capabilities, plus learning links a workspace's admins add."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot import catalogue
from bot.catalogue import Capability
from bot.commands import COMMANDS, Request, Role, Subcommand, command
from bot.message import Block, Context, Fields, Header, Message, Outcome, Text
from bot.parsing import UsageError
from bot.parsing.subcommands import check_typo
from bot.parsing.tokens import plain_mentions, split_words
from bot.parsing.url import parse_url
from bot.wording import plural
from storage import audit
from storage import learn as store
from storage.models import LearnLink

MAX_TITLE, SHOWN_LINKS = 200, 20
_FREE_TOPIC = re.compile(r"[a-z0-9-]{1,60}")
_QUOTES = "\"'“”„«»"
_TIP_EPOCH = date(2024, 1, 1)  # a Monday: week 0 of the tip rotation


@command(
    "learn",
    summary="Learn about a FinOps capability, with links your community recommends.",
    usage=(
        "learn [topic]",
        "learn add <topic> <url> <title>",
        "learn remove <topic> <url>",
    ),
    examples=(
        "learn rightsizing",
        "learn",
        "learn add rate-optimization https://example.com/ri-guide Our RI buying guide",
        "learn remove kubernetes https://example.com/k8s",
    ),
    details=(
        "With no topic, lists the 22 capabilities of the FinOps Framework (2026) by domain. "
        "Topics are forgiving: a capability name, its slug, an old name (workload optimization) "
        "or an everyday word (rightsizing, RIs, tagging). Admins add and remove links for a "
        "capability or for a free topic of their own (letters, digits and hyphens, e.g. "
        "kubernetes)."
    ),
    subcommands=(
        Subcommand(
            "add",
            "Add a link to a topic.",
            Role.ADMIN,
            "add learning links",
            handler=lambda req, rest: _add(req, _words(rest)),
        ),
        Subcommand(
            "remove",
            "Remove a link from a topic.",
            Role.ADMIN,
            "remove learning links",
            aliases=("delete",),
            handler=lambda req, rest: _remove(req, _words(rest)),
        ),
    ),
)
async def learn(req: Request, args: str) -> Outcome:
    words = _words(args)
    if not words:
        return Outcome().reply(await _overview(req))
    check_typo("learn", words, COMMANDS["learn"].subcommand_names)  # `learn remvoe 3`
    return Outcome().reply(await _topic(req, " ".join(words)))


def _words(text: str) -> list[str]:
    return [w.text for w in split_words(text, quotes=False)]


def weekly_tip(day: date) -> Capability:
    """The capability to feature in the week (Monday to Sunday) holding `day`; deterministic.

    Counts weeks from a fixed Monday rather than using the ISO week number, so the rotation
    never skips or repeats at a year with 53 ISO weeks.
    """
    if isinstance(day, datetime):
        day = day.date()
    monday = day - timedelta(days=day.weekday())
    weeks = (monday - _TIP_EPOCH).days // 7
    return catalogue.CAPABILITIES[weeks % len(catalogue.CAPABILITIES)]


def resolve_topic(text: str) -> tuple[str, Capability | None]:
    """A capability's slug (forgiving match), else a free topic slug; UsageError if neither."""
    if capability := catalogue.find_capability(text):
        return capability.slug, capability
    slug = free_topic(text)
    if slug is None:
        raise UsageError(
            f"the topic {_shown(text)!r} is not a capability; a topic of your own takes "
            "letters, digits and hyphens (at most 60), e.g. kubernetes"
        )
    return slug, None


def free_topic(text: str) -> str | None:
    slug = re.sub(r"[\s_]+", "-", text.strip().lower())
    return slug if _FREE_TOPIC.fullmatch(slug) else None


def _split_link_args(words: list[str], *, need_title: bool) -> tuple[str, str, str]:
    """`<topic words> <url> [title words]` -> (topic text, url, title)."""
    at = next((i for i, w in enumerate(words) if "://" in w or w.lower().startswith("www.")), None)
    if at is None:  # no link-looking word: judge the word where the link belongs
        at = 1 if len(words) >= 2 else None
    if at is None:
        raise UsageError(
            "give a topic, a link and a title" if need_title else "give a topic and a link"
        )
    if at == 0:
        raise UsageError("give the topic before the link")
    topic, url = " ".join(words[:at]), parse_url(words[at])
    title = plain_mentions(" ".join(words[at + 1 :])).strip()
    if len(title) >= 2 and title[0] in _QUOTES and title[-1] in _QUOTES:
        title = title[1:-1].strip()
    if need_title and not title:
        raise UsageError("give the link a title after the URL")
    if len(title) > MAX_TITLE:
        raise UsageError(f"the title is {len(title):,} characters long; the limit is {MAX_TITLE}")
    return topic, url, title


def _topic_name(slug: str, capability: Capability | None) -> str:
    return f"{capability.name} ({slug})" if capability else f"the topic {slug}"


async def _add(req: Request, words: list[str]) -> Outcome:
    text, url, title = _split_link_args(words, need_title=True)
    slug, capability = resolve_topic(text)
    added = await store.add_link(
        req.session,
        req.workspace_id,
        slug,
        url=url,
        title=title,
        added_by=req.actor.user_id,
        now=req.now,
    )
    name = _topic_name(slug, capability)
    if not added:
        return Outcome().reply(f"That link is already listed under {name}; nothing changed.")
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="learn.add",
        subject=f"learn:{slug}",
        detail=url,
    )
    return Outcome().reply(f"Added {title!r} to {name}. See it with `learn {slug}`.")


async def _remove(req: Request, words: list[str]) -> Outcome:
    text, url, _ = _split_link_args(words, need_title=False)
    slug, capability = resolve_topic(text)
    title = await store.remove_link(req.session, req.workspace_id, slug, url=url)
    name = _topic_name(slug, capability)
    if title is None:
        return Outcome().reply(f"There is no link {url} under {name}; nothing was removed.")
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="learn.remove",
        subject=f"learn:{slug}",
        detail=url,
    )
    return Outcome().reply(f"Removed {title!r} from {name}.")


async def _overview(req: Request) -> Message:
    counts = await store.topic_counts(req.session, req.workspace_id)
    title = "FinOps Framework capabilities"
    blocks: list[Block] = [Header(title)]
    lines = [title]
    for domain in catalogue.DOMAINS:
        body = [domain]
        for cap in catalogue.CAPABILITIES:
            if cap.domain == domain:
                extra = f" · {plural(counts[cap.slug], 'link')}" if cap.slug in counts else ""
                body.append(f"• {cap.name} ({cap.slug}){extra}")
        blocks.append(Text("\n".join(body)))
        lines += body
    slugs = {cap.slug for cap in catalogue.CAPABILITIES}
    free = sorted((t, n) for t, n in counts.items() if t not in slugs)
    if free:
        body = ["Community topics", *(f"• {t} · {plural(n, 'link')}" for t, n in free)]
        blocks.append(Text("\n".join(body)))
        lines += body
    hint = "Type `learn <topic>`, e.g. `learn rightsizing`."
    blocks += [Context(hint), Context(catalogue.ATTRIBUTION)]
    lines += [hint, catalogue.ATTRIBUTION]
    return Message(text="\n".join(lines), blocks=tuple(blocks))


async def _links(req: Request, slug: str) -> tuple[list[str], bool]:
    """Link lines for a topic, and whether more exist than are shown."""
    links: list[LearnLink] = await store.links_for(
        req.session, req.workspace_id, slug, limit=SHOWN_LINKS + 1
    )
    return [f"• {link.title}: {link.url}" for link in links[:SHOWN_LINKS]], len(links) > SHOWN_LINKS


async def _topic(req: Request, query: str) -> Message:
    cap = catalogue.find_capability(query)
    if cap is None:
        return await _free_topic(req, query)
    fields = [("Domain", cap.domain), ("FinOps Foundation", cap.url)]
    if cap.microsoft_url:
        fields.append(("Microsoft Learn", cap.microsoft_url))
    blocks: list[Block] = [Header(cap.name), Text(cap.summary)]
    lines = [cap.name, cap.summary]
    asked = catalogue.normalise(query)
    old = next((o for o in cap.old_names if catalogue.normalise(o) == asked), None)
    if old:
        note = f"{old} is now called {cap.name} in the 2026 FinOps Framework."
        blocks.append(Context(note))
        lines.append(note)
    blocks.append(Fields(tuple(fields)))
    lines += [f"{label}: {value}" for label, value in fields]
    links, more = await _links(req, cap.slug)
    if links:
        body = ["Recommended by your community:", *links] + (["…and more."] if more else [])
        blocks.append(Text("\n".join(body)))
        lines += body
    blocks.append(Context(catalogue.ATTRIBUTION))
    lines.append(catalogue.ATTRIBUTION)
    return Message(text="\n".join(lines), blocks=tuple(blocks))


async def _free_topic(req: Request, query: str) -> Message:
    slug = free_topic(query)
    links, more = await _links(req, slug) if slug else ([], False)
    if not links:
        problem = f"no FinOps capability or community topic matches {_shown(query)!r}"
        close = catalogue.suggest(query)
        if close:
            problem += "; closest: " + ", ".join(f"{c.name} ({c.slug})" for c in close)
        raise UsageError(problem + "; `learn` lists them all")
    title = f"Learning links: {slug}"
    body = links + (["…and more."] if more else [])
    return Message(text="\n".join([title, *body]), blocks=(Header(title), Text("\n".join(body))))


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "…"
