"""`gepad report`: a self-contained page that a real browser shows, plot included, without a
console error; everything users wrote in it is text, never markup."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest
from PIL import Image

from gepad.cli.main import main
from gepad.report import ReportData, render_report
from gepad.report.page import ModeRow, RoundRow, prompt_diff
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import RunningDaemon
from tests.doubles.openai_server import OpenAIDouble
from tests.report.browser import render
from tests.rounds.test_calibrated_rounds import labels
from tests.rounds.test_manager import register

HOSTILE = '<script>alert("x")</script><img src="https://example.invalid/p.png">'


def hostile_report() -> str:
    return render_report(ReportData(
        user_id="alice", program="editor", served_id="c2", served_version=2, pinned=True,
        rounds=[RoundRow("r1", 1.0, "succeeded", True, 0.8, 0.8, 10, 12, 0.01, HOSTILE)],
        lineage=["c1  seed", "└── c2  reflection  ◀ served (pinned)"],
        modes=[ModeRow("brief", HOSTILE, 12, 0, False, ())],
        coverage=(0, 1),
        diff=prompt_diff({"system": "Be brief."}, {"system": f"Be brief. {HOSTILE}"}),
        diff_title="Version 2",
    ))


def test_what_users_wrote_is_text_and_the_page_loads_nothing() -> None:
    page = hostile_report()
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    # No script, no stylesheet or image fetched: the only links are the SVG's own (#id).
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", page)
    for loader in ("<link", "<iframe", "<object", "@import", "url(http"):
        assert loader not in page
    assert "Cold start: no evaluator is calibrated to gate yet" in page
    assert '<span class="add">+Be brief. &lt;script&gt;' in page


def test_the_browser_check_sees_console_errors(tmp_path: Path) -> None:
    # The check below would pass vacuously if console messages never reached it.
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nothing();</script>")
    rendered = render(bad, tmp_path / "bad.png")
    assert any("boom" in m for m in rendered.console)
    assert any("nothing is not defined" in m for m in rendered.console)


def test_gepad_report_writes_a_page_a_browser_shows_with_its_plot(
    running_daemon: RunningDaemon, double: OpenAIDouble, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=2)
        assert stub.StreamFeedback(iter(labels("alice", 30))).stored == 60
        for _ in range(2):
            run_id = stub.Evolve(pb.EvolveRequest(user_id="alice", program="editor")).run_id
            final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
            assert final.status == pb.RUN_STATUS_SUCCEEDED, final.message
        served = stub.GetPrompt(pb.GetPromptRequest(user_id="alice", program="editor"))
    assert served.version == 1

    out = tmp_path / "alice.html"
    capsys.readouterr()
    assert main(["--target", running_daemon.target, "report", "alice", "editor",
                 "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (2 rounds)\n"
    page = out.read_text()
    assert "Eval coverage: 1 of 1 failure modes" in page
    assert '<span class="gating">gating</span>' in page and "fm_uppercase" in page
    assert "UPPERCASE" in page  # the served prompt's diff
    assert "◀ served" in page  # the lineage tree marks the served node

    rendered = render(out, tmp_path / "alice.png")
    assert rendered.console == []
    figure = re.search(r'<figure id="score-plot">(.*?)</figure>', rendered.dom, re.S)
    assert figure is not None and "<svg" in figure.group(1)
    assert figure.group(1).count("<path") > 10  # axes, ticks, two lines, their markers
    assert '<figure id="calls-plot">' in rendered.dom
    # The plot is drawn on screen: its area is not blank.
    with Image.open(rendered.screenshot) as shot:
        colours = shot.convert("RGB").crop((0, 100, 1200, 500)).getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 20

    assert main(["--target", running_daemon.target, "report", "alice", "editor",
                 "-o", str(tmp_path / "none" / "x.html")]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: cannot write {tmp_path / 'none' / 'x.html'}: No such file or directory")
