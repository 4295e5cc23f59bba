"""Slack's Block Kit limits and the phone-width rule, checked on what the app sends.

The limits are Slack's published ones (api.slack.com/reference/block-kit): a message holds at most 50
blocks, a modal or Home tab 100; a section's text at most 3,000 characters, ten fields of 2,000; a
header 150; an actions block 25 elements; a button's text 75 and value 2,000; an action id 255; an
overflow 2 to 5 options; an option's text 75 and value 150; a modal's title, submit and close 24;
a block id 255, unique within a view; an input's label and hint 2,000. Slack answers
``invalid_blocks`` for a message that breaks one of them.

The phone rule is the project's own: no line of a code block wider than 45 characters (a phone
wraps wider lines and the columns lose their alignment).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

PHONE_WIDTH = 45
_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_BLOCK_TYPES = {"section", "context", "header", "divider", "actions", "input", "image", "rich_text"}
_ELEMENT_TYPES = {
    "button",
    "overflow",
    "static_select",
    "external_select",
    "plain_text_input",
    "number_input",
    "users_select",
    "conversations_select",
    "channels_select",
    "image",
    "mrkdwn",
    "plain_text",
}


def _text(obj: Any, limit: int, where: str, errors: list[str]) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        errors.append(f"{where}: not a text object: {obj!r}")
        return
    if not isinstance(obj.get("text"), str) or not obj["text"]:
        errors.append(f"{where}: empty text")
    elif len(obj["text"]) > limit:
        errors.append(f"{where}: {len(obj['text'])} characters > {limit}")


def _option(opt: Any, where: str, errors: list[str]) -> None:
    _text(opt.get("text"), 75, f"{where}.text", errors)
    if opt.get("text", {}).get("type") != "plain_text":
        errors.append(f"{where}: an option's text must be plain_text")
    value = opt.get("value")
    if not isinstance(value, str) or not 0 < len(value) <= 150:
        errors.append(f"{where}: option value {value!r} must be 1-150 characters")


def _element(el: Any, where: str, errors: list[str]) -> None:
    kind = el.get("type")
    if kind not in _ELEMENT_TYPES:
        errors.append(f"{where}: unknown element {kind!r}")
        return
    if kind in ("mrkdwn", "plain_text"):
        _text(el, 3000, where, errors)
        return
    if kind == "image":
        return
    action_id = el.get("action_id")
    if not isinstance(action_id, str) or not 0 < len(action_id) <= 255:
        errors.append(f"{where}: action_id {action_id!r}")
    if kind == "button":
        _text(el.get("text"), 75, f"{where}.text", errors)
        if len(str(el.get("value", ""))) > 2000:
            errors.append(f"{where}: button value over 2000 characters")
    elif kind == "overflow":
        opts = el.get("options") or []
        if not 2 <= len(opts) <= 5:
            errors.append(f"{where}: overflow has {len(opts)} options (2-5)")
        for i, opt in enumerate(opts):
            _option(opt, f"{where}.options[{i}]", errors)
    elif kind == "static_select":
        opts = el.get("options") or []
        if not 0 < len(opts) <= 100:
            errors.append(f"{where}: static_select has {len(opts)} options (1-100)")
        for i, opt in enumerate(opts):
            _option(opt, f"{where}.options[{i}]", errors)
        if "initial_option" in el and el["initial_option"] not in opts:
            errors.append(f"{where}: initial_option is not one of the options")
    elif kind == "external_select" and "initial_option" in el:
        _option(el["initial_option"], f"{where}.initial_option", errors)


def block_errors(blocks: Iterable[Any], *, max_blocks: int = 50) -> list[str]:
    """Every way ``blocks`` breaks Slack's Block Kit limits (empty when none)."""
    errors: list[str] = []
    blocks = list(blocks)
    if len(blocks) > max_blocks:
        errors.append(f"{len(blocks)} blocks > {max_blocks}")
    for n, block in enumerate(blocks):
        where = f"blocks[{n}]"
        kind = block.get("type")
        if kind not in _BLOCK_TYPES:
            errors.append(f"{where}: unknown block type {kind!r}")
            continue
        if len(str(block.get("block_id", ""))) > 255:
            errors.append(f"{where}: block_id over 255 characters")
        if kind == "section":
            if "text" not in block and "fields" not in block:
                errors.append(f"{where}: a section needs text or fields")
            if "text" in block:
                _text(block["text"], 3000, where, errors)
            fields = block.get("fields") or []
            if len(fields) > 10:
                errors.append(f"{where}: {len(fields)} fields > 10")
            for i, f in enumerate(fields):
                _text(f, 2000, f"{where}.fields[{i}]", errors)
            if "accessory" in block:
                _element(block["accessory"], f"{where}.accessory", errors)
        elif kind == "header":
            _text(block.get("text"), 150, where, errors)
        elif kind == "context":
            els = block.get("elements") or []
            if not 0 < len(els) <= 10:
                errors.append(f"{where}: context has {len(els)} elements (1-10)")
            for i, el in enumerate(els):
                _element(el, f"{where}.elements[{i}]", errors)
        elif kind == "actions":
            els = block.get("elements") or []
            if not 0 < len(els) <= 25:
                errors.append(f"{where}: actions has {len(els)} elements (1-25)")
            for i, el in enumerate(els):
                _element(el, f"{where}.elements[{i}]", errors)
        elif kind == "input":
            _text(block.get("label"), 2000, f"{where}.label", errors)
            if "hint" in block:
                _text(block["hint"], 2000, f"{where}.hint", errors)
            if not isinstance(block.get("dispatch_action", False), bool):
                errors.append(f"{where}: dispatch_action must be true or false")
            _element(block.get("element") or {}, f"{where}.element", errors)
    return errors


def view_errors(view: Any) -> list[str]:
    """Every way a modal or Home tab breaks Slack's limits."""
    errors = block_errors(view.get("blocks") or [], max_blocks=100)
    ids = [b["block_id"] for b in view.get("blocks") or [] if "block_id" in b]
    if len(ids) != len(set(ids)):
        errors.append(f"block ids repeat: {sorted(i for i in set(ids) if ids.count(i) > 1)}")
    if view.get("type") == "modal":
        for key in ("title", "submit", "close"):
            if key in view:
                _text(view[key], 24, key, errors)
        if "title" not in view:
            errors.append("a modal needs a title")
        if any(b.get("type") == "input" for b in view.get("blocks") or []) and "submit" not in view:
            errors.append("a modal with inputs needs a submit button")
        if len(str(view.get("private_metadata", ""))) > 3000:
            errors.append("private_metadata over 3000 characters")
    return errors


def _mrkdwn_texts(blocks: Iterable[Any]) -> Iterable[str]:
    for block in blocks:
        if isinstance(block.get("text"), dict):
            yield block["text"].get("text", "")
        for f in block.get("fields") or []:
            yield f.get("text", "")
        for el in block.get("elements") or []:
            if el.get("type") in ("mrkdwn", "plain_text"):
                yield el.get("text", "")


def phone_errors(blocks: Iterable[Any], text: str | None = None) -> list[str]:
    """Code-block lines wider than a phone shows (in the blocks and in the fallback text)."""
    errors = []
    for chunk in [*_mrkdwn_texts(blocks), text or ""]:
        for fenced in _FENCE.findall(chunk):
            errors += [
                f"code line of {len(line)} > {PHONE_WIDTH}: {line!r}"
                for line in fenced.split("\n")
                if len(line) > PHONE_WIDTH
            ]
    return errors
