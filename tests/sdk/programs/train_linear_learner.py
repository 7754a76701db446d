"""ModelTrainer with the built-in linear-learner, as AWS's SDK v3 example notebooks train it (wait, logs)."""

import json
import logging
import os

from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData, OutputDataConfig

logging.basicConfig(level=logging.INFO)  # the SDK leaves its loggers (the job's streamed log lines) to the program
role, bucket, prefix = os.environ["PROGRAM_ROLE"], os.environ["PROGRAM_BUCKET"], os.environ["PROGRAM_PREFIX"]
session = Session()
image = image_uris.retrieve(framework="linear-learner", region=session.boto_region_name)
trainer = ModelTrainer(
    training_image=image, role=role, sagemaker_session=session, base_job_name="pipeline-dreams-sdk",
    compute=Compute(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=5),
    hyperparameters={"predictor_type": "multiclass_classifier", "num_classes": 3, "feature_dim": 4,
                     "mini_batch_size": 32, "epochs": 15},
    output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/{prefix}/model"),
)
trainer.train(input_data_config=[InputData(channel_name="train", data_source=f"s3://{bucket}/{prefix}/train/",
                                           content_type="text/csv")], wait=True, logs=True)
job = trainer._latest_training_job
job.refresh()
print(json.dumps({"job": job.training_job_name, "status": job.training_job_status, "image": image,
                  "model": job.model_artifacts.s3_model_artifacts}))
