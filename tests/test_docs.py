"""The README and docs/: every relative link leads to a file that exists and, with '#', to a heading there."""
import os
import re

import pytest

from tests.helpers import ROOT

PAGES = ["README.md"] + sorted(os.path.join("docs", n) for n in os.listdir(os.path.join(ROOT, "docs"))
                               if n.endswith(".md"))
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_CODE = re.compile(r"```.*?```", re.S)


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: str) -> set:
    with open(path, encoding="utf-8") as f:
        text = _CODE.sub("", f.read())
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def links(page: str):
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        text = _CODE.sub("", f.read())
    return [target for target in _LINK.findall(text) if "://" not in target and not target.startswith("mailto:")]


def test_slug_follows_github():
    assert slug("Beyond the port: single images, PyTorch weights") == "beyond-the-port-single-images-pytorch-weights"
    assert slug("`track.py` options") == "trackpy-options"
    assert slug("What `enable_modelarts` does") == "what-enable_modelarts-does"


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_resolve(page):
    broken = []
    for target in links(page):
        file_part, _, anchor = target.partition("#")
        path = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), file_part)) if file_part \
            else os.path.join(ROOT, page)
        if not os.path.exists(path):
            broken.append(f"{target} (no file {os.path.relpath(path, ROOT)})")
        elif anchor and path.endswith(".md") and anchor not in anchors(path):
            broken.append(f"{target} (no heading #{anchor})")
    assert not broken, f"{page}: " + "; ".join(broken)
