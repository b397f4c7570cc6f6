"""A Griffe extension for the API reference: the docstrings' reStructuredText markup, as Markdown.

The package's docstrings are written for ``help()`` and editors, which show reStructuredText
roles (``:meth:`save```) and literal-block markers (``text::``) as they are. The reference is
Markdown, where those would print their punctuation, so this turns a role into inline code
(``~a.b.C`` into ``C``, as Sphinx shows it) and ``::`` into ``:`` (a lone ``::`` line goes). The
indented block after it is already a Markdown code block. Nothing in the package changes.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:meth|func|class|attr|exc|data|mod|obj|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def markdown_of(text: str) -> str:
    text = _ROLE.sub(_role, text)
    lines = []
    for line in text.split("\n"):
        if line.strip() == "::":
            continue
        lines.append(line[:-1] if line.endswith("::") else line)
    return "\n".join(lines)


class RstRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)
