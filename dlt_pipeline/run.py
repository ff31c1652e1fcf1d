"""`python dlt_pipeline/run.py`: what schedulers call. The same as the console script `session-stream-load`."""

from dlt_pipeline.cli import main
from dlt_pipeline.fast_exit import exit_now

if __name__ == "__main__":
    exit_now(main())  # without the interpreter's teardown (~0.5 s): see fast_exit.py
