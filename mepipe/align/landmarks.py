"""Face landmarks from mediapipe FaceMesh, and the facts about a face that alignment needs.

mediapipe is imported lazily, inside `Landmarker`: it takes most of a second to import and
starts TFLite threads, which neither the CLI's `--help` nor a process that only writes
manifests should pay for. Each worker process builds one Landmarker and reuses it.

FaceMesh gives 478 points (468 mesh + 10 iris with `refine_landmarks`), x and y normalised
to the image, z (depth) in roughly the scale of x. The confidence is the score that FaceMesh's
own face detector (BlazeFace short range) gave the face, read from the same graph run.

Other people on the frame are counted by a second detector, BlazeFace full range, which sees
small and distant faces that FaceMesh's short-range detector misses; it runs once per clip on
a reduced copy of the detection frame (`Landmarker.find_faces`, docs/alignment.md).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

# FaceMesh looks for this many faces and alignment takes the largest: one more than one, so
# that a bigger face found second is not missed. Counting people is `find_faces`'s job.
MESH_FACES = 2
# The full-range detector's input is 192x192; it gets the frame shrunk (area averaging) to
# this long side, which keeps faces of 12 px and more visible to it and avoids mediapipe's
# own aliasing resize of large frames.
FIND_FACES_SIDE = 384
# Detections below this score are not reported at all (the quality check sets the bar).
FIND_FACES_FLOOR = 0.3

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


def _face_mesh(max_faces: int, min_detection: float):  # -> mediapipe SolutionBase
    """FaceMesh (static images, iris refinement) that also returns its detector's detections.

    mediapipe's `FaceMesh` class observes only the landmarks; its graph also has the
    `face_detections` stream, which carries the short-range detector's score of each face.
    Reading it saves running that detector a second time for the score.
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


def _boxes(detections: object, width: int, height: int, scale: float = 1.0) -> list[Box]:
    """mediapipe detections (relative boxes) as Boxes in pixels of a frame `scale` times
    the size (width x height) the detector saw."""
    boxes = []
    for found in detections or ():  # type: ignore[attr-defined]
        rel = found.location_data.relative_bounding_box
        boxes.append(
            Box(
                rel.xmin * width / scale,
                rel.ymin * height / scale,
                rel.width * width / scale,
                rel.height * height / scale,
                float(found.score[0]),
            )
        )
    return boxes


class Landmarker:
    """mediapipe FaceMesh for the landmarks, BlazeFace full range to count the people.

    FaceMesh's detection threshold is kept low on purpose: the quality check, not
    mediapipe, decides what is too weak, and says so.
    """

    def __init__(self, min_detection: float = 0.2):
        os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ logging
        from mediapipe.python.solutions import face_detection

        self._mesh = _face_mesh(MESH_FACES, min_detection)
        self._finder = face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=FIND_FACES_FLOOR
        )

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

    def find_faces(self, image: np.ndarray) -> tuple[Box, ...]:
        """Every face the full-range detector finds on the frame, best first, in source pixels.

        The frame is first shrunk to FIND_FACES_SIDE pixels on its long side: the detector
        works at 192x192 anyway, and area averaging keeps small faces that its own
        resampling of a large frame would alias away.
        """
        height, width = image.shape[:2]
        scale = min(1.0, FIND_FACES_SIDE / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            scale_x = size[0] / width
        else:
            scale_x = 1.0
        small_h, small_w = image.shape[:2]
        result = self._finder.process(np.ascontiguousarray(image))
        boxes = _boxes(result.detections, small_w, small_h, scale_x)
        return tuple(sorted(boxes, key=lambda b: b.score, reverse=True))

    def close(self) -> None:
        self._mesh.close()
        self._finder.close()

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
