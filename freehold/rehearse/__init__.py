"""Rehearsal: replay a person's own past prompts on candidate models and show where they drift.

The pieces, in the order a run uses them:

- ``cases``: the answered past prompts, described by topic, length, language and code, and
  each case's path (what the candidates are sent) and original answer;
- ``sample``: the deterministic, stratified sampler (pure);
- ``engine``: the plan (requests, cache keys, the cost estimate), the asking (bounded
  threads, one router, each answer stored as it comes), the judge's swapped votes;
- ``score``: similarity, length, format, refusals, drift against each model's own noise;
- ``store``: ``rehearsals.sqlite``, apart from the archive (runs never become history);
- ``report``: JSON, terminal tables, the self-contained HTML report;

docs/rehearse.md is the person's guide; docs/decisions.md says why it is built this way.
"""

from __future__ import annotations

from freehold.rehearse.engine import Options, Plan
from freehold.rehearse.store import STORE_NAME, RunStore

__all__ = ["STORE_NAME", "Options", "Plan", "RunStore"]
