"""Imports flow one way: domain <- db <- resolvers <- schema; subscriptions use db and domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Which of our packages each package may import.
ALLOWED = {
    "domain": {"domain"},
    "db": {"domain", "db"},
    "subscriptions": {"domain", "db", "subscriptions"},
    "resolvers": {"domain", "db", "subscriptions", "resolvers"},
    "schema": {"domain", "db", "subscriptions", "resolvers", "schema"},
}
OURS = {*ALLOWED, "dealflow"}
DOMAIN_FORBIDDEN = {"asyncpg", "strawberry", "starlette", "asyncio", "broadcaster", "uvicorn"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_the_layers_below_them(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        ours = imports_of(path) & OURS
        assert ours <= ALLOWED[package], f"{path.relative_to(ROOT)} imports {sorted(ours - ALLOWED[package])}"


def test_domain_is_free_of_io_and_frameworks() -> None:
    for path in (ROOT / "domain").rglob("*.py"):
        bad = imports_of(path) & DOMAIN_FORBIDDEN
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
