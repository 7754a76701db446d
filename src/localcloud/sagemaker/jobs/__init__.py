"""SageMaker jobs as processes: the runner, its job records, S3 files, volume limit, start-up order, warm jobs."""
