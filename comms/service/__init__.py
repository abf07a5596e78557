"""The service around the pipeline: intake, queue, worker tasks, sweeper and dead letters (issue 3)."""
