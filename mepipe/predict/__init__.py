"""`mepipe predict`: spot and classify expressions in a user's own video (docs/predict.md).

  track       find the face, align it with one transform per window (refitted when the
              head moves), grey analysis crops of every frame
  samples     each interval's six-frame sample (onset + five apex-centred frames), aligned
              the way ingest aligns
  classifier  the Classifier interface, and the plugin that implements it, found at run
              time through an entry point (`mepipe` never imports `mepipe_train`)
  pipeline    footage -> tracking -> signal -> intervals -> classes: a PredictResult
  outputs     intervals.csv, summary.json, timeline.png, sheets/, annotated.mp4

The signal and the intervals are `mepipe.spot`; reading the footage is `mepipe.video`.
"""
