"""The series runner: ``python -m helpers run|clean|preflight`` (:mod:`helpers.runner.cli`), apart from the notebook library.

It executes the notebooks (:mod:`~helpers.runner.series`, with papermill's engine in
:mod:`~helpers.runner.papermill_engine` and kernels started ahead in :mod:`~helpers.runner.kernels`) against a
local cloud it starts as a process (:mod:`~helpers.runner.cloud_process`). The notebook library (``helpers.s3``,
``helpers.sagemaker``, …) never imports it.
"""
