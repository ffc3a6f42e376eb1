"""Reading the trainer's weight files (`*.ckpt`, `*.pt`, `--weights FILE`) without ever
running code from them, and the random-number states a checkpoint carries.

Run folders are shared between machines (`--folds` fan-out), so every weight file is
untrusted input. `torch.load(weights_only=True)` rebuilds only tensors and plain containers
(dict, list, tuple, str, int, float, bool, None) and refuses a pickle that names any other
callable, so everything a checkpoint holds is stored in those forms: the random states as
a tensor and lists of ints. A file that does not load that way, or does not have the
expected shape, is refused with one line naming it.
"""

from __future__ import annotations

import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mepipe.errors import MepipeError, one_line

_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_REFUSED_PICKLE = re.compile(r"WeightsUnpickler error:\s*([^\n]+)")


def _reason(exc: Exception) -> str:
    """Why torch.load refused a file, in a few words. Never torch's own advice, which is to
    retry with weights_only=False: exactly what must not be done with an untrusted file."""
    text = str(exc)
    refused = _REFUSED_GLOBAL.search(text)
    if refused:
        return f"it asks to call {refused.group(1)}, which a weights file never does"
    refused = _REFUSED_PICKLE.search(text)
    if refused:
        return f"its pickle holds more than tensors and plain values: {refused.group(1).strip()}"
    if isinstance(exc, EOFError):
        return "it ends early"
    return one_line(text.split(". ")[0])


def load_weights(path: Path, device: torch.device | str, redo: str) -> Any:
    """`torch.load(path, weights_only=True)`, any failure as a MepipeError naming `path`.

    `redo` says what the user can do instead (e.g. delete the file to redo the phase).
    """
    try:
        with warnings.catch_warnings():  # torch warns about odd pickles; the error says it
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise MepipeError("file not found", path) from None
    except Exception as exc:  # an untrusted file: any failure means "refused"
        raise MepipeError(f"not a valid weights file ({_reason(exc)}); {redo}", path) from None


def rng_state() -> dict[str, Any]:
    """The global torch, NumPy and Python random states, in forms weights_only accepts."""
    version, mt_state, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": [int(k) for k in keys],
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": int(version), "state": list(mt_state), "gauss": gauss},
    }


def restore_rng(state: Any, path: Path) -> None:
    """Set the global random states saved by `rng_state`; a malformed one names `path`."""
    try:
        generator = state["numpy"]
        numpy_state = (
            generator["kind"],
            np.asarray(generator["keys"], dtype=np.uint32),
            generator["position"],
            generator["has_gauss"],
            generator["cached"],
        )
        python = state["python"]
        python_state = (python["version"], tuple(python["state"]), python["gauss"])
        torch.set_rng_state(state["torch"].cpu())  # loaded onto the training device
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError, AttributeError) as exc:
        raise MepipeError(
            f"checkpoint has no valid random state ({one_line(exc)}); "
            "delete it to redo the phase from its start",
            path,
        ) from None
