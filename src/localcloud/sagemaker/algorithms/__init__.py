"""SageMaker's built-in algorithms the cloud plays (the image URIs its jobs name)."""
