"""Optical flow between two aligned crops: the flow field, its optical strain and magnitude.

One job: two RGB crops of the same size (the aligned neutral and apex frames of a clip, or
apex and offset) -> `FlowFields` (docs/shards.md "Flow members"). Computing it on the
aligned crops means the flow describes face motion, not head position, and is in pixels at
the crop size.

Algorithms (`FlowOptions.flow`):
- `tvl1`: OpenCV's Dual TV-L1 (`cv2.optflow.DualTVL1OpticalFlow_create`, Zach, Pock and
  Bischof 2007), with OpenCV's own defaults: the public preprocessing scripts of the
  flow-based micro-expression models (STSTNet, OFF-ApexNet re-implementations, HTNet's
  issue threads) call `DualTVL1OpticalFlow_create()` without arguments on grayscale frames.
- `farneback`: `cv2.calcOpticalFlowFarneback` with the values of OpenCV's optical-flow
  tutorial (pyr_scale 0.5, levels 3, winsize 15, iterations 3, poly_n 5, poly_sigma 1.2).

Sign convention (OpenCV's): flow from `first` to `second`, u positive to the right, v
positive downwards, such that first[y, x] ~ second[y + v, x + u].

Optical strain (Shreve et al. 2011; the form STSTNet's input uses): with u_x = du/dx etc.
(central differences, `np.gradient`, unit spacing), the strain tensor is
e_xx = u_x, e_yy = v_y, e_xy = e_yx = (u_y + v_x) / 2, and its magnitude is
strain = sqrt(e_xx^2 + e_yy^2 + e_xy^2 + e_yx^2) = sqrt(u_x^2 + v_y^2 + (u_y + v_x)^2 / 2).
A pure translation has zero strain. Magnitude = sqrt(u^2 + v^2), pixels.

Deterministic: OpenCV runs the flow on one thread here (`cv2.setNumThreads(1)` for the
call), so the result does not depend on the process or the number of workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

import cv2
import numpy as np

from mepipe.contract.sample import FLOW_PAIRS, ONSET_APEX
from mepipe.errors import OptionError

FLOW_METHODS = ("tvl1", "farneback", "none")


def _pairs(value: str | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = tuple(p.strip() for p in value.split(",") if p.strip())
    return tuple(value)


@dataclass(frozen=True)
class FlowOptions:
    """Optical flow at ingest: which algorithm, between which frames, with which parameters.

    Each field is a `mepipe ingest` flag (`--flow`, `--flow-pairs`, `--flow-tau`, ...). The
    TV-L1 fields are OpenCV's DualTVL1 defaults; the Farneback fields (`flow_fb_*`) are the
    values of OpenCV's tutorial. Only the chosen algorithm's fields decide the bytes.
    """

    flow: str = field(
        default="none",
        metadata={"help": "optical flow between aligned crops: tvl1, farneback or none"},
    )
    flow_pairs: tuple[str, ...] = field(
        default=(ONSET_APEX,),
        metadata={"help": "frame pairs, comma-separated: onset-apex[,apex-offset]"},
    )
    flow_tau: float = field(default=0.25, metadata={"help": "TV-L1 time step"})
    flow_lambda: float = field(default=0.15, metadata={"help": "TV-L1 data term weight"})
    flow_theta: float = field(default=0.3, metadata={"help": "TV-L1 tightness"})
    flow_nscales: int = field(default=5, metadata={"help": "TV-L1 pyramid scales"})
    flow_warps: int = field(default=5, metadata={"help": "TV-L1 warps per scale"})
    flow_epsilon: float = field(default=0.01, metadata={"help": "TV-L1 stopping threshold"})
    flow_inner_iterations: int = field(default=30, metadata={"help": "TV-L1 inner iterations"})
    flow_outer_iterations: int = field(default=10, metadata={"help": "TV-L1 outer iterations"})
    flow_scale_step: float = field(default=0.8, metadata={"help": "TV-L1 pyramid scale step"})
    flow_fb_pyr_scale: float = field(default=0.5, metadata={"help": "Farneback pyramid scale"})
    flow_fb_levels: int = field(default=3, metadata={"help": "Farneback pyramid levels"})
    flow_fb_winsize: int = field(default=15, metadata={"help": "Farneback window size"})
    flow_fb_iterations: int = field(default=3, metadata={"help": "Farneback iterations"})
    flow_fb_poly_n: int = field(default=5, metadata={"help": "Farneback polynomial size"})
    flow_fb_poly_sigma: float = field(default=1.2, metadata={"help": "Farneback poly sigma"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "flow_pairs", _pairs(self.flow_pairs))
        if self.flow not in FLOW_METHODS:
            raise OptionError(f"--flow must be one of {', '.join(FLOW_METHODS)}, not {self.flow!r}")
        bad = [p for p in self.flow_pairs if p not in FLOW_PAIRS]
        if bad or not self.flow_pairs or len(set(self.flow_pairs)) != len(self.flow_pairs):
            raise OptionError(
                f"--flow-pairs must be onset-apex or onset-apex,apex-offset, "
                f"not {','.join(self.flow_pairs)!r}"
            )
        if ONSET_APEX not in self.flow_pairs:
            raise OptionError("--flow-pairs must include onset-apex")
        # one spelling per choice, so the same pairs give the same index and bytes
        object.__setattr__(self, "flow_pairs", tuple(p for p in FLOW_PAIRS if p in self.flow_pairs))
        positive = {
            "flow_tau": (0, 0.25),  # TV-L1 is stable for tau <= 1/4 (Chambolle)
            "flow_lambda": (0, None),
            "flow_theta": (0, None),
            "flow_epsilon": (0, None),
            "flow_scale_step": (0, 1),
            "flow_fb_pyr_scale": (0, 1),
            "flow_fb_poly_sigma": (0, None),
        }
        for name, (low, high) in positive.items():
            value = getattr(self, name)
            if not (value > low and (high is None or value <= high)):
                bound = f"> {low}" if high is None else f"in ({low}, {high}]"
                raise OptionError(f"--{name.replace('_', '-')} must be {bound}, got {value}")
        for name in (f.name for f in fields(self)):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool) and value < 1:
                raise OptionError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.flow_fb_winsize < 3 or self.flow_fb_poly_n not in (5, 7):
            raise OptionError(
                "--flow-fb-winsize must be >= 3 and --flow-fb-poly-n 5 or 7, got "
                f"{self.flow_fb_winsize} and {self.flow_fb_poly_n}"
            )

    @property
    def on(self) -> bool:
        return self.flow != "none"

    def parameters(self) -> dict[str, float | int]:
        """The chosen algorithm's parameters, by field name (empty when flow is off)."""
        names = {"tvl1": _TVL1_FIELDS, "farneback": _FARNEBACK_FIELDS}.get(self.flow, ())
        return {name: getattr(self, name) for name in names}

    def describe(self) -> str | None:
        """One line naming the algorithm, pairs and every parameter (the manifest's `flow`
        column), or None when flow is off."""
        if not self.on:
            return None
        params = " ".join(
            f"{name.removeprefix('flow_fb_').removeprefix('flow_')}={value}"
            for name, value in self.parameters().items()
        )
        return f"{self.flow} pairs={','.join(self.flow_pairs)} {params}"


_FARNEBACK_FIELDS = tuple(f.name for f in fields(FlowOptions) if f.name.startswith("flow_fb_"))
_TVL1_FIELDS = tuple(
    f.name for f in fields(FlowOptions) if f.name not in ("flow", "flow_pairs", *_FARNEBACK_FIELDS)
)


@dataclass
class FlowFields:
    """Flow from one crop to another: `flow` (2, S, S) = [u, v], `strain` and `magnitude`
    (S, S), float32, pixels at the crop size."""

    flow: np.ndarray
    strain: np.ndarray
    magnitude: np.ndarray


@contextmanager
def _one_thread() -> Iterator[None]:
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def optical_flow(first: np.ndarray, second: np.ndarray, options: FlowOptions) -> np.ndarray:
    """Flow (H, W, 2) float32 from `first` to `second` (RGB or gray uint8, same size)."""
    a, b = _gray(first), _gray(second)
    if a.shape != b.shape:
        raise ValueError(f"crops differ in size: {a.shape} and {b.shape}")
    with _one_thread():
        if options.flow == "tvl1":
            tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(
                tau=options.flow_tau,
                lambda_=options.flow_lambda,
                theta=options.flow_theta,
                nscales=options.flow_nscales,
                warps=options.flow_warps,
                epsilon=options.flow_epsilon,
                innnerIterations=options.flow_inner_iterations,
                outerIterations=options.flow_outer_iterations,
                scaleStep=options.flow_scale_step,
            )
            return tvl1.calc(a, b, None)
        if options.flow == "farneback":
            return cv2.calcOpticalFlowFarneback(
                a,
                b,
                None,
                options.flow_fb_pyr_scale,
                options.flow_fb_levels,
                options.flow_fb_winsize,
                options.flow_fb_iterations,
                options.flow_fb_poly_n,
                options.flow_fb_poly_sigma,
                0,
            )
    raise ValueError(f"no flow algorithm {options.flow!r}")


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Strain magnitude (S, S) of a flow (2, S, S): sqrt(u_x^2 + v_y^2 + (u_y + v_x)^2 / 2)."""
    u, v = flow[0].astype(np.float64), flow[1].astype(np.float64)
    u_y, u_x = np.gradient(u)
    v_y, v_x = np.gradient(v)
    return np.sqrt(u_x**2 + v_y**2 + 0.5 * (u_y + v_x) ** 2).astype(np.float32)


def flow_fields(first: np.ndarray, second: np.ndarray, options: FlowOptions) -> FlowFields:
    """Flow, strain and magnitude from crop `first` to crop `second`."""
    flow = np.moveaxis(optical_flow(first, second, options), -1, 0).astype(np.float32)
    magnitude = np.sqrt(flow[0] ** 2 + flow[1] ** 2)
    return FlowFields(flow=flow, strain=optical_strain(flow), magnitude=magnitude)
