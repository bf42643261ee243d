"""Progress of the summary and plots steps (progress.py: Progress, Phases, text_bar): plain
lines in the log at most every few seconds and at the end, a live bar only on a terminal, the
steps' seconds; and the summary's tables unchanged by it. A pack's progress lines and the
status command's bars: test_status.py."""

from __future__ import annotations

import io
import itertools
import sys

from fakes import write_run

from mlpsweep import progress as progress_module
from mlpsweep.progress import Phases, Progress, count_line, terminal, text_bar
from mlpsweep.tables.runs import collect_runs
from mlpsweep.tables.summary import write_summary


def ticking(*times: float):
    """A fake clock returning these times, then the last one for ever."""
    return itertools.chain(times, itertools.repeat(times[-1])).__next__


def test_count_line_and_text_bar():
    assert (
        count_line("read", "run directories", 2000, 10000, 1.23) == "read 2,000 of 10,000 run directories (20 %), 1.2 s"
    )
    assert count_line("drew", "figures", 0, 0, 0.0) == "drew 0 of 0 figures, 0.0 s"
    assert text_bar(0.5, 0.25, width=8) == "████▒▒░░ 75 %"
    assert text_bar(1.0) == "█" * 20 + " 100 %" and text_bar(0.0) == "░" * 20 + " 0 %"


def test_lines_at_most_every_n_seconds_and_at_the_end():
    lines = []
    # start at 0, then one item a second: 10 items in 10 s, a line at most every 3 s
    progress = Progress("read", "run directories", every_seconds=3.0, clock=ticking(*range(12)), emit=lines.append)
    assert list(progress.track(range(10))) == list(range(10))
    assert lines == [
        "read 3 of 10 run directories (30 %), 3.0 s",
        "read 6 of 10 run directories (60 %), 6.0 s",
        "read 9 of 10 run directories (90 %), 9.0 s",
        "read 10 of 10 run directories (100 %), 11.0 s",
    ]
    lines.clear()  # a line due at the last item: the end line alone, not twice
    list(Progress("read", "runs", every_seconds=1.0, clock=ticking(0, 1, 2), emit=lines.append).track("ab"))
    assert lines == ["read 1 of 2 runs (50 %), 1.0 s", "read 2 of 2 runs (100 %), 2.0 s"]


def test_a_quick_step_logs_only_its_end_and_an_empty_one_says_so():
    lines = []
    progress = Progress("read", "run directories", clock=ticking(0.0, 0.5), emit=lines.append)
    assert sum(1 for _ in progress.track(iter(range(5000)), total=5000)) == 5000  # an iterator with its length
    assert lines == ["read 5,000 of 5,000 run directories (100 %), 0.5 s"]
    lines.clear()
    assert list(Progress("drew", "figures", clock=ticking(0.0), emit=lines.append).track([])) == []
    assert lines == ["drew 0 of 0 figures, 0.0 s"]


def test_the_live_bar_is_drawn_in_place_and_cleared_before_each_log_line():
    lines, screen = [], io.StringIO()
    emit = lambda line: lines.append(line) or screen.write(f"[log] {line}\n")  # noqa: E731  (the log's stderr handler)
    # 4 items, 1 s apart: a bar at the start and after each item, a log line after 3 s, the end line
    progress = Progress("read", "runs", every_seconds=3.0, clock=ticking(0, 1, 2, 3, 4, 4), emit=emit, live=screen)
    list(progress.track("abcd"))
    clear = "\r\033[K"
    assert screen.getvalue() == (
        f"\r{text_bar(0)} read 0 of 4 runs"
        f"\r{text_bar(0.25)} read 1 of 4 runs"
        f"\r{text_bar(0.5)} read 2 of 4 runs"
        f"{clear}[log] read 3 of 4 runs (75 %), 3.0 s\n"
        f"\r{text_bar(0.75)} read 3 of 4 runs"
        f"\r{text_bar(1)} read 4 of 4 runs"
        f"{clear}[log] read 4 of 4 runs (100 %), 4.0 s\n"
    )
    assert lines == ["read 3 of 4 runs (75 %), 3.0 s", "read 4 of 4 runs (100 %), 4.0 s"]


def test_the_bar_is_redrawn_at_most_ten_times_a_second():
    screen = io.StringIO()
    clock = ticking(*[k * 0.01 for k in range(101)])  # 100 items in 1 s
    list(Progress("read", "runs", clock=clock, emit=lambda line: None, live=screen).track(range(100)))
    assert 10 <= screen.getvalue().count("\r█") + screen.getvalue().count("\r░") <= 12


def test_a_bar_only_where_stderr_is_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log file, Snakemake's capture
    assert terminal() is None
    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    assert terminal() is tty


def test_phases_are_logged_as_they_start_and_timed_at_the_end():
    lines = []
    phases = Phases("summary", clock=ticking(0.0, 0.0, 2.5, 3.0, 3.5, 4.0), emit=lines.append)
    for name in ("reading run directories", "tables", "tests and permutations", "tables"):
        phases(name)
    assert (
        phases.done()
        == "summary: done in 4.0 s (reading run directories 2.5 s, tables 1.0 s, tests and permutations 0.5 s)"
    )
    assert lines == [
        "summary: reading run directories",
        "summary: tables",
        "summary: tests and permutations",
        "summary: tables",
        lines[-1],
    ]


def test_the_summary_counts_its_runs_and_names_its_steps_and_writes_the_same_tables(tmp_path):
    for seed in range(3):
        write_run(tmp_path, "d", "small", seed=seed, accuracy=0.8 + seed / 100)
        write_run(tmp_path, "d", "big", seed=seed, accuracy=0.7 + seed / 100)
    lines = []
    runs = collect_runs(
        tmp_path, None, Progress("read", "run directories", clock=ticking(0.0, 0.25), emit=lines.append)
    )
    assert len(runs) == 6 and lines == ["read 6 of 6 run directories (100 %), 0.2 s"]
    phases = Phases("summary", emit=lines.append)
    write_summary(runs, None, tmp_path / "with", phases=phases)
    write_summary(collect_runs(tmp_path), None, tmp_path / "without")
    assert lines[1:] == ["summary: tables", "summary: tests and permutations", "summary: tables", "summary: writing"]
    written = sorted(p.name for p in (tmp_path / "with").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "without").iterdir()) and "summary.md" in written
    for name in written:
        text = (tmp_path / "with" / name).read_bytes()
        assert text == (tmp_path / "without" / name).read_bytes() and b"summary: " not in text, name


def test_progress_lines_go_to_the_mlpsweep_log(caplog):
    caplog.set_level("INFO", logger="mlpsweep")
    list(Progress("read", "run directories", clock=ticking(0.0)).track([1, 2]))
    assert [r.getMessage() for r in caplog.records if r.name == progress_module.log.name] == [
        "read 2 of 2 run directories (100 %), 0.0 s"
    ]
