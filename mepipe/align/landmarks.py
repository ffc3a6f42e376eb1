"""Face landmarks from mediapipe FaceMesh, and the facts about a face that alignment needs.

mediapipe is imported lazily, inside `Landmarker`: it takes most of a second to import and
starts TFLite threads, which neither the CLI's `--help` nor a process that only writes
manifests should pay for. Each worker process builds one Landmarker and reuses it.

FaceMesh gives 478 points (468 mesh + 10 iris with `refine_landmarks`), x and y normalised
to the image, z (depth) in roughly the scale of x. The confidence is the score that FaceMesh's
own face detector (BlazeFace short range) gave the face, read from the same graph run.

Other people on the frame are counted by a second detector, BlazeFace full range, which sees
small and distant faces that FaceMesh's short-range detector misses; it runs once per clip on
a reduced copy of the detection frame (`Landmarker.find_faces`), and each face it reports
near the bar is confirmed on a close-up (`Landmarker.confirm`; docs/alignment.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from mepipe.quiet import native_logs_hidden

# FaceMesh looks for this many faces and alignment takes the largest: one more than one, so
# that a bigger face found second is not missed. Counting people is `find_faces`'s job.
MESH_FACES = 2
# The full-range detector sees a 192x192 input; the frame is shrunk to this long side
# first (area averaging), which keeps small faces that the detector's own resampling of a
# large frame would alias away. Measured on real faces composed into 640x480 frames, it
# finds a face 24 px wide at that input every time, 16 px three times in four, 12 px never:
# it sees faces down to about a twelfth of the frame's long side.
FINDER_INPUT = 192
# A face the finder reports is looked at again by the short-range detector on a close-up:
# a square this many times the box's side around it, shrunk or enlarged to 128x128.
CLOSE_UP = 2.5
CLOSE_UP_INPUT = 128
# Detections below this score are not reported at all (the quality check sets the bar).
FINDER_FLOOR = 0.3

# FaceMesh indices. Image-left is the subject's right side.
EYE_CENTRES = (468, 473)  # iris centres (refined landmarks), subject's right then left
NOSE_TIP = 1
MOUTH_CORNERS = (61, 291)
ALIGNMENT_POINTS = (*EYE_CENTRES, NOSE_TIP, *MOUTH_CORNERS)
CHEEKS = (234, 454)  # face contour at the cheekbones: their depth difference gives the yaw
ALIGNMENT_POINT_NAMES = ("eye_r", "eye_l", "nose_tip", "mouth_r", "mouth_l")
# Groups of mesh points on parts of the face that expressions move little. A head or
# camera move shifts all of them alike; an expression leaves at least one nearly still.
STILL_GROUPS: dict[str, tuple[int, ...]] = {
    "temple_r": (54, 103, 67, 21, 162, 127),
    "temple_l": (284, 332, 297, 251, 389, 356),
    "forehead": (10, 151, 109, 338),
    "nose_bridge": (168, 6, 197, 195),
    "chin": (152, 148, 176, 377, 400),
    "jaw_r": (172, 136, 150),
    "jaw_l": (397, 365, 379),
}


@dataclass(frozen=True)
class Face:
    """One face found on a frame: 478 FaceMesh points in source pixels (x, y, z)."""

    points: np.ndarray  # (478, 3); z is in the same pixel scale as x

    def five(self) -> np.ndarray:
        """Eye centres, nose tip and mouth corners, (5, 2) in source pixels."""
        return self.points[list(ALIGNMENT_POINTS), :2]

    def interocular(self) -> float:
        """Distance between the iris centres, in source pixels: the face's natural unit."""
        a, b = self.points[list(EYE_CENTRES), :2]
        return float(math.dist(a, b))

    def yaw(self) -> float:
        """How far the head is turned left or right, degrees (0 = frontal).

        Taken from the depth FaceMesh gives the two cheek contour points. FaceMesh infers
        depth from one picture, so this under-reads large turns; thresholds account for it.
        """
        right, left = self.points[list(CHEEKS)]
        return math.degrees(math.atan2(left[2] - right[2], left[0] - right[0]))

    def area(self) -> float:
        """Bounding-box area of the mesh, to tell the main face from others."""
        return self.box().area()

    def box(self) -> Box:
        """The mesh's bounding box in source pixels (cheek to cheek, forehead to chin)."""
        low, high = self.points[:, :2].min(axis=0), self.points[:, :2].max(axis=0)
        return Box(float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1]))


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in source pixels, with the detector's score where there is one."""

    x: float
    y: float
    width: float
    height: float
    score: float = 1.0
    # The short-range detector's score on a close-up of the box (Landmarker.confirm); 0.0
    # until it has been asked.
    confirmation: float = 0.0

    def area(self) -> float:
        return self.width * self.height

    def intersection(self, other: Box) -> float:
        """Area this box shares with `other`."""
        dx = min(self.x + self.width, other.x + other.width) - max(self.x, other.x)
        dy = min(self.y + self.height, other.y + other.height) - max(self.y, other.y)
        return max(dx, 0.0) * max(dy, 0.0)


@dataclass(frozen=True)
class Detection:
    """What FaceMesh saw on one frame, and (detection frame only) the full-range detector."""

    faces: tuple[Face, ...]  # largest first
    score: float  # FaceMesh's detector score of the largest face; 0.0 when there is none
    found: tuple[Box, ...] = ()  # full-range detections on the frame (see Landmarker.find_faces)

    @property
    def face(self) -> Face | None:
        return self.faces[0] if self.faces else None


STILL_POINTS = tuple(sorted({i for group in STILL_GROUPS.values() for i in group}))


def track_still_points(neutral: np.ndarray, apex: np.ndarray, face: Face) -> Detection:
    """The face of the neutral frame carried into the apex frame by optical flow, for the
    motion check (`quality.head_motion` reads only the still points).

    Pyramidal Lucas-Kanade tracks each still point's own texture, forward and back; a point
    that does not come back (within a pixel, or 5% of the interocular distance) is dropped.
    It replaced a second FaceMesh on the apex frame, which cost as much as the rest of the
    landmark stage and dragged the still points along with a strong expression (a macro
    surprise read 0.137 interocular on the demo face, 0.009 with flow). The Detection holds
    no face when fewer than half of the still points could be followed: the face was lost.
    """
    # Only the face and a margin of half its size are looked at: the pyramids of a whole
    # large frame would cost more than the tracking.
    low, high = face.points[:, :2].min(axis=0), face.points[:, :2].max(axis=0)
    margin = 0.5 * (high - low)
    x0, y0 = np.maximum(np.floor(low - margin), 0).astype(int)
    x1, y1 = np.ceil(high + margin).astype(int) + 1
    grey = [
        cv2.cvtColor(np.ascontiguousarray(f[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
        for f in (neutral, apex)
    ]
    iod = face.interocular()
    corner = np.array([x0, y0], np.float32)
    start = (face.points[list(STILL_POINTS), :2] - corner).astype(np.float32).reshape(-1, 1, 2)
    flow = {"winSize": (21, 21), "maxLevel": 3}
    ahead, found, _ = cv2.calcOpticalFlowPyrLK(grey[0], grey[1], start, None, **flow)
    back, returned, _ = cv2.calcOpticalFlowPyrLK(grey[1], grey[0], ahead, None, **flow)
    error = np.linalg.norm((back - start).reshape(-1, 2), axis=1)
    # back within a pixel, or within 5% of the interocular distance on a large face
    good = (found.ravel() == 1) & (returned.ravel() == 1) & (error < max(1.0, 0.05 * iod))
    if good.sum() * 2 < len(good):
        return Detection((), 0.0)
    motion = (ahead - start).reshape(-1, 2)
    overall = np.median(motion[good], axis=0)
    points = face.points.copy()
    index = {point: row for row, point in enumerate(STILL_POINTS)}
    for group in STILL_GROUPS.values():
        rows = [index[i] for i in group]
        kept = [r for r in rows if good[r]]
        # A group that could not be followed (a jaw dropping fast) takes the face's overall
        # motion: it can then neither hide a move of the head nor invent one.
        shift = np.median(motion[kept], axis=0) if kept else overall
        for i, row in zip(group, rows, strict=True):
            points[i, :2] = face.points[i, :2] + (motion[row] if good[row] else shift)
    return Detection((Face(points),), 0.0)


def _face_mesh(max_faces: int, min_detection: float):  # -> mediapipe SolutionBase
    """FaceMesh (static images, iris refinement) that also returns its detector's detections.

    mediapipe's `FaceMesh` class observes only the landmarks; its graph also has the
    `face_detections` stream, which carries the short-range detector's score of each face.
    Reading it saves running that detector a second time for the score. Built the way
    `FaceMesh.__init__` builds it in the pinned mediapipe 0.10.21 (same graph file and
    calculator options), with that one more output.
    """
    from mediapipe.python.solution_base import SolutionBase
    from mediapipe.python.solutions import face_mesh

    detector = "facedetectionshortrangecpu__facedetectionshortrange__facedetection__"
    return SolutionBase(
        binary_graph_path=face_mesh._BINARYPB_FILE_PATH,
        side_inputs={"num_faces": max_faces, "with_attention": True, "use_prev_landmarks": False},
        calculator_params={
            f"{detector}TensorsToDetectionsCalculator.min_score_thresh": min_detection,
            "facelandmarkcpu__ThresholdingCalculator.threshold": 0.5,  # FaceMesh's default
        },
        outputs=["multi_face_landmarks", "face_detections"],
    )


def _boxes(detections: object, width: int, height: int) -> list[Box]:
    """mediapipe detections (boxes relative to the image) as Boxes in pixels of an image
    `width` x `height`."""
    boxes = []
    for found in detections or ():  # type: ignore[attr-defined]
        rel = found.location_data.relative_bounding_box
        box = (rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height)
        boxes.append(Box(*box, score=float(found.score[0])))
    return boxes


class Landmarker:
    """mediapipe FaceMesh for the landmarks; BlazeFace full range to find other people and
    BlazeFace short range to confirm each on a close-up.

    FaceMesh's detection threshold is kept low on purpose: the quality check, not
    mediapipe, decides what is too weak, and says so.
    """

    @native_logs_hidden()  # mediapipe's native log lines stay off the terminal
    def __init__(self, min_detection: float = 0.2):
        from mediapipe.python.solutions import face_detection

        self._mesh = _face_mesh(MESH_FACES, min_detection)
        self._finder = face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=FINDER_FLOOR
        )
        self._checker = face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=FINDER_FLOOR
        )
        # mediapipe opens its models on its own threads, which log as they do: one frame
        # through every model waits for them, so those lines fall inside the hidden window.
        blank = np.zeros((16, 16, 3), np.uint8)
        self.detect(blank)
        self._finder.process(blank)
        self._checker.process(blank)

    @native_logs_hidden()
    def detect(self, image: np.ndarray) -> Detection:
        """Faces on an RGB uint8 frame (grayscale must already be three channels)."""
        image = np.ascontiguousarray(image)
        height, width = image.shape[:2]
        result = self._mesh.process(input_data={"image": image})
        faces = []
        for found in result.multi_face_landmarks or ():
            points = np.array([(p.x * width, p.y * height, p.z * width) for p in found.landmark])
            faces.append(Face(points))
        faces.sort(key=Face.area, reverse=True)
        score = 0.0
        if faces:
            # The detection that produced the main face is the one most inside its mesh box.
            main = faces[0].box()
            boxes = _boxes(result.face_detections, width, height)
            best = max(
                boxes, key=lambda b: b.intersection(main) / max(b.area(), 1e-9), default=None
            )
            if best is not None and best.intersection(main) > 0:
                score = best.score
        return Detection(tuple(faces), score)

    @native_logs_hidden()
    def find_faces(self, image: np.ndarray) -> tuple[Box, ...]:
        """Every face the full-range detector finds on the frame, best first, in source
        pixels: one call, on the frame shrunk to FINDER_INPUT pixels on its long side."""
        height, width = image.shape[:2]
        scale = min(1.0, FINDER_INPUT / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        result = self._finder.process(np.ascontiguousarray(image))
        boxes = _boxes(result.detections, width, height)
        return tuple(sorted(boxes, key=lambda b: b.score, reverse=True))

    @native_logs_hidden()
    def confirm(self, image: np.ndarray, box: Box) -> float:
        """The short-range detector's best score for a face at the centre of a close-up of
        `box` (0.0 for none): a second opinion, from another model and at a scale where
        the face fills two fifths of its input. On the real footage of tests/real_footage.py
        it scores people 0.52-0.96, and 0 the false faces the finder reported when it looked
        at tiles of a cluttered frame (a hand with a watch; docs/alignment.md)."""
        side = max(2, round(CLOSE_UP * max(box.width, box.height)))
        cx, cy = box.x + box.width / 2, box.y + box.height / 2
        # The frame translated so the close-up's corner is at the origin (borders repeated).
        matrix = np.float32([[1, 0, side / 2 - cx], [0, 1, side / 2 - cy]])
        crop = cv2.warpAffine(
            image, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        shrink = side > CLOSE_UP_INPUT
        crop = cv2.resize(
            crop,
            (CLOSE_UP_INPUT, CLOSE_UP_INPUT),
            interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC,
        )
        result = self._checker.process(np.ascontiguousarray(crop))
        centre = Box(
            0.4 * CLOSE_UP_INPUT, 0.4 * CLOSE_UP_INPUT, 0.2 * CLOSE_UP_INPUT, 0.2 * CLOSE_UP_INPUT
        )
        scores = [
            b.score
            for b in _boxes(result.detections, CLOSE_UP_INPUT, CLOSE_UP_INPUT)
            if b.intersection(centre) > 0
        ]
        return max(scores, default=0.0)

    @native_logs_hidden()
    def close(self) -> None:
        self._mesh.close()
        self._finder.close()
        self._checker.close()

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
