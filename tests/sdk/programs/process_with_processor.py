"""A processing job with the SDK v3's processing API: the series' preprocessing image, inputs and outputs in S3."""

import json
import logging
import os

from sagemaker.core.helper.session_helper import Session
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output

logging.basicConfig(level=logging.INFO)  # the SDK leaves its loggers (the job's streamed log lines) to the program
role, bucket, prefix, image = (os.environ[f"PROGRAM_{name}"] for name in ("ROLE", "BUCKET", "PREFIX", "IMAGE"))
session = Session()
processor = Processor(role=role, image_uri=image, instance_count=1, instance_type="ml.t3.medium",
                      volume_size_in_gb=5, base_job_name="pipeline-dreams-sdk-preprocess", sagemaker_session=session)
processed = f"s3://{bucket}/{prefix}/processed"
processor.run(
    inputs=[ProcessingInput(input_name="raw", s3_input=ProcessingS3Input(
        s3_uri=f"s3://{bucket}/{prefix}/raw/", local_path="/opt/ml/processing/input", s3_data_type="S3Prefix",
        s3_input_mode="File"))],
    outputs=[ProcessingOutput(output_name=name, s3_output=ProcessingS3Output(
        s3_uri=f"{processed}/{name}", local_path=f"/opt/ml/processing/output/{name}", s3_upload_mode="EndOfJob"))
        for name in ("train", "test", "meta")],
    arguments=["--input-dir", "/opt/ml/processing/input", "--output-dir", "/opt/ml/processing/output"],
    wait=True, logs=True)
job = processor.latest_job
job.refresh()
print(json.dumps({"job": job.processing_job_name, "status": job.processing_job_status,
                  "outputs": [o.s3_output.s3_uri for o in job.processing_output_config.outputs]}))
