"""Search reports: what a user looks at after a search, from the MLflow store alone.

    adaptune report quickstart-20261124-195948 [--open]

    from adaptune.report import build_report
    report = build_report(client, "quickstart-20261124-195948", state_dir)

Parameter importances (Optuna's fANOVA), parallel coordinates, best-so-far against
compute, the ASHA rungs, a slice per parameter and a CSV of every trial, logged under
the search run's report/, plus one self-contained HTML page (images embedded) that also
says where the champion stands. A multi-stage job's page has one section per stage.
"""

from adaptune.report.build import Report, build_report, find_run, report_quietly

__all__ = ["Report", "build_report", "find_run", "report_quietly"]
