"""Face landmarks from mediapipe FaceMesh, and the facts about a face that alignment needs.

mediapipe is imported lazily, inside `Landmarker`: it takes most of a second to import and
starts TFLite threads, which neither the CLI's `--help` nor a process that only writes
manifests should pay for. Each worker process builds one Landmarker and reuses it.

FaceMesh gives 478 points (468 mesh + 10 iris with `refine_landmarks`), x and y normalised
to the image, z (depth) in roughly the scale of x. It says nothing about how sure it is, so
the confidence is the score of mediapipe's BlazeFace detector run on the same frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mepipe.quiet import native_logs_hidden

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
        span = self.points[:, :2].max(axis=0) - self.points[:, :2].min(axis=0)
        return float(span[0] * span[1])


@dataclass(frozen=True)
class Detection:
    """What FaceMesh and BlazeFace saw on one frame."""

    faces: tuple[Face, ...]  # largest first
    score: float  # best BlazeFace detection score; 0.0 when the detector sees no face

    @property
    def face(self) -> Face | None:
        return self.faces[0] if self.faces else None


class Landmarker:
    """mediapipe FaceMesh (static images, iris refinement) plus BlazeFace for a score.

    `max_faces` is how many faces FaceMesh looks for: one more than the quality check
    allows, so that "several faces" can be seen at all. Detection thresholds are kept low
    on purpose: the quality check, not mediapipe, decides what is too weak, and says so.
    """

    @native_logs_hidden()  # mediapipe's native log lines stay off the terminal
    def __init__(self, max_faces: int = 2, min_detection: float = 0.2):
        from mediapipe.python.solutions import face_detection, face_mesh

        self._mesh = face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_detection,
        )
        self._detector = face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=min_detection / 2
        )
        # mediapipe opens its models on its own threads, which log as they do: one frame
        # through every model waits for them, so those lines fall inside the hidden window.
        self.detect(np.zeros((16, 16, 3), np.uint8))

    @native_logs_hidden()
    def detect(self, image: np.ndarray, score: bool = True) -> Detection:
        """Faces on an RGB uint8 frame (grayscale must already be three channels).

        With `score=False` BlazeFace is skipped (the score reads 0.0): for frames where
        only the landmarks matter, such as the apex frame.
        """
        image = np.ascontiguousarray(image)
        height, width = image.shape[:2]
        mesh = self._mesh.process(image)
        faces = []
        for found in mesh.multi_face_landmarks or ():
            points = np.array([(p.x * width, p.y * height, p.z * width) for p in found.landmark])
            faces.append(Face(points))
        faces.sort(key=Face.area, reverse=True)
        best = 0.0
        if score:
            detected = self._detector.process(image).detections or ()
            best = max((float(d.score[0]) for d in detected), default=0.0)
        return Detection(tuple(faces), best)

    @native_logs_hidden()
    def close(self) -> None:
        self._mesh.close()
        self._detector.close()

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
