"""Progress of a long run (issue 16 item 6): a live line on a terminal, nothing elsewhere
but the command's summary line."""
import io
import time

from mut_eval import progress
from mut_eval.cli import main

from conftest import EXAMPLE


def test_silent_without_a_terminal_and_one_summary_line(tmp_path, capsys):
    assert main(["analyze", str(EXAMPLE), "--out", str(tmp_path / "out"), "--bootstrap", "0"]) == 0
    cap = capsys.readouterr()
    lines = [x for x in cap.out.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("wrote ") and lines[0].endswith(" s")
    assert "moderation grid" not in cap.err and "━" not in cap.err


def test_a_terminal_sees_stage_and_item_k_of_n():
    """The live line (rich, transient: cleared when the block ends) shows the stage, k of n
    and the elapsed time while the block runs."""
    class Tty(io.StringIO):
        def isatty(self):
            return True
    stream = Tty()
    with progress.tracking("analyse", stream=stream) as clock:
        progress.stage("moderation grid", total=204)
        progress.advance(10)
        time.sleep(0.3)
        shown = stream.getvalue()
    assert "analyse: moderation grid" in shown and "10/204" in shown and "0:00:00" in shown
    assert clock() >= 0.3


def test_outside_a_tracking_block_nothing_happens():
    progress.stage("anything", total=5)     # library code and notebooks: no output, no error
    progress.advance()
