"""Lambda's executor, cloud side: environments as processes, code folders, exit reasons, the spare environment."""
