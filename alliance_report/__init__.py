"""alliance-report: validated, paper-like reports of the BeMind therapeutic-alliance analysis.

Where its files are (the one place that decides): the package runs either from a checkout of
the project or installed (a wheel in site-packages, or ``pip install --target``).  The data
folders ``report_templates/``, ``expectations/`` and ``studies/`` sit at the top of a checkout;
the wheel ships them inside the package (``alliance_report/report_templates/`` …).  Each is
looked up inside the package first, then beside it.
"""

from pathlib import Path

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent
# the folder holding the package: the checkout when run from one (pyproject.toml beside the
# package), else site-packages or the folder the package was installed into
REPO_ROOT = PACKAGE_DIR.parent
DATA_FOLDERS = ("report_templates", "expectations", "studies")


def data_folder(name: str) -> Path:
    """The folder of data files ``name`` (one of DATA_FOLDERS): inside the installed package
    when there, else the checkout's top-level folder."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else REPO_ROOT / name


def in_checkout() -> bool:
    """Whether the package runs from a git checkout of the project (not from an installed copy,
    even one installed into a virtualenv inside a checkout)."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / ".git").exists()


DEMO_FREEZE = REPO_ROOT / "data" / "demo-freeze"
TEMPLATES_DIR = data_folder("report_templates")
EXPECTATIONS_DIR = data_folder("expectations")
STUDIES_DIR = data_folder("studies")
# the direct dependencies (pyproject.toml), in the order the provenance table lists their versions;
# requirements.lock pins the whole resolved set
PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "great-expectations", "jsonschema", "matplotlib", "pillow",
            "jinja2", "weasyprint")
