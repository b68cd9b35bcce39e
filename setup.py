"""Package discovery, which pyproject.toml cannot express for a package-dir mapping.

Every package under tray_stt/ is found, and the top-level assets/ folder (with each of its
folders) is installed as tray_stt.assets, so neither a new subpackage nor a new asset folder can
silently drop out of the wheel. Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup

ASSET_PACKAGES = ["tray_stt.assets"] + [
    f"tray_stt.assets.{name}" for name in find_namespace_packages(where="assets")
]

setup(packages=find_packages(include=["tray_stt", "tray_stt.*"]) + ASSET_PACKAGES)
