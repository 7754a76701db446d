"""IAM: roles from the reviewed JSON documents under ``iam/``."""

from __future__ import annotations

import json
import string

from helpers.calls import showable
from helpers.config import Kit
from helpers.paths import IAM_DIR

# The roles the kit uses: purpose -> the AWS service that assumes it. Each Lambda function has its own
# role holding only what its handler calls (fetch-data: S3; start-*: its SageMaker job and PassRole).
# "sdk" is the SageMaker role of notebook 08: the sagemaker role's policy plus the actions the SageMaker Python
# SDK's role check simulates before ModelTrainer starts a job (VPC network interfaces, any metric namespace).
ROLES = {"fetch-data": "lambda", "start-preprocessing": "lambda", "start-training": "lambda",
         "sagemaker": "sagemaker", "sdk": "sagemaker", "states": "states", "events": "events"}


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def render_document(kit: Kit, path) -> dict:
    """Fill ``${Account}``, ``${Region}``, ``${Partition}``, ``${Prefix}``, ``${Bucket}`` in a policy file."""
    text = string.Template(path.read_text()).substitute(
        Account=kit.account, Region=kit.region, Partition=partition(kit.region),
        Prefix=kit.settings.prefix, Bucket=kit.names.bucket)
    return json.loads(text)


@showable
def ensure_role(kit: Kit, purpose: str) -> str:
    """Create or update the role for ``purpose`` (a key of :data:`ROLES`); return its ARN.

    The trust policy is ``iam/trust/<service>.json`` for the service that assumes the role, the
    permission policy ``iam/policies/<purpose>.json``. Both are always re-applied, so editing
    the JSON under ``iam/`` and re-running the cell updates the role.
    """
    if purpose not in ROLES:
        raise ValueError(f"unknown role purpose {purpose!r}: one of {', '.join(ROLES)}")
    iam = kit.client("iam")
    name = kit.names.role(purpose)
    trust = json.dumps(render_document(kit, IAM_DIR / "trust" / f"{ROLES[purpose]}.json"))
    policy = json.dumps(render_document(kit, IAM_DIR / "policies" / f"{purpose}.json"))
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        created = False
    except iam.exceptions.NoSuchEntityException:
        try:
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, Tags=kit.tags(),
                                  Description=f"{kit.settings.prefix}: role assumed by {purpose}")["Role"]["Arn"]
            created = True
        except iam.exceptions.EntityAlreadyExistsException:  # another run created it since we looked
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
            created = False
    if not created:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
    iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=policy)
    print(f"role {name} {'created' if created else 'exists, policy refreshed'}")
    return arn

