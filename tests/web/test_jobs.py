"""A job page rendered while its import finishes never shows a finished state without its
report (the browser test once caught a page stuck there)."""

from __future__ import annotations

from typing import Any

import pytest

from freehold.web.imports import Job

REPORT = {"problems": [{"where": "x.zip", "what": "refused member"}]}


class Racing(Job):
    """A job whose import finishes the moment the page first reads ``trigger``."""

    trigger = "state"

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name == type(self).trigger and not super().__getattribute__("__dict__").get("_done"):
            self.__dict__["_done"] = True
            # what Jobs._run does when the import ends, in its order
            self.report, self.error, self.state = REPORT, None, "problems"
        return value


@pytest.mark.parametrize("trigger", ["state", "report", "error", "name"])
def test_a_finished_snapshot_always_has_its_report(trigger: str) -> None:
    Racing.trigger = trigger
    job = Racing(id="j1", name="x.zip")
    snap = job.snapshot()
    assert snap.state in ("running", "problems")
    if snap.state != "running":
        assert snap.report == REPORT
    assert job.snapshot().state == "problems" and job.snapshot().report == REPORT
