"""What the cloud's rooms share: path checks, images, boto3 clients, AWS constraints, event shapes, process isolation."""
