"""SWE tasks: repository snapshots, sandboxed execution, FAIL_TO_PASS / PASS_TO_PASS grading."""
