"""The demo's printed readout (dlt_pipeline/mart_summary.print_readout): warnings under what they concern, once."""

from __future__ import annotations

import io
from typing import Any

from dlt_pipeline.mart_summary import _READOUT_COLUMNS, print_readout


def _row(key: str, name: str, split: int, *, control: int | None, is_control: bool, n: int,
         readout_warning: str | None = None, split_warning: str | None = None,
         cap: tuple[float, int] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_READOUT_COLUMNS)
    row.update(experience_key=key, experience_name=name, split_id=split, split_name=f"S{split}",
               is_control=is_control, control_split_id=control, n_visitors=n, conversion_rate=0.05,
               srm_p_value=0.5, srm_detected=False, srm_threshold=0.001, readout_warning=readout_warning,
               split_warning=split_warning,
               revenue_cap=cap[0] if cap else None, revenue_capped_visitors=cap[1] if cap else 0)
    return row


def test_warnings_stand_under_what_they_concern_and_print_once() -> None:
    rows = [
        _row("1", "No control", 11, control=None, is_control=False, n=500, readout_warning="no control split"),
        _row("1", "No control", 12, control=None, is_control=False, n=480, readout_warning="no control split"),
        _row("2", "Small", 21, control=21, is_control=True, n=3,
             split_warning="3 visitors, below the minimum of 100 per split: no intervals of means, no comparisons"),
        _row("2", "Small", 22, control=21, is_control=False, n=150,
             split_warning="the control has fewer than 100 visitors: no comparisons"),
        _row("3", "Fine", 31, control=31, is_control=True, n=900, cap=(1234.5, 3)),
        {**_row("3", "Fine", 32, control=31, is_control=False, n=910, cap=(1234.5, 4)),
         "conversion_rate_p_value": 0.01, "conversion_rate_p_value_adjusted": 0.02, "multiple_testing_method": "holm"},
    ]
    buf = io.StringIO()
    print_readout(rows, file=buf)
    lines = buf.getvalue().splitlines()
    warnings = [line for line in lines if "warning:" in line]
    assert len(warnings) == len(set(warnings)) == 3, lines  # "no control split" once, not once per split
    at = {text: i for i, text in enumerate(lines)}
    header = next(i for i, line in enumerate(lines) if line.startswith("  No control"))
    assert lines[header + 1] == "    warning: no control split"
    small_control = next(i for i, line in enumerate(lines) if "S21" in line)
    small_split = next(i for i, line in enumerate(lines) if "S22" in line)
    assert "3 visitors, below the minimum" in lines[small_control + 1]
    assert "the control has fewer than 100" in lines[small_split + 1]
    fine = [line for line in lines[at["  Fine (experience 3)  SRM ok (p=0.5000, threshold 0.001)"]:]]
    assert not [line for line in fine if "warning" in line]
    assert fine[1] == "    revenue per visitor capped at 1,234.50 (7 visitors above it; var experiment_capping)"
    assert "n/a" in lines[small_split]  # NULL comparisons print as n/a, never as a number
    assert "p=0.0100 (Holm p=0.0200)" in fine[-1] and "Holm" not in lines[small_split]
