import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from conftest import interrupt_after_steps
from mosaicgan.checkpoint import load_checkpoint, load_train_state
from mosaicgan.train import loop
from mosaicgan.train.branches import Branches, plan_branches
from mosaicgan.train.cyclegan import CycleGANTask
from mosaicgan.train.loop import train
from test_train_cyclegan import make_red_blue, tiny_cyclegan_config


@pytest.fixture
def two_threads():
    """Branches need at least two intra-op threads (the suite runs with one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def cpu_plan(config, **kw):
    task = CycleGANTask(config)
    return plan_branches(nets=task.nets().values(), device=torch.device("cpu"), **{"precision": "fp32",
                                                                                   "compiled": False, **kw})


def test_plan_is_side_by_side_only_where_the_outcome_cannot_depend_on_the_schedule(two_threads):
    config = tiny_cyclegan_config("unused")
    assert cpu_plan(config).threads == 1  # instance norm, no dropout: each branch on one of the two threads
    assert cpu_plan(config, precision="bf16").side_by_side
    # Dropout draws random numbers, batch norm updates its statistics: from two threads at
    # once they would interleave differently each run.
    assert not cpu_plan(tiny_cyclegan_config("unused", **{"nets.dropout": True})).side_by_side
    assert not cpu_plan(tiny_cyclegan_config("unused", **{"nets.norm": "batch"})).side_by_side
    assert not cpu_plan(config, precision="fp16").side_by_side
    assert not cpu_plan(config, compiled=True).side_by_side
    assert not cpu_plan(config, enabled=False).side_by_side
    task = CycleGANTask(config)
    assert not plan_branches(nets=task.nets().values(), device=torch.device("cuda"), precision="fp32",
                             compiled=False).side_by_side
    torch.set_num_threads(1)
    assert not cpu_plan(config).side_by_side


def test_each_branch_runs_on_its_threads_under_the_callers_autocast_and_grad_mode(two_threads):
    branches = Branches(threads=1)
    seen = []

    def probe():
        seen.append((threading.current_thread() is threading.main_thread(), torch.get_num_threads(),
                     torch.is_grad_enabled(), (torch.ones(2, 2) @ torch.ones(2, 2)).dtype))
        return len(seen)

    try:
        with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
            results = branches.run(probe, probe)
        assert sorted(results) == [1, 2]
        assert seen == [(False, 1, False, torch.bfloat16)] * 2
        assert torch.get_num_threads() == 2  # the caller's own count is untouched
        results = branches.run(probe, probe)
        assert seen[2:] == [(False, 1, True, torch.float32)] * 2
    finally:
        branches.close()


def test_a_failing_branch_raises_after_the_other_has_finished(two_threads):
    branches = Branches(threads=1)
    finished = []

    def slow():
        time.sleep(0.3)
        finished.append(True)

    def fails():
        raise ValueError("boom")

    try:
        with pytest.raises(ValueError, match="boom"):
            branches.run(fails, slow)
        assert finished == [True]  # nothing is still writing gradients when the caller goes on
    finally:
        branches.close()


def cyclegan_steps(branches, *, steps=3, bf16=False, **overrides):
    torch.manual_seed(0)
    task = CycleGANTask(tiny_cyclegan_config("unused", **{"loss.pool_size": 2, **overrides}))
    task.branches = branches
    gen = torch.Generator().manual_seed(1)
    logs = []
    for _ in range(steps):
        batch = {"a": torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1,
                 "b": torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1}
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):  # as the loop wraps each step
            logs.append({k: float(v) for k, v in task.step(batch).items()})
    return task, logs


def weights(task):
    return {f"{n}.{k}": v.clone() for n, net in task.nets().items() for k, v in net.state_dict().items()}


def grads(task):
    return {f"{n}.{k}": p.grad.clone() for n, net in task.nets().items() for k, p in net.named_parameters()}


def test_side_by_side_is_repeatable_and_computes_what_in_order_does(two_threads):
    side = Branches(threads=1)
    try:
        runs = [cyclegan_steps(side) for _ in range(2)]
        first_side, _ = cyclegan_steps(side, steps=1)
        bf16_runs = [cyclegan_steps(side, bf16=True) for _ in range(2)]
    finally:
        side.close()
    (a, logs_a), (b, logs_b) = runs
    wa, wb = weights(a), weights(b)
    # Bit for bit from run to run (what exact resume needs), in float32 and under bf16 autocast ...
    assert all(torch.equal(wa[k], wb[k]) for k in wa) and logs_a == logs_b
    (c, logs_c), (d, logs_d) = bf16_runs
    wc, wd = weights(c), weights(d)
    assert all(torch.equal(wc[k], wd[k]) for k in wc) and logs_c == logs_d and logs_c != logs_a
    initial = weights(CycleGANTask(tiny_cyclegan_config("unused")))
    assert any(not torch.equal(initial[k], wa[k]) for k in wa)  # the steps did change the weights
    # ... and the same training as in order, up to the rounding of other thread counts: the
    # first step's gradients (from equal weights) and three steps' losses. (Not the weights:
    # a conv bias before instance norm has a zero gradient up to rounding, which Adam scales
    # up to full steps of either sign.)
    first_in_order, _ = cyclegan_steps(Branches(), steps=1)
    gs, go = grads(first_side), grads(first_in_order)
    assert gs.keys() == go.keys()
    for k in gs:
        torch.testing.assert_close(gs[k], go[k], rtol=1e-3, atol=1e-6, msg=k)
    _, in_order_logs = cyclegan_steps(Branches())
    assert [set(x) for x in logs_a] == [set(x) for x in in_order_logs]
    for x, y in zip(logs_a, in_order_logs, strict=True):
        assert all(x[k] == pytest.approx(y[k], rel=1e-3) for k in x), (x, y)


def test_wgan_gp_and_no_identity_steps_side_by_side(two_threads):
    side = Branches(threads=1)
    try:
        _, gp_logs = cyclegan_steps(side, steps=1, **{"loss.gan_mode": "wgan-gp"})
        _, plain_logs = cyclegan_steps(side, steps=1, **{"loss.lambda_identity": 0.0})
    finally:
        side.close()
    assert {"loss_d_a_gp", "loss_d_b_gp", "loss_idt_a"} <= set(gp_logs[0])
    assert "loss_idt_a" not in plain_logs[0] and "loss_d_a_real" in plain_logs[0]


def test_training_resumes_exactly_with_branches_side_by_side(two_threads, tmp_path, monkeypatch, capsys):
    plans = []

    def recording_plan(**kw):
        plans.append(plan_branches(**kw))
        return plans[-1]

    monkeypatch.setattr(loop, "plan_branches", recording_plan)
    used = []
    executor = Branches._executor

    def counting_executor(self):
        used.append(self)
        return executor(self)

    monkeypatch.setattr(Branches, "_executor", counting_executor)
    root = make_red_blue(tmp_path / "data", n_a=6, n_b=4, n_test=1, seed=3)
    config = tiny_cyclegan_config(root, **{"data.preprocess": "resize_and_crop", "data.load_size": 40,
                                           "data.crop_size": 32, "optim.batch_size": 2, "loss.pool_size": 3})
    full = train(config, run_dir=tmp_path / "full", progress=True)
    said = capsys.readouterr()
    assert "branches: each step's two halves side by side, 1 thread(s) each" in said.out + said.err
    part = train(config, run_dir=tmp_path / "part", progress=False, stop_after=4)
    resumed = train(config, run_dir=tmp_path / "part", progress=False, resume=True)
    assert full.finished and not part.finished and resumed.finished and resumed.step == full.step == 6
    assert len(plans) == 3 and all(p.side_by_side for p in plans)
    assert {id(p) for p in used} == {id(p) for p in plans}  # each run did step side by side ...
    assert all(p._pool is None for p in plans)  # ... and closed its threads when it ended
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "part")
    for key in ("gen_ab", "gen_ba", "disc_a", "disc_b"):
        sa, sb = a.nets[key].state_dict(), b.nets[key].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), key


def test_a_weight_keeps_one_low_precision_copy_however_the_branches_are_timed(two_threads):
    # Under autocast, each use of a weight in the step shares one bf16 copy (autocast's cache
    # lasts until the caller's block ends), so its gradient is summed the same way each run.
    # Here the fast branch ends between the slow one's two uses of the weight.
    w = torch.randn(8, 8, requires_grad=True)
    x = torch.randn(4, 8)
    branches = Branches(threads=1)

    def slow():
        first = torch.mm(x, w)
        time.sleep(0.3)
        return first, torch.mm(x, w)

    def fast():
        return (torch.mm(x, w),)

    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            (first, second), (other,) = branches.run(slow, fast)
            again = torch.mm(x, w)
    finally:
        branches.close()
    # The cast nodes are held while compared: torch 2.2 to 2.7 at least keeps no Python object
    # for a node that nothing references, so the id() of a dropped one says nothing.
    casts = [t.grad_fn.next_functions[1][0] for t in (first, second, other, again)]
    assert first.dtype == torch.bfloat16 and all(c is casts[0] for c in casts)


def test_the_two_cycles_add_up_to_the_reference_generator_loss():
    # CycleGANModel.backward_G's one loss, from the same weights and batch: the two branches'
    # backward passes give its gradients.
    from mosaicgan.losses.adversarial import generator_loss
    from mosaicgan.losses.pixel import l1
    from mosaicgan.train.task import set_requires_grad

    config = tiny_cyclegan_config("unused", **{"loss.lambda_identity": 0.5})
    torch.manual_seed(5)
    task = CycleGANTask(config)
    torch.manual_seed(5)
    ref = CycleGANTask(config)
    assert all(torch.equal(p, q) for p, q in zip(task.gen_ab.parameters(), ref.gen_ab.parameters(), strict=True))
    gen = torch.Generator().manual_seed(3)
    a, b = (torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1 for _ in range(2))
    task.step({"a": a, "b": b})  # G's gradients stay in .grad until the next step
    set_requires_grad([ref.disc_a, ref.disc_b], False)
    mode, lc, li = config.loss.gan_mode, config.loss.lambda_cycle, config.loss.lambda_identity
    fake_b, fake_a = ref.gen_ab(a), ref.gen_ba(b)
    loss = (generator_loss(ref.disc_b(fake_b), mode=mode) + generator_loss(ref.disc_a(fake_a), mode=mode)
            + lc * (l1(ref.gen_ba(fake_b), a) + l1(ref.gen_ab(fake_a), b))
            + li * lc * (l1(ref.gen_ab(b), b) + l1(ref.gen_ba(a), a)))
    loss.backward()
    for name in ("gen_ab", "gen_ba"):
        for (key, p), q in zip(getattr(task, name).named_parameters(), getattr(ref, name).parameters(), strict=True):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-7, msg=f"{name}.{key}")


def cyclegan_cli(root, run, *extra):
    """`mosaicgan train cyclegan` on two threads (branches side by side), long enough to stop."""
    cmd = [sys.executable, "-m", "mosaicgan", "train", "cyclegan", "--data", str(root), "--out", str(run), "--quiet",
           "--set", "data.preprocess=none", "--set", "nets.net_g=resnet_6blocks", "--set", "nets.ngf=8",
           "--set", "nets.ndf=8", "--set", "run.log_every=1", "--batch-size", "2", "--epochs", "500",
           "--epochs-decay", "0", "--workers", "0", "--device", "cpu", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def test_ctrl_c_during_a_side_by_side_step_saves_after_it(tmp_path):
    # The signal lands while the main thread waits for the branches: the run saves after the
    # step, stops with 130 and resumes.
    root = make_red_blue(tmp_path / "data", n_a=6, n_b=4, n_test=1, seed=3)
    run = tmp_path / "run"
    proc = cyclegan_cli(root, run)
    out, err = interrupt_after_steps(proc, run, steps=3)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "stopped by SIGINT" in out
    step = load_train_state(run / "checkpoints" / "resume.pt")["step"]
    assert step >= 3 and f"at iteration {step}," in out
    resumed = subprocess.run([sys.executable, "-m", "mosaicgan", "train", "cyclegan", "--resume", str(run),
                              "--stop-after", str(step + 2), "--quiet"], capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "2"}, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert load_train_state(run / "checkpoints" / "resume.pt")["step"] == step + 2


def test_an_interrupt_while_waiting_leaves_no_branch_running_after_close(two_threads):
    # A second Ctrl-C raises KeyboardInterrupt in the waiting caller; the run's cleanup closes
    # the branches, which lets the running ones end their work before it returns. Python's own
    # handler is installed for the test: a suite started in the background by a non-interactive
    # shell inherits SIGINT ignored, and then nothing is raised.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    branches = Branches(threads=1)
    done, started, release = [], threading.Semaphore(0), threading.Event()

    def slow():
        started.release()
        release.wait(timeout=30)
        done.append(True)

    def interrupt_once_both_run():
        for _ in range(2):
            started.acquire(timeout=30)
        os.kill(os.getpid(), signal.SIGINT)

    killer = threading.Thread(target=interrupt_once_both_run)
    killer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            branches.run(slow, slow)
        assert done == []  # raised at once, while the branches still work
    finally:
        release.set()
        branches.close()
        killer.join()
        signal.signal(signal.SIGINT, previous)
    assert done == [True, True]
