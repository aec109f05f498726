"""Neutral messages as plain terminal text: nothing is dropped, buttons show their command."""

from __future__ import annotations

from bot.message import (
    Actions,
    Audience,
    ChannelPost,
    Chart,
    Context,
    DirectMessage,
    Divider,
    Fields,
    Header,
    Image,
    Input,
    Message,
    Outgoing,
    Reply,
    Text,
    Update,
)


def render_message(message: Message) -> str:
    if not message.blocks:
        return message.text
    lines: list[str] = []
    for block in message.blocks:
        match block:
            case Header(text=text):
                lines += [f"== {text} =="]
            case Text(text=text):
                lines += text.splitlines() or [""]
            case Fields(pairs=pairs):
                lines += [f"{label}: {value}".replace("\n", "\n  ") for label, value in pairs]
            case Divider():
                lines.append("-" * 40)
            case Image(url=url, alt=alt):
                lines.append(f"[image: {alt}] {url}")
            case Chart(sparkline=sparkline, alt=alt):
                # an alt text that already says "Chart: ..." is not labelled twice
                shown = alt if alt.lower().startswith("chart:") else f"chart: {alt}"
                lines += [sparkline, f"  ({shown})"]
            case Actions(buttons=buttons):
                lines += [f"  [{b.label}]  type: {b.command}" for b in buttons]
            case Context(text=text):
                lines.append(f"  ({text})")
            case Input(label=label, command=command, value=value):
                now = f" (now: {value})" if value else ""
                lines.append(f"  {label}{now}\n    type: {command}")
    return "\n".join(lines)


def render_outgoing(item: Outgoing) -> str:
    match item:
        case Reply(message=message, audience=audience):
            body = render_message(message)
            return body if audience is Audience.ASKER else f"[to the conversation]\n{body}"
        case ChannelPost(message=message, channel_id=channel_id, channel_name=name):
            return f"[posted in #{name or channel_id}]\n{_indent(render_message(message))}"
        case DirectMessage(message=message, user_id=user_id, user_name=name):
            return f"[direct message to {name or user_id}]\n{_indent(render_message(message))}"
        case Update(subject=subject):
            return f"[updated {subject.replace(':', ' #')}]"
    raise TypeError(f"unknown outgoing item {item!r}")


def render_update(subject: str, current: Message | None) -> str:
    shown = f"[updated {subject.replace(':', ' #')}]"
    return f"{shown}\n{_indent(render_message(current))}" if current else shown


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())
