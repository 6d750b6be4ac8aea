"""Planning and running steps: executors, the step runner, retries, results."""
