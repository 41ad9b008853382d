"""Package layout: `sql/` and `config/` stay at the repository top (other code edits them there) and ship in
the wheel as package data `screening/_sql` and `screening/_config`; screening/paths.py finds either."""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildWithDeployments(build_py):
    """Ship prefect.yaml (the single deployment definition `osteoscreen serve` reads) inside the package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "screening" / "_deploy"
        target.mkdir(parents=True, exist_ok=True)
        (target / "prefect.yaml").write_bytes(Path("prefect.yaml").read_bytes())


DATA = {"screening._sql": "sql", "screening._config": "config"}

setup(
    packages=find_packages(include=["screening*", "flows*"]) + list(DATA),
    package_dir=DATA,
    package_data={name: ["**/*"] for name in DATA} | {"screening": ["**/*.html", "**/*.j2", "**/*.css"]},
    include_package_data=False,
    cmdclass={"build_py": BuildWithDeployments},
)
