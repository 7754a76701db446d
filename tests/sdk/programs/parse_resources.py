"""sagemaker-core's resources read what the cloud answers: .get() of each named resource, .get_all() of each kind."""

import json
import os

from sagemaker.core import resources

names = json.loads(os.environ["PROGRAM_NAMES"])  # {"Model": [...], "TrainingJob": [...], ...}
parsed = {}
for kind, wanted in names.items():
    resource = getattr(resources, kind)
    got = [resource.get(name) for name in wanted]
    listed = list(resource.get_all())
    parsed[kind] = {"got": len(got), "listed": len(listed)}
print(json.dumps(parsed))
