"""The stand-in Linear Learner: ``python -m localcloud.sagemaker.algorithms.linear_learner.train``."""
