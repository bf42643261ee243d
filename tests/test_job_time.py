"""job_time.py: a training job's wall time split into parts, nested parts counted once."""

from __future__ import annotations

import time

import pytest

from mlpsweep import job_time
from mlpsweep.job_time import PARTS, WRITER, JobClock
from mlpsweep.writer import Writer


def test_a_part_inside_another_takes_its_time_from_the_outer_one():
    clock = JobClock(started=time.perf_counter())
    with clock.part("evaluation"):
        time.sleep(0.02)
        with clock.part("writing"):
            time.sleep(0.05)
        time.sleep(0.02)
    report = clock.report()
    assert 0.04 <= report["evaluation"] < 0.05 + 0.04 and report["writing"] >= 0.05
    assert report["evaluation"] + report["writing"] == pytest.approx(0.09, abs=0.04)
    assert report["wall"] >= report["evaluation"] + report["writing"] and report["other"] >= 0
    assert set(report) == {*PARTS, "other", "wall", WRITER}


def test_time_measured_inside_a_part_moves_to_another():
    clock = JobClock(started=time.perf_counter())
    with clock.part("training"):
        time.sleep(0.03)
    before = clock.seconds["training"]
    clock.move("training", "validation", 0.01)
    report = clock.report()
    assert report["validation"] == pytest.approx(0.01, abs=1e-3)
    assert report["training"] == pytest.approx(before - 0.01, abs=1e-3) and before >= 0.03


def test_start_up_runs_from_the_process_start():
    age = job_time.process_age()
    assert age is not None and age > 0  # this process started before the test ran
    clock = JobClock()
    clock.mark_started()
    assert clock.report()["start-up"] == pytest.approx(age, abs=1.0)


def test_writer_waits_are_writing_and_its_work_is_counted_beside():
    clock = JobClock(started=time.perf_counter())
    writer = Writer(max_pending=1, clock=clock)
    for _ in range(3):
        writer.submit(None, lambda: time.sleep(0.03))
    writer.close()
    report = clock.report()
    assert report[WRITER] >= 0.09  # three tasks of 30 ms in the writer thread
    assert report["writing"] >= 0.03  # the queue of one made the main thread wait
    assert report["wall"] >= report["writing"]


def test_the_log_line_gives_the_share_in_training_and_every_part():
    report = dict.fromkeys((*PARTS, "other", WRITER), 0.0) | {"wall": 10.0, "training": 4.0, "validation": 1.0}
    line = job_time.summary_line(report)
    assert line.startswith("job time 10.0 s, 50% in training and validation: start-up 0.00 s")
    assert all(f"{part} " in line for part in PARTS) and "writer thread was busy 0.00 s" in line
