"""The README's generated parts match what they describe (regenerate with `cog -r README.md`)."""

from __future__ import annotations

from cogapp import Cog

from tests.conftest import ROOT


def test_the_readme_lists_the_commands_the_cli_has() -> None:
    assert Cog().main(["cog", "--check", "--diff", "--verbosity=0",
                       str(ROOT / "README.md")]) == 0
