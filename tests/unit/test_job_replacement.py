"""A new job of a run says which earlier one it replaces; a job found again (reused) replaces nothing."""

from __future__ import annotations

import time

from helpers import sagemaker


def _training_job(kit, name: str, epochs: str) -> None:
    kit.client("sagemaker").create_training_job(
        TrainingJobName=name, RoleArn=f"arn:aws:iam::{kit.account}:role/r",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        HyperParameters={"epochs": epochs}, OutputDataConfig={"S3OutputPath": "s3://b/m"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60})


class TestReplacementNote:
    def test_a_reused_job_replaces_nothing(self, kit):
        """
        1. On moto, job <base>-aaaaaa (epochs 15), then <base>-bbbbbb (epochs 2): the learner tried epochs 2.
        2. bbbbbb "replaces aaaaaa: epochs 15 → 2".
        3. Back to epochs 15: 04 finds aaaaaa again ("already exists … reusing it"); no line says it replaces
           bbbbbb, which is newer (both lines were printed).
        """
        base = kit.names.job("train", "demo")
        _training_job(kit, f"{base}-aaaaaa", "15")
        time.sleep(0.05)
        _training_job(kit, f"{base}-bbbbbb", "2")
        assert sagemaker.replacement_note(kit, "training", f"{base}-bbbbbb") == \
            f"training job {base}-bbbbbb replaces {base}-aaaaaa: epochs 15 → 2"
        assert sagemaker.replacement_note(kit, "training", f"{base}-aaaaaa") is None
