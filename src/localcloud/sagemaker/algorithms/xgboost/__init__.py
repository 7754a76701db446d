"""The stand-in for SageMaker's built-in XGBoost (algorithm mode) on the real xgboost library:
``python -m localcloud.sagemaker.algorithms.xgboost.train``."""
