"""helpers.dataset: linear-learner's predictor type and class count follow the classes 03 found."""

from __future__ import annotations

import pytest

from helpers import dataset
from helpers.errors import ConfigError

IRIS_FILE = {"predictor_type": "multiclass_classifier", "num_classes": "3", "epochs": "15"}
FROM_FILE = {"predictor_type": "settings.toml", "num_classes": "settings.toml", "epochs": "settings.toml"}


class TestFitted:
    def test_two_classes_make_a_binary_classifier(self):
        """
        1. settings.toml's iris hyperparameters and two classes found in the data.
        2. binary_classifier, no num_classes, the sources say "the data", and what changed is listed.
        """
        hp, sources, changes = dataset.fitted(IRIS_FILE, FROM_FILE, ["benign", "malignant"])
        assert hp == {"predictor_type": "binary_classifier", "epochs": "15"}
        assert sources["predictor_type"] == "the data (2 classes: benign, malignant)"
        assert changes == ["predictor_type multiclass_classifier → binary_classifier",
                           "num_classes 3 dropped (a binary_classifier takes none)"]

    def test_four_classes_set_num_classes_and_three_change_nothing(self):
        """1. Four classes: num_classes 4. 2. Iris's three: nothing changes."""
        hp, _, changes = dataset.fitted(IRIS_FILE, FROM_FILE, ["a", "b", "c", "d"])
        assert hp["num_classes"] == "4" and changes == ["num_classes 3 → 4"]
        assert dataset.fitted(IRIS_FILE, FROM_FILE, ["x", "y", "z"]) == (IRIS_FILE, FROM_FILE, [])

    @pytest.mark.parametrize("name, value, fix", [("predictor_type", "multiclass_classifier",
                                                   "set predictor_type = 'binary_classifier'"),
                                                  ("num_classes", "3", "a binary_classifier has two classes")])
    def test_an_explicit_value_that_disagrees_is_refused_with_the_fix(self, name, value, fix):
        """
        1. predictor_type (or num_classes) set with -p, two classes in the data.
        2. ConfigError naming the value, where it was set, the classes found and the fix.
        """
        hp = {**IRIS_FILE, "predictor_type": "binary_classifier", name: value}
        with pytest.raises(ConfigError, match=f"{name} {value} \\(set with -p\\) but 03 found 2 classes.*{fix}"):
            dataset.fitted(hp, {**FROM_FILE, name: "-p"}, ["benign", "malignant"])

    def test_a_regressor_is_left_alone(self):
        hp = {"predictor_type": "regressor"}
        assert dataset.fitted(hp, {}, ["1.5", "2.5"]) == (hp, {}, [])


class TestName:
    @pytest.mark.parametrize("url, name", [("http://127.0.0.1:1/iris.data", "iris"),
                                           ("https://example.org/x/breast_cancer.csv?raw=1", "breast-cancer"),
                                           ("", "iris")])
    def test_named_after_the_file(self, url, name):
        class FakeKit:
            class settings:
                data_url = url

        assert dataset.name(FakeKit()) == name


class TestConfidence:
    def test_binary_and_multiclass(self):
        assert dataset.confidence({"score": [0.1, 0.7, 0.2], "predicted_label": 1.0}) == 0.7
        assert dataset.confidence({"score": 0.2, "predicted_label": 0.0}) == pytest.approx(0.8)
