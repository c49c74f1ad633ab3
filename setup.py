"""Build step: the engine's inner loop (planner/sim/kernel.py, Cython in pure-Python mode) compiled to C.

Everything else is declared in pyproject.toml.
"""

from Cython.Build import cythonize
from setuptools import setup

setup(ext_modules=cythonize(["planner/sim/kernel.py"], language_level=3, quiet=True))
