"""The loader's exit codes, in one place: `cli` prints them in --help, `command` returns them."""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_QUARANTINED = 3
EXIT_STRICT = 4
EXIT_LOCKED = 5
EXIT_METADATA = 6
"""The session load finished (or had nothing new) but the Metadata API refresh failed: names may be stale."""
EXIT_INCOMPLETE = 7
"""--check: a window without a file, a file not loaded (quarantined, or waiting too long), or files close to expiry."""
EXIT_TERMINATED = 143
"""SIGTERM stopped the run (128 + 15, as a shell reports it); it unwound cleanly and the next run resumes."""
