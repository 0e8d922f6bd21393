"""The demo's interval clocks: parallel runs count once, and a query beside the Glue jobs is not overhead."""

from localaws.demo import IntervalClock


def test_overlapping_intervals_count_once():
    clock = IntervalClock(_closed=[(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)])
    assert clock.busy_seconds() == 4.0
    assert clock.summed_seconds() == 5.0


def test_busy_seconds_outside_leaves_out_the_time_the_other_clock_was_busy():
    glue = IntervalClock(_closed=[(2.0, 10.0), (3.0, 9.0), (12.0, 14.0)])
    athena = IntervalClock(_closed=[(1.0, 4.0), (11.0, 13.0), (20.0, 21.0)])
    # 1-2 and 11-12 and 20-21 are Athena alone: 3 s; 2-4 and 12-13 were beside a Glue run.
    assert athena.busy_seconds_outside(glue) == 3.0
    assert athena.busy_seconds_outside(IntervalClock()) == athena.busy_seconds() == 6.0
