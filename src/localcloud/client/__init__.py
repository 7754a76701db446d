"""Code that runs in the *client's* processes (kernels, scripts, the AWS CLI) pointed at a local cloud.

Standard library only at import (botocore is patched once the process imports it): every Python process of the
kit's venv may load :mod:`localcloud.client.aws_urls` at start-up through the venv's ``localcloud-client.pth``.
"""
