"""Where a search's runs open in MLflow's UI, for the report's links.

    runs = RunLinks.of(client.tracking_uri, search)
    runs.run(run_id)    # "http://127.0.0.1:5000/#/experiments/3/runs/ab12..."
    RunLinks.of(uri, search, ui="http://host:5001")   # where the user's UI is

The UI address given (``adaptune report --ui-url``), else a tracking server's own
address when the store is one (http/https), else the address ``adaptune ui`` serves the
embedded store on by default. The training view
(``workflowType=machine_learning``): MLflow 3's UI otherwise opens its GenAI pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["DEFAULT_UI", "RunLinks", "runs_url", "search_url"]

DEFAULT_UI = "http://127.0.0.1:5000"  # `adaptune ui`'s default host and port


VIEW = "?workflowType=machine_learning"  # the training view, not the GenAI one


def runs_url(base: str, experiment_id: str) -> str:
    """The experiment's runs table in the training view."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs{VIEW}"


def search_url(base: str, experiment_id: str, search: str) -> str:
    """A search's trials, best first, with their values as columns: the view the search
    saved in its experiment (tracking.names.SHARED_VIEW_PREFIX)."""
    return f"{runs_url(base, experiment_id)}&viewStateShareKey={quote(search)}"


@dataclass(frozen=True)
class RunLinks:
    base: str
    experiment_id: str
    served: bool  # False: the links need `adaptune ui` running

    @classmethod
    def of(cls, tracking_uri: str, experiment_id: str, ui: str | None = None) -> RunLinks:
        served = tracking_uri.startswith(("http://", "https://"))
        return cls(ui or (tracking_uri if served else DEFAULT_UI), experiment_id, served)

    def run(self, run_id: str) -> str:
        return f"{self.base.rstrip('/')}/#/experiments/{self.experiment_id}/runs/{run_id}{VIEW}"

    def search(self, name: str) -> str:
        return search_url(self.base, self.experiment_id, name)

    def note(self) -> str:
        where = "the tracking server" if self.served else "`adaptune ui` running there"
        return (
            f"Links open the MLflow UI at {self.base}; they need {where} (another address: "
            "adaptune report NAME --ui-url URL)."
        )
