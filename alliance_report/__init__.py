"""alliance-report: validated, paper-like reports of the BeMind therapeutic-alliance analysis."""

from pathlib import Path

__version__ = "0.1.0"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_FREEZE = REPO_ROOT / "data" / "demo-freeze"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
TEMPLATES_DIR = REPO_ROOT / "report_templates"
STUDIES_DIR = REPO_ROOT / "studies"
# the direct dependencies (pyproject.toml), in the order the provenance table lists their versions;
# requirements.lock pins the whole resolved set
PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "great-expectations", "matplotlib", "jinja2", "weasyprint")
