"""Build step: the engine's inner loop (planner/sim/kernel.py, Cython in pure-Python mode) compiled to C.

Everything else is declared in pyproject.toml. The extension is optional: where no C compiler is at hand
the install still succeeds and the same file runs as Python (the same numbers, several times slower; `planner
run` says so, and tests/test_kernel.py fails, so CI never runs uncompiled unnoticed).
"""

from Cython.Build import cythonize
from setuptools import setup

extensions = cythonize(["planner/sim/kernel.py"], language_level=3, quiet=True)
for ext in extensions:
    ext.optional = True

setup(ext_modules=extensions)
