"""Package layout: `sql/` and `config/` stay at the repository top (other code edits them there) and ship in
the wheel as package data `screening/_sql` and `screening/_config`; screening/paths.py finds either."""

from setuptools import find_packages, setup

DATA = {"screening._sql": "sql", "screening._config": "config"}

setup(
    packages=find_packages(include=["screening*", "flows*"]) + list(DATA),
    package_dir=DATA,
    package_data={name: ["**/*"] for name in DATA} | {"screening": ["**/*.html", "**/*.j2", "**/*.css"]},
    include_package_data=False,
)
