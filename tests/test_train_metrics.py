"""UF1 and UAR pooled over LOSO folds, checked against hand-computed numbers."""

import pandas as pd
import pytest

from mepipe_train.metrics import confusion, metrics_by_database, scores


def test_pooled_uf1_uar_with_a_class_absent_from_one_fold():
    # fold 0 has no surprise clip at all; fold 1 has one. Classes: 0 neg, 1 pos, 2 sur.
    fold0 = ([0, 0, 1], [0, 1, 1])
    fold1 = ([0, 2, 2, 1], [0, 2, 0, 1])
    y_true = fold0[0] + fold1[0]
    y_pred = fold0[1] + fold1[1]
    # pooled: neg TP2 FP1 FN1 -> F1 4/6; pos TP2 FP1 FN0 -> 4/5; sur TP1 FP0 FN1 -> 2/3
    s = scores(y_true, y_pred, 3)
    assert s.uf1 == pytest.approx((4 / 6 + 4 / 5 + 2 / 3) / 3)
    # recalls: neg 2/3, pos 2/2, sur 1/2
    assert s.uar == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    assert s.acc == pytest.approx(5 / 7)
    assert s.f1 == s.uf1
    # pooling differs from averaging per fold (fold 0 alone has no surprise recall)
    per_fold = (scores(*fold0, 3).uar + scores(*fold1, 3).uar) / 2
    assert per_fold != pytest.approx(s.uar)


def test_class_never_seen_is_left_out_not_counted_as_zero():
    s = scores([0, 0, 1], [0, 0, 1], 3)  # class 2 neither true nor predicted
    assert s.uf1 == pytest.approx(1.0) and s.uar == pytest.approx(1.0)
    s = scores([0, 0, 1], [0, 2, 1], 3)  # class 2 predicted but never true: F1 0, no recall
    assert s.uf1 == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert s.uar == pytest.approx((1 / 2 + 1) / 2)


def test_all_negative_prediction_shows_why_accuracy_misleads():
    y_true = [0] * 250 + [1] * 109 + [2] * 83  # the CDE composite set
    s = scores(y_true, [0] * len(y_true), 3)
    assert s.acc == pytest.approx(0.5656, abs=1e-3)
    assert s.uar == pytest.approx(1 / 3)


def test_confusion_and_per_database_parts():
    table = pd.DataFrame(
        {
            "database": ["smic", "smic", "casme2"],
            "true_index": [0, 1, 2],
            "pred_index": [0, 0, 2],
        }
    )
    assert confusion(table["true_index"], table["pred_index"], 3).tolist() == [
        [1, 0, 0],
        [1, 0, 0],
        [0, 0, 1],
    ]
    result = metrics_by_database(table, 3)
    assert set(result) == {"all", "smic", "casme2"}
    assert result["casme2"]["acc"] == 1.0 and result["smic"]["acc"] == 0.5
    assert result["all"]["samples"] == 3
