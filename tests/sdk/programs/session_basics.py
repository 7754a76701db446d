"""The first cell of AWS's SDK v3 notebooks: a Session, the account, the caller, the default bucket."""

import json

from sagemaker.core.helper.session_helper import Session

session = Session()
print(json.dumps({"region": session.boto_region_name, "account": session.account_id(),
                  "caller": session.get_caller_identity_arn(), "bucket": session.default_bucket()}))
