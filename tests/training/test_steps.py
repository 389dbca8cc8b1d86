"""Step arithmetic (src/training/steps.py): steps per epoch, sink sizes, the plan of a run and where it resumes.
The callbacks that follow the plan: test_callbacks.py."""
import pytest

from src.training.steps import chunk_steps, largest_divisor, make_plan


@pytest.mark.parametrize("value,limit", [(2340, 100), (2339, 100), (12, 12), (12, 5), (1, 1), (360, 7)])
def test_largest_divisor_against_a_plain_scan(value, limit):
    assert largest_divisor(value, limit) == max(d for d in range(1, limit + 1) if value % d == 0)


@pytest.mark.parametrize("steps,first,sink,size,save,expected", [
    (2340, 0, False, 100, 0, 2340),      # no sink: one chunk per epoch
    (2340, 0, True, 100, 0, 90),         # the largest divisor of the epoch up to 100
    (2340, 0, True, 0, 0, 2340),         # 0: one sink per epoch, MindSpore's default
    (2340, 0, True, 100, 500, 20),       # sinks also end at every 500th step
    (2340, 3 * 2340 + 500, True, 100, 250, 10),   # ... and where the run resumes (gcd 10)
    (2339, 0, True, 100, 0, 1),          # a prime epoch: one step per sink
    (6, 8, True, 100, 0, 2),
    (6, 8, False, 100, 0, 6),            # no sink: resumed mid-epoch, the chunk stays an epoch
])
def test_chunk_steps(steps, first, sink, size, save, expected):
    chunk = chunk_steps(steps, first, sink, size, save)
    assert chunk == expected
    assert steps % chunk == 0
    if sink:
        assert first % chunk == 0 and (save == 0 or save % chunk == 0)


def test_plan_counts_model_epochs_and_resume_point():
    plan = make_plan(steps=12, first_step=0, end_epoch=3, sink=True, sink_size=4)
    assert (plan.chunk, plan.last_step, plan.model_epochs, plan.initial_model_epoch) == (4, 36, 9, 0)
    resumed = make_plan(steps=12, first_step=20, end_epoch=3, sink=True, sink_size=100, save_steps=4)
    assert resumed.chunk == 4 and resumed.initial_model_epoch == 5 and resumed.model_epochs == 9
    assert [resumed.epoch_and_step(g) for g in (1, 12, 13, 21, 36)] == [(1, 1), (1, 12), (2, 1), (2, 9), (3, 12)]
    # Without sink mode a run resumed mid-epoch starts its first Model epoch part-way.
    assert make_plan(steps=12, first_step=20, end_epoch=3).initial_model_epoch == 1
