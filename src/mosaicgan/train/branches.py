"""Two independent parts of one training step, run side by side on the CPU.

CycleGAN's generator loss is two cycles that share weights but no activations (A -> B -> A and
B -> A -> B, each with its GAN and identity terms), and its D step is two discriminators that
share nothing. On the CPU torch splits every operation over its threads, and many of a step's
operations (norms, activations, pads, small products) gain little from a second thread; two
branches each on half of the threads keep every core on whole convolutions instead (README,
training speed: CycleGAN on 2 threads, one step 5.9 -> 5.3-5.5 s).

Side by side only where the outcome cannot depend on which branch finishes first:
- two branches, no more: each adds its gradient to a parameter once (one backward per branch),
  and a + b == b + a exactly in floating point; with a third the order of the sums would vary;
- no network that draws random numbers (dropout) or updates buffers (batch norm statistics)
  while training: those would interleave differently from run to run;
- not under torch.compile (its first call compiles, which two threads must not do at once) and
  not with fp16 (its gradient scaler is made lazily, by whichever thread comes first).
Otherwise, and on a GPU (one stream runs the branches one after the other anyway), the branches
run in order in the calling thread, so a task has one code path for both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from mosaicgan.ops.cpu_autocast import cpu_autocast, set_cpu_autocast

T = TypeVar("T")


def _autocast_state() -> tuple[bool, torch.dtype, bool]:
    return (*cpu_autocast(), torch.is_autocast_cache_enabled())


def _set_autocast_state(state: tuple[bool, torch.dtype, bool]) -> None:
    on, dtype, cache = state
    set_cpu_autocast(on, dtype)
    torch.set_autocast_cache_enabled(cache)


class Branches:
    """Runs two callables (each a forward and its own backward) and returns their results in
    order. `threads` is each branch's intra-op thread count; 0 runs them in order here."""

    def __init__(self, *, threads: int = 0) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def side_by_side(self) -> bool:
        return self.threads > 0

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                # The intra-op thread count that operations use is per thread (OpenMP's and
                # MKL's): set once in each worker, the calling thread keeps its own. (torch also
                # makes it the default for threads started later, and resizes a pool that only
                # mobile kernels use.)
                pool = ThreadPoolExecutor(2, thread_name_prefix="branch", initializer=torch.set_num_threads,
                                          initargs=(self.threads,))
                # Both workers start here, before any work. The pool starts them lazily inside
                # submit(), and a Ctrl-C that lands while it waits for a new thread to start
                # leaves that thread out of the set shutdown() joins: close() then returned while
                # that branch still ran (seen 1 run in 12). Two tasks that wait for each other
                # need two threads.
                meet = threading.Barrier(2)
                for warm in [pool.submit(meet.wait, 10) for _ in range(2)]:
                    warm.result()
                self._pool = pool
            return self._pool

    def run(self, first: Callable[[], T], second: Callable[[], T]) -> tuple[T, T]:
        """Both results, in order. If both fail, the first's error is raised; if the caller is
        interrupted (a second Ctrl-C), the branches still finish their work when the run ends."""
        if not self.side_by_side:
            return first(), second()
        # Autocast and grad mode are per thread too: each branch runs under the caller's. Set,
        # not entered: leaving a `torch.autocast` block at nesting level 0 clears autocast's
        # cache of low-precision weight copies, which is one for the whole process, so the
        # first branch to finish would drop it under the other one, and a weight used twice
        # there would get two copies (another rounding) or one, by timing. Set like this, the
        # cache lasts until the caller's own block ends after the step, as in order.
        state = _autocast_state()
        grad_on = torch.is_grad_enabled()

        def call(fn: Callable[[], T]) -> T:
            before = _autocast_state()
            _set_autocast_state(state)
            try:
                with torch.set_grad_enabled(grad_on):
                    return fn()
            finally:
                _set_autocast_state(before)

        pool = self._executor()
        futures = [pool.submit(call, fn) for fn in (first, second)]
        # Both finish before anything is raised: a failed branch must not leave the other one
        # writing gradients while the caller goes on (to save a checkpoint, say).
        errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error
        return futures[0].result(), futures[1].result()

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def _changes_in_training(nets: Iterable[torch.nn.Module]) -> bool:
    """Whether a forward pass in training mode draws random numbers or writes buffers."""
    for net in nets:
        for module in net.modules():
            if isinstance(module, torch.nn.modules.dropout._DropoutNd) and module.p > 0:
                return True
        if any(True for _ in net.buffers()):
            return True
    return False


def plan_branches(*, nets: Iterable[torch.nn.Module], device: torch.device, precision: str, compiled: bool,
                  enabled: bool = True) -> Branches:
    """Side by side, half of this thread's intra-op threads each, where that is safe (above)."""
    threads = torch.get_num_threads() // 2
    if (not enabled or device.type != "cpu" or threads < 1 or compiled or precision == "fp16"
            or _changes_in_training(nets)):
        return Branches()
    return Branches(threads=threads)
