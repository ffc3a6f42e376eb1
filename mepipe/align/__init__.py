"""Face alignment: landmarks (mediapipe FaceMesh), the template transform, quality checks.

`landmarks` imports mediapipe only when a Landmarker is built; `transform` and `quality`
are plain numpy/OpenCV. The per-clip pipeline that uses them is `mepipe.shards.clip`.
See docs/alignment.md.
"""
