"""Stopping training early without losing work: preemption, a dying data worker, a lost launcher.

* **SIGTERM** (what Kubernetes, Slurm and ModelArts send before SIGKILL) and **Ctrl-C**: during training
  MindSpore turns SIGINT into SIGTERM (its ``DefaultIntHandler`` sends SIGTERM to the process), so both
  arrive as SIGTERM. The step under way (in sink mode, the sink under way) finishes, its checkpoint is
  written, the run exits with :data:`EXIT_STOPPED`.
* **A data worker dies** (the out-of-memory killer, a crash in a decoder): MindSpore's dataset watchdog
  ends the other workers and sends SIGTERM to this process. The dead worker is still an unreaped child
  then (:func:`ended_children`), so the cause is named; MindSpore 2.10 cannot replace a worker, so the
  run ends as above, with :data:`EXIT_DATA_WORKER`.
* **msrun goes away** (it has no SIGTERM handler): its ranks see their parent change and stop as above.

All ranks stop after the same step: after every step (every sink) each rank all-reduces its own request
(:class:`GracefulStop`), then the checkpoint is written (rank 0, or every rank with
``TRAIN.SAVE_ALL_RANKS``) and a second all-reduce keeps every rank alive until it is complete.

A Python signal handler only runs once the main thread is back in Python. A watcher thread, woken by the
signal itself (``signal.set_wakeup_fd``; MindSpore releases the GIL while it computes or waits for data),
ends the process if that takes longer than ``TRAIN.STOP_TIMEOUT``, or at once when the main thread waits
for data from workers that are gone; when the main thread is between two steps then, the watcher first
writes the checkpoint of the last finished step itself.
"""
import logging
import os
import signal
import socket
import threading
import time
from typing import Callable, List, NamedTuple, Optional

import mindspore as ms
import numpy as np
from mindspore import ops
from mindspore.train import Callback

from src.training.callbacks import Step
from src.training.checkpoint import CheckpointSaver, list_checkpoints
from src.training.steps import TrainPlan

logger = logging.getLogger(__name__)

#: Exit code of a run stopped by SIGTERM or Ctrl-C (128 + SIGTERM: what a shell reports for a SIGTERM death).
EXIT_STOPPED = 128 + signal.SIGTERM
#: Exit code of a run ended by a dead data worker.
EXIT_DATA_WORKER = 4
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: Seconds a dead worker pool leaves the main thread to come back to Python before the watcher takes over.
_DEAD_POOL_GRACE = 1.0
#: Seconds left to MindSpore's shutdown after the stop's checkpoint when its worker pool is dead.
_DEAD_POOL_SHUTDOWN = 3.0
_HOW = {os.CLD_EXITED: "exited with code", os.CLD_KILLED: "was killed by", os.CLD_DUMPED: "crashed with"}


class EndedChild(NamedTuple):
    """A child process that ended abnormally and is not reaped yet."""

    pid: int
    how: int      # os.CLD_EXITED, os.CLD_KILLED or os.CLD_DUMPED
    status: int   # the exit code, or the signal number

    @property
    def terminated(self) -> bool:
        """Ended by SIGTERM: the whole job is being stopped (Slurm signals every process), not a worker fault."""
        return self.how == os.CLD_KILLED and self.status == signal.SIGTERM

    def describe(self) -> str:
        """``data worker 123 was killed by SIGKILL (...)`` and the like."""
        detail = str(self.status) if self.how == os.CLD_EXITED else signal.Signals(self.status).name
        text = f"data worker {self.pid} {_HOW.get(self.how, 'ended with')} {detail}"
        if self.how == os.CLD_KILLED and self.status == signal.SIGKILL:
            text += " (what the out-of-memory killer sends)"
        return text


def child_pids() -> List[int]:
    """Pids of this process's children, from ``/proc`` (empty where there is no ``/proc``)."""
    me, pids = os.getpid(), []
    try:
        names = os.listdir("/proc")
    except OSError:
        return pids
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after its last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == me:
            pids.append(int(name))
    return pids


def ended_children(pids: Optional[List[int]] = None) -> List[EndedChild]:
    """Children that ended with a non-zero code, by a signal or in a crash, and are not reaped yet.

    Looks with ``os.waitid(..., WNOWAIT)``, which reaps nothing. MindSpore's dataset watchdog leaves a
    dead worker unreaped when it sends its SIGTERM, so the worker is found here; the workers it ends
    itself exit with code 0 and are left out.

    Args:
        pids: the children to look at (default: :func:`child_pids`).
    """
    found = []
    for pid in child_pids() if pids is None else pids:
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            continue
        if info is not None and (info.si_code != os.CLD_EXITED or info.si_status != 0):
            found.append(EndedChild(pid, info.si_code, info.si_status))
    return found


class StopRequest:
    """This process's request to stop: the signal handlers, the cause, and the watcher thread with its timeout.

    Args:
        timeout: seconds from the signal within which the main thread must reach the end of a step.
        watch_parent: a change of the parent process (msrun gone) is a request too.
        exit_process: ends the process with an exit code (``os._exit``; tests record instead).
    """

    def __init__(self, timeout: float, watch_parent: bool = False,
                 exit_process: Callable[[int], None] = os._exit) -> None:
        self.timeout = float(timeout)
        self.exit_process = exit_process
        self.signum: Optional[int] = None
        self.cause = ""
        self.exit_code = EXIT_STOPPED
        self.dead_pool = False
        #: Writes the checkpoint of the last finished step from the watcher thread and returns its path.
        self.rescue: Optional[Callable[[], str]] = None
        #: The final line, given the checkpoint written ("" when none) and how the process ends.
        self.end_line: Callable[[str, str], str] = lambda saved, how="": f"stopped {how}: {self.cause}"
        self._parent = os.getppid() if watch_parent else None
        self._previous: dict = {}
        self._sockets: Optional[tuple] = None
        self._old_wakeup_fd = -1
        self._lock = threading.Lock()
        self._classify_lock = threading.Lock()
        self._classified = False
        self._idle = False
        self._signalled = threading.Event()
        self._done = threading.Event()

    # ---------------------------------------------------------------- main thread
    def install(self) -> None:
        """Handlers for SIGTERM and SIGINT and the watcher thread (from the main thread)."""
        for signum in _STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        read_end, write_end = socket.socketpair()
        write_end.setblocking(False)
        self._sockets = (read_end, write_end)
        self._old_wakeup_fd = signal.set_wakeup_fd(write_end.fileno(), warn_on_full_buffer=False)
        threading.Thread(target=self._watch, args=(read_end,), name="stop-watcher", daemon=True).start()

    def uninstall(self) -> None:
        """The previous handlers back; the watcher ends unless a stop is under way."""
        if self._sockets is None:
            return
        signal.set_wakeup_fd(self._old_wakeup_fd)
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        if not self._signalled.is_set():
            self._sockets[1].close()            # the watcher's recv returns b"" and it ends
        self._sockets = None

    def _handle(self, signum: int, frame) -> None:  # pylint: disable=unused-argument
        if self.signum is None:
            self.signum = signum

    @property
    def requested(self) -> bool:
        """Whether this process was asked to stop: a signal came, or its launcher is gone."""
        if self.signum is None and self._parent is not None and os.getppid() != self._parent:
            self.signum = signal.SIGTERM
            self.cause = f"the launcher (process {self._parent}) is gone"
        return self.signum is not None

    def step_begins(self) -> None:
        with self._lock:                        # waits while the watcher writes a checkpoint
            self._idle = False

    def step_ends(self) -> None:
        self._idle = True

    def finished(self) -> None:
        """The stop's checkpoint is written (or not this rank's to write): nothing is left for the watcher."""
        self._done.set()

    # ---------------------------------------------------------------- watcher thread
    def classify(self) -> None:
        """Names the cause of this process's request, once: a dead data worker, the whole job stopping, a
        plain SIGTERM (or Ctrl-C), or the launcher gone. Called by whichever thread needs it first."""
        with self._classify_lock:
            if self._classified:
                return
            self._classified = True
            ended = ended_children()
            faults = [child for child in ended if not child.terminated]
            if faults:
                self.cause, self.exit_code, self.dead_pool = faults[0].describe(), EXIT_DATA_WORKER, True
            elif ended:
                self.cause, self.dead_pool = "SIGTERM (the data workers got it too)", True
            elif not self.cause:
                self.cause = "SIGTERM or Ctrl-C"

    def _watch(self, read_end: socket.socket) -> None:
        while True:
            data = read_end.recv(64)
            if not data:
                return
            if any(byte in _STOP_SIGNALS for byte in data):
                break
        start = time.monotonic()
        self._signalled.set()
        self.classify()
        if self.signum is None:
            self.signum = signal.SIGTERM
        if not self._done.is_set():
            logger.warning("%s: finishing the step under way", self.cause)
        while not self._done.wait(0.1):
            waited = time.monotonic() - start
            if waited > self.timeout or (self.dead_pool and self._idle and waited > _DEAD_POOL_GRACE):
                self._end_now(waited)
                return
        # The checkpoint is written and the process is ending. MindSpore's shutdown of a dead worker pool hangs
        # (its GeneratorOp thread is never joined): that is not waited for; any other shutdown gets the timeout.
        left = self.timeout - (time.monotonic() - start)
        time.sleep(max(min(left, _DEAD_POOL_SHUTDOWN) if self.dead_pool else left, 0.0))
        for handler in logging.getLogger().handlers:
            handler.flush()
        self.exit_process(self.exit_code)

    def _end_now(self, waited: float) -> None:
        with self._lock:                        # the main thread cannot start a step meanwhile
            saved = ""
            if self._idle and self.rescue is not None:
                try:
                    saved = self.rescue()
                except Exception as err:  # pylint: disable=broad-except  (the process ends either way)
                    logger.error("the checkpoint of the last finished step could not be written: %s", err)
            why = ("while waiting for data that cannot come" if self._idle
                   else f"as the step under way did not end within TRAIN.STOP_TIMEOUT ({waited:.0f} s)")
            logger.error("%s", self.end_line(saved, why))
            for handler in logging.getLogger().handlers:
                handler.flush()
            self.exit_process(self.exit_code)


class GracefulStop(Callback):
    """Stops every rank after the same step once one of them is asked to, with that step's checkpoint.

    Place it last, after the checkpoint saver: a step already saved by the schedule is not written again.

    Args:
        request: this process's :class:`StopRequest` (installed at the start of training).
        plan: the run's steps.
        saver: this rank's checkpoint saver; None on ranks that write no checkpoint.
        group_size: ranks of the run (more than one: they agree by all-reduce after every step).
        rescue: the watcher may write the checkpoint of the last finished step itself (only when this
            rank alone writes checkpoints, so that no other rank's folder lags behind).
    """

    def __init__(self, request: StopRequest, plan: TrainPlan, saver: Optional[CheckpointSaver] = None,
                 group_size: int = 1, rescue: bool = False) -> None:
        super().__init__()
        self.request = request
        self.plan = plan
        self.saver = saver
        self.stopped = False
        self.last: Optional[Step] = None
        self._all_reduce = ops.AllReduce() if group_size > 1 else None
        if rescue and saver is not None:
            request.rescue = self._rescue
        request.end_line = self.end_line

    def on_train_begin(self, run_context):
        self.request.install()

    def on_train_step_begin(self, run_context):
        self.request.step_begins()

    def on_train_step_end(self, run_context):
        steps = run_context.original_args().get("steps", [])
        if steps:
            self.last = steps[-1]
        if self._agree(self.request.requested):
            if self._run_complete():            # the run ends here anyway, with its last checkpoint
                self.request.finished()
            else:
                self._stop(run_context)
        self.request.step_ends()

    def _stop(self, run_context) -> None:
        """Writes the checkpoint of the last step (unless saved already), waits for every rank, stops."""
        if self.request.requested:
            self.request.classify()
        else:
            self.request.cause = "another rank was asked to stop"
        saved = ""
        try:
            if self.saver is not None and self.last is not None:
                saved = self.saver.save_step(self.last)
        finally:
            self._agree(False)                  # every rank waits here until the checkpoint is complete
            self.request.finished()
        self.stopped = True
        report = logger.error if self.request.exit_code == EXIT_DATA_WORKER else logger.warning
        report("%s", self.end_line(saved))
        run_context.request_stop()

    def on_train_end(self, run_context):
        if not self.stopped:
            self.request.uninstall()

    def _run_complete(self) -> bool:
        return self.last is not None and self.last.global_step >= self.plan.last_step

    def _agree(self, local: bool) -> bool:
        """Whether any rank has ``local`` set (this rank's value without other ranks)."""
        if self._all_reduce is None:
            return local
        total = self._all_reduce(ms.Tensor(np.array([float(local)], np.float32)))
        return float(total.asnumpy().reshape(-1)[0]) > 0

    def _rescue(self) -> str:
        return self.saver.save_step(self.last) if self.last is not None else ""

    def end_line(self, saved: str, how: str = "") -> str:
        """``stopped after step S of epoch E (global step G): CAUSE; <checkpoint> ...``, the line a stop ends with.

        Args:
            saved: the checkpoint written for the stop ("" when none).
            how: why the process ends from the watcher thread ("while waiting for data that cannot come").
        """
        last = self.last
        where = (f"after step {last.step} of epoch {last.epoch} (global step {last.global_step})" if last
                 else "before the first step of this run")
        where += f" {how}" if how else ""
        if saved:
            then = f"wrote {saved}; --resume auto continues from it"
        elif self.saver is None:
            then = "rank 0 writes the checkpoint"
        else:
            newest = list_checkpoints(self.saver.directory)
            then = f"--resume auto continues from {newest[-1]}" if newest else "no checkpoint yet"
        return f"stopped {where}: {self.request.cause}; {then}"
