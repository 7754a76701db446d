"""SageMaker inference: endpoints and batch transform, their content contract, model artifacts."""
