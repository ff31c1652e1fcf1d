"""`python dlt_pipeline/run.py`: what schedulers call. The same as the console script `session-stream-load`."""

import sys

from dlt_pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
