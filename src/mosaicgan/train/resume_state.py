"""Reading a resume state back into a task, with one-line errors for states that do not fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mosaicgan.config import flatten
from mosaicgan.errors import UserError

REQUIRED = ("nets", "optimizers", "extra", "rng_cpu", "step", "epoch", "done_in_epoch")

# Keys that do not change what a run computes, so config.toml may be edited between sessions
# (a moved data folder, more loader processes, another device, other log/save intervals, memory
# layout, compilation, the CPU's convolution kernels and branches side by side, which change
# rounding only, and the allocator setting, which changes nothing computed). Keys added by a later version are in the
# run's config.toml but not in its older resume state: they must be here too.
MAY_CHANGE = ("data.root", "data.num_workers", "run.device", "run.log_every", "run.sample_every",
              "run.save_every", "run.keep_every_epochs", "run.channels_last", "run.compile",
              "run.keep_freed_memory", "run.small_map_gemm", "data.decode_cache", "run.branches")


def check_config_unchanged(saved: dict[str, Any] | None, current: dict[str, Any], *, path: Path,
                           defaults: dict[str, Any] | None = None) -> None:
    """A resumed run must train with the config it started with; resume states from older
    versions carry no config, and are not checked. A key the saved config lacks was added by a
    later version: at its default (`defaults`, the model's) it computes what the old run did, as
    a new key's default always keeps the old behaviour."""
    if not saved:
        return
    old, new = flatten(saved), flatten(current)
    added_at_default = {k for k, v in flatten(defaults or {}).items() if k not in old and new.get(k) == v}
    changed = [k for k in sorted(set(old) | set(new))
               if k not in MAY_CHANGE and k not in added_at_default and old.get(k) != new.get(k)]
    if changed:
        k = changed[0]
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        raise UserError(
            f"config.toml was edited after the run started ({k}: {old.get(k)!r} -> {new.get(k)!r}{more}); "
            f"a run resumes with the config it started with (only {', '.join(MAY_CHANGE)} may change)",
            path=path,
        )


def restore(task: Any, state: dict[str, Any], *, path: Path) -> None:
    """Load weights, optimizer and task state; a state of another model or shape is a UserError."""
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise UserError(f"resume state lacks {', '.join(missing)} (damaged, or not written by mosaicgan)", path=path)
    kind = state.get("kind")
    if kind is not None and kind != task.kind:
        raise UserError(f"resume state is of a {kind} run, but this run trains {task.kind}", path=path)
    nets, opts = task.nets(), task.optimizers()
    for what, wanted, stored in (("networks", nets, state["nets"]), ("optimizers", opts, state["optimizers"])):
        if not isinstance(stored, dict) or set(stored) != set(wanted):
            have = ", ".join(sorted(stored)) if isinstance(stored, dict) else type(stored).__name__
            raise UserError(f"resume state holds {what} {have or 'none'}, but this run has "
                            f"{', '.join(sorted(wanted))} (a resume state of another model?)", path=path)
    for key, net in nets.items():
        try:
            net.load_state_dict(state["nets"][key])
        except (RuntimeError, TypeError, AttributeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"weights of {key!r} in the resume state do not fit this run's network ({first})",
                            path=path) from None
    for key, opt in opts.items():
        try:
            opt.load_state_dict(state["optimizers"][key])
        except (ValueError, KeyError, TypeError) as err:
            raise UserError(f"optimizer state of {key!r} does not fit this run's network ({err})", path=path) from None
    try:
        task.load_extra_state(state["extra"])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise UserError(f"task state in the resume state does not fit this run ({type(err).__name__}: {err})",
                        path=path) from None
