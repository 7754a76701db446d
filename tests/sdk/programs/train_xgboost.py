"""ModelTrainer with the built-in XGBoost, as AWS's SDK v3 examples train it: CSV with the label first, a
validation channel, multi:softmax, and the job's final metrics read back."""

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
image = image_uris.retrieve(framework="xgboost", region=session.boto_region_name, version="1.7-1")
trainer = ModelTrainer(
    training_image=image, role=role, sagemaker_session=session, base_job_name="pipeline-dreams-sdk-xgboost",
    compute=Compute(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=5),
    hyperparameters={"objective": "multi:softmax", "num_class": 3, "num_round": 20, "max_depth": 3, "eta": 0.3,
                     "eval_metric": "merror"},
    output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/{prefix}/xgboost-model"),
)
trainer.train(input_data_config=[
    InputData(channel_name="train", data_source=f"s3://{bucket}/{prefix}/train/", content_type="text/csv"),
    InputData(channel_name="validation", data_source=f"s3://{bucket}/{prefix}/validation/", content_type="text/csv"),
], wait=True, logs=True)
job = trainer._latest_training_job
job.refresh()
print(json.dumps({"job": job.training_job_name, "status": job.training_job_status, "image": image,
                  "failure": job.failure_reason if isinstance(job.failure_reason, str) else None, "model": job.model_artifacts.s3_model_artifacts,
                  "metrics": {m.metric_name: m.value for m in job.final_metric_data_list or []}}))
