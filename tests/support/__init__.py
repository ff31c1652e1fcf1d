"""Shared test helpers (no tests here): servers, the loader's command line, warehouses, data and ground truth.

Importable as `support.<module>` because pyproject.toml puts `tests` on pytest's `pythonpath`. Plain `assert`s in
these modules are rewritten by pytest like those in test modules, so a failed check shows its values.
"""

import pkgutil

import pytest

pytest.register_assert_rewrite(*(f"{__name__}.{module.name}" for module in pkgutil.iter_modules(__path__)))
