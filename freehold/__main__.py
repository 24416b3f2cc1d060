"""``python -m freehold`` runs the CLI."""

from __future__ import annotations

from freehold.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
