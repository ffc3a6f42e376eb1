"""The one builder of prediction tables (mepipe_train.predictions), used by MTMNet's and the
flow models' predict functions alike."""

import numpy as np
import pytest
import torch

from mepipe.errors import MepipeError
from mepipe_train.data import Item
from mepipe_train.flowfold import FlowDataset, predict_flow
from mepipe_train.predictions import prediction_table
from mepipe_train.runtime import Runtime

CLASSES = ("negative", "positive", "surprise")
ITEMS = [
    Item("casme2/s01/a", "casme2", "s01", "micro", 2),
    Item("smic/s03/b", "smic", "s03", "micro", 0),
]


def test_rows_carry_the_truth_the_argmax_and_every_probability():
    table = prediction_table(ITEMS, np.array([[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]]), 4, CLASSES, "")
    assert list(table.columns) == [
        "key", "fold", "database", "subject", "true_label", "true_index", "pred_label",
        "pred_index", "prob_negative", "prob_positive", "prob_surprise",
    ]  # fmt: skip
    assert table["key"].tolist() == [i.key for i in ITEMS] and table["fold"].eq(4).all()
    assert table["true_label"].tolist() == ["surprise", "negative"]
    assert table["pred_index"].tolist() == [2, 1] and table["pred_label"].tolist()[1] == "positive"
    assert table["prob_positive"].tolist() == [0.2, 0.6]


def test_non_finite_probabilities_name_the_clip_and_what_to_lower():
    probs = np.array([[0.1, 0.2, 0.7], [np.nan, 0.5, 0.5]])
    with pytest.raises(MepipeError, match=r"fold 1: .*non-finite.*clip smic/s03/b\); lower it"):
        prediction_table(ITEMS, probs, 1, CLASSES, "lower it")


def test_flow_predictions_go_through_the_builder():
    pool = {i.key: np.zeros((3, 28, 28), np.float32) for i in ITEMS}
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 28 * 28, 3))
    runtime = Runtime(torch.device("cpu"))
    table = predict_flow(net, runtime, FlowDataset(pool, ITEMS, (0, 1, 2)), 7, CLASSES)
    probs = torch.softmax(net[1].bias.detach(), 0).numpy()  # zero input: the bias alone
    expected = prediction_table(ITEMS, np.stack([probs, probs]), 7, CLASSES, "")
    assert table.drop(columns=[f"prob_{c}" for c in CLASSES]).equals(
        expected.drop(columns=[f"prob_{c}" for c in CLASSES])
    )
    assert np.allclose(table.filter(like="prob_").to_numpy(), expected.filter(like="prob_"))
    with torch.no_grad():
        net[1].bias.fill_(float("nan"))
    with pytest.raises(MepipeError, match="clip casme2/s01/a.*--flow-lr"):
        predict_flow(net, runtime, FlowDataset(pool, ITEMS, (0, 1, 2)), 7, CLASSES)
