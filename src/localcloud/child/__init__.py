"""Code that runs in the cloud's child processes (Lambda environments, job processes, process-group leaders).

It imports only the standard library and ``localcloud.child`` (never moto, botocore or boto3), so a child
starts fast; some of it is loaded by file path (``python -I -S FILE``). tests/unit/test_import_rules.py checks that."""
