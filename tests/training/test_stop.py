"""Stopping training early (src/training/stop.py): dead children found without reaping them, a SIGTERM during
Model.train that ends the run after the step under way with that step's checkpoint, and the watcher thread that
writes the last finished step's checkpoint when the main thread waits for data that cannot come, or gives up
after the timeout. train.py with these faults, and msrun's ranks stopping together: test_train.py."""
import os
import signal
import threading
import time

import mindspore as ms
import mindspore.dataset as ds
import numpy as np
from mindspore import nn
from mindspore.train import Callback, Model

from src.training.callbacks import StepRecord
from src.training.checkpoint import CheckpointSaver, list_checkpoints
from src.training.steps import make_plan
from src.training.stop import (EXIT_DATA_WORKER, EXIT_STOPPED, EndedChild, GracefulStop, StopRequest,
                               ended_children)
from src.training.train_step import TrainStep


def fork_child(action: str) -> int:
    """A child process that exits with 0 or 3, or waits to be killed; returns its pid."""
    pid = os.fork()
    if pid == 0:   # the child: no Python clean-up, no pytest
        if action == "wait":
            time.sleep(60)
        os._exit(3 if action == "fail" else 0)
    return pid


def wait_until(condition, seconds=10.0):
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)
    assert condition()


def test_ended_children_are_named_and_left_unreaped():
    killed, failed, fine, terminated = (fork_child(a) for a in ("wait", "fail", "ok", "wait"))
    os.kill(killed, signal.SIGKILL)
    os.kill(terminated, signal.SIGTERM)
    pids = [killed, failed, fine, terminated]
    wait_until(lambda: all(os.waitid(os.P_PID, p, os.WEXITED | os.WNOHANG | os.WNOWAIT) for p in pids))
    found = {child.pid: child for child in ended_children(pids)}
    assert set(found) == {killed, failed, terminated}   # the one that exited with 0 is not a fault
    assert found[killed].describe() == f"data worker {killed} was killed by SIGKILL (what the out-of-memory killer " \
                                       f"sends)"
    assert found[failed].describe() == f"data worker {failed} exited with code 3"
    assert found[terminated].terminated and not found[killed].terminated
    assert set(found) <= {child.pid for child in ended_children()}   # all children by default
    for pid in pids:   # still there to be reaped: nothing was taken from their parent
        assert os.waitpid(pid, 0)[0] == pid
    assert EndedChild(1, os.CLD_DUMPED, signal.SIGSEGV).describe() == "data worker 1 crashed with SIGSEGV"


# ---- a SIGTERM during Model.train ---------------------------------------------------------------------------

STEPS = 6   # per epoch


class SendSignal(Callback):
    """Sends ``signum`` to this process at the end of global step ``at``."""

    def __init__(self, at: int, signum: int = signal.SIGTERM):
        super().__init__()
        self.at, self.signum, self.seen = at, signum, []

    def on_train_step_end(self, run_context):
        self.seen.append(run_context.original_args().steps[-1].global_step)
        if self.seen[-1] == self.at:
            os.kill(os.getpid(), self.signum)


def toy_training(folder, timeout=2.0):
    """A small training Cell, its dataset of ``STEPS`` batches, the callbacks of train.py and the exits recorded."""
    ms.set_seed(0)
    net = nn.Dense(8, 4)
    optimizer = nn.Adam(net.trainable_params(), learning_rate=0.01)
    train_net = TrainStep(nn.WithLossCell(net, nn.MSELoss()), optimizer)
    rng = np.random.default_rng(0)
    data = ds.NumpySlicesDataset({"x": rng.standard_normal((STEPS * 2, 8)).astype(np.float32),
                                  "y": rng.standard_normal((STEPS * 2, 4)).astype(np.float32)}, shuffle=False).batch(2)
    plan = make_plan(STEPS, 0, 2)
    exits = []
    request = StopRequest(timeout, exit_process=exits.append)
    saver = CheckpointSaver(train_net, str(folder), plan, save_epoch=1)
    stop = GracefulStop(request, plan, saver, rescue=True)
    record = StepRecord(plan, optimizer.global_step, train_net.loss_record, np.full(2 * STEPS, 0.01))
    return train_net, data, [record, saver, stop], exits


def test_sigterm_stops_after_the_step_under_way_with_its_checkpoint(tmp_path, caplog):
    train_net, data, callbacks, exits = toy_training(tmp_path)
    stop = callbacks[-1]
    sender = SendSignal(at=8)
    previous = signal.getsignal(signal.SIGTERM)
    with caplog.at_level("WARNING"):
        Model(train_net).train(2, data, callbacks=[callbacks[0], sender, *callbacks[1:]], dataset_sink_mode=False)
    try:
        assert stop.stopped and stop.request.exit_code == EXIT_STOPPED and sender.seen == list(range(1, 9))
        assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path))] == ["simplepose-1_6.ckpt",
                                                                                 "simplepose-2_2.ckpt"]
        saved = ms.load_checkpoint(str(tmp_path / "simplepose-2_2.ckpt"))
        assert int(saved["global_step"].asnumpy()[0]) == 8
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stopped")]
        assert lines == [(f"stopped after step 2 of epoch 2 (global step 8): SIGTERM or Ctrl-C; wrote "
                             f"{tmp_path}/simplepose-2_2.ckpt; --resume auto continues from it")]
        # The watcher ends the process only if its shutdown outlasts the timeout.
        wait_until(lambda: exits == [EXIT_STOPPED])
    finally:
        stop.request.uninstall()
    assert signal.getsignal(signal.SIGTERM) is previous


def test_no_stop_when_no_signal_and_handlers_restored(tmp_path):
    train_net, data, callbacks, exits = toy_training(tmp_path)
    previous = signal.getsignal(signal.SIGTERM)
    Model(train_net).train(2, data, callbacks=callbacks, dataset_sink_mode=False)
    assert not callbacks[-1].stopped and exits == [] and signal.getsignal(signal.SIGTERM) is previous
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path))] == ["simplepose-1_6.ckpt",
                                                                             "simplepose-2_6.ckpt"]


# ---- the watcher thread ------------------------------------------------------------------------------------

def test_a_dead_worker_while_waiting_for_data_gets_the_last_steps_checkpoint_from_the_watcher(caplog):
    """The main thread waits for data (between steps) when a worker dies: the watcher writes the checkpoint."""
    exits, written = [], []
    request = StopRequest(timeout=30, exit_process=exits.append)
    request.rescue = lambda: written.append(threading.current_thread().name) or "ckpt/simplepose-1_3.ckpt"
    request.end_line = lambda saved, how="": f"stopped {how}: {request.cause}; wrote {saved}"
    worker = fork_child("wait")
    request.install()
    try:
        request.step_begins()
        request.step_ends()                      # between two steps, as while waiting for the next batch
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: os.waitid(os.P_PID, worker, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None)
        with caplog.at_level("WARNING"):
            start = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)  # what MindSpore's dataset watchdog sends
            wait_until(lambda: exits)
        assert time.monotonic() - start < 5 and exits == [EXIT_DATA_WORKER] and written == ["stop-watcher"]
        assert request.cause == f"data worker {worker} was killed by SIGKILL (what the out-of-memory killer sends)"
        assert caplog.records[-1].getMessage() == (f"stopped while waiting for data that cannot come: "
                                                   f"{request.cause}; wrote ckpt/simplepose-1_3.ckpt")
    finally:
        request.uninstall()
        os.waitpid(worker, 0)


def test_a_step_that_does_not_end_is_given_up_after_the_timeout(caplog):
    exits, written = [], []
    request = StopRequest(timeout=1, exit_process=exits.append)
    request.rescue = lambda: written.append(1) or "never"
    request.install()
    try:
        request.step_begins()                    # a step that never ends
        with caplog.at_level("WARNING"):
            start = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)
            wait_until(lambda: exits)
        assert 1 <= time.monotonic() - start < 3 and exits == [EXIT_STOPPED] and written == []
        assert caplog.records[-1].getMessage() == ("stopped as the step under way did not end within "
                                                   "TRAIN.STOP_TIMEOUT (1 s): SIGTERM or Ctrl-C")
    finally:
        request.uninstall()


def test_the_launcher_gone_is_a_request():
    request = StopRequest(timeout=1, watch_parent=True)
    assert not request.requested
    request._parent = -1   # pylint: disable=protected-access  (as if msrun had been replaced by init)
    assert request.requested and request.cause == "the launcher (process -1) is gone"
