"""Every YAML example in README.md and docs/*.md parses, and its class paths and init_args exist."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def _blocks() -> Iterator[tuple[str, str]]:
    for doc in DOCS:
        for i, block in enumerate(BLOCK.findall(doc.read_text(encoding="utf-8"))):
            yield f"{doc.name}#{i}", block


def _class_paths(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "class_path" in node:
            yield node["class_path"], node.get("init_args") or {}
        for value in node.values():
            yield from _class_paths(value)
    elif isinstance(node, list):
        for value in node:
            yield from _class_paths(value)


@pytest.mark.parametrize(("name", "block"), list(_blocks()), ids=lambda x: x.split("\n")[0][:30])
def test_yaml_example_is_valid(name: str, block: str) -> None:
    content = yaml.safe_load(block)
    assert content, f"{name}: empty YAML example"
    for class_path, init_args in _class_paths(content):
        module, _, attr = class_path.rpartition(".")
        cls = getattr(importlib.import_module(module), attr)
        accepted = inspect.signature(cls.__init__).parameters
        unknown = set(init_args) - set(accepted)
        if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
            assert not unknown, f"{name}: {class_path} has no init_args {sorted(unknown)}"
