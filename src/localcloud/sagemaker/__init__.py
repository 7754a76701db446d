"""SageMaker's executors: processing/training/transform jobs, endpoints, and the built-in algorithm."""
