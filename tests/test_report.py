from mlpsweep.report import pin_job_times


def test_job_times_are_pinned_and_nothing_else_changes():
    html = '{"rule": "plots", "starttime": "2026-11-24T23:59:05.58", "endtime": "2026-11-24T23:59:31.46"}, {"rule": "summarize", "runtime": 3.3094}] <p>runtime of 3 s</p>'
    pinned = pin_job_times(html)
    assert (
        pinned
        == '{"rule": "plots", "starttime": "1970-01-01T00:00:00", "endtime": "1970-01-01T00:00:00"}, {"rule": "summarize", "runtime": 0}] <p>runtime of 3 s</p>'
    )
    assert pin_job_times(pinned) == pinned
    assert pin_job_times(html.replace("05.58", "07.11").replace("3.3094", "2.9")) == pinned
