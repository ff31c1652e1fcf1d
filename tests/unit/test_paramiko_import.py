"""paramiko loads without `invoke` (dlt_pipeline/session_stream/paramiko_import.py), and `invoke` still works after."""

from __future__ import annotations

import subprocess
import sys

from support.loader import REPO

CHECK = """
import sys
from dlt_pipeline.session_stream.sftp_transport import SftpTransport
assert "invoke" not in sys.modules, "paramiko pulled in invoke"
import paramiko.config
assert paramiko.config.invoke is None
import invoke  # anything else that wants it gets the real module
assert invoke.__name__ == "invoke" and sys.modules["invoke"] is invoke
print("ok")
"""


def test_sftp_transport_imports_paramiko_without_invoke_and_leaves_invoke_importable() -> None:
    proc = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_paramiko_already_imported_is_reused_as_is() -> None:
    code = ("import sys, invoke, paramiko\n"
            "from dlt_pipeline.session_stream.paramiko_import import paramiko as ours\n"
            "assert ours is paramiko and paramiko.config.invoke is invoke\nprint('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
