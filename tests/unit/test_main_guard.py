"""Which main scripts parser workers may re-import (dlt_pipeline/session_stream/main_guard.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlt_pipeline.session_stream.main_guard import _top_level_problem

HEAD = "import sys, logging\nimport dlt\nfrom dlt_pipeline.session_stream import session_stream\n"


@pytest.mark.parametrize(("body", "line"), [
    ('if __name__ == "__main__":\n    dlt.pipeline("p").run(session_stream("x"))\n', None),
    ('sys.path.insert(0, "x")\nlogging.basicConfig()\np = dlt.pipeline("p")\ns = session_stream("x")\n'
     'if "__main__" == __name__:\n    p.run(s)\n', None),
    ('def main():\n    dlt.pipeline("p").run(session_stream("x"))\n\nif __name__ == "__main__":\n    main()\n', None),
    ('p = dlt.pipeline("p")\np.run(session_stream("x"))\n', 5),             # the README snippet, unguarded
    ('info = dlt.pipeline("p").run(session_stream("x"))\n', 4),            # a run chained on a harmless call
    ('dlt.run(session_stream("x"), destination="duckdb")\n', 4),
    ('def main():\n    pass\n\nmain()\n', 7),                                 # any other call
    ('for day in range(3):\n    pass\n', 4),
    ('if True:\n    load_everything()\n', 5),
    ('if __name__ == "__main__":\n    pass\nelse:\n    load_everything()\n', 7),  # the else runs in a worker
    ('try:\n    import x\nexcept ImportError:\n    load_everything()\n', 7),
])
def test_a_script_is_safe_only_when_its_top_level_defines_things(tmp_path: Path, body: str, line: int | None) -> None:
    script = tmp_path / f"s{abs(hash(body))}.py"
    script.write_text(HEAD + body)
    problem = _top_level_problem(str(script))
    if line is None:
        assert problem is None
    else:
        assert problem is not None and f"line {line} runs at import" in problem, problem


def test_a_script_that_cannot_be_read_is_not_safe(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("def (:\n")
    assert "cannot be read" in (_top_level_problem(str(script)) or "")
    assert "cannot be read" in (_top_level_problem(str(tmp_path / "gone.py")) or "")
