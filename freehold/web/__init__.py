"""The local web app: ``create_app`` builds it, ``freehold serve`` runs it (see docs/web.md)."""

from __future__ import annotations

from freehold.web.app import create_app, new_token

__all__ = ["create_app", "new_token"]
