"""Search from Python: a job built in code, its trials as a DataFrame, the objective by
trial, and the champion loaded back with MLflow and asked for predictions.

    python examples/search_in_python.py [--state-dir DIR] [--trials N]

Runs in about a minute on a 2-core CPU (local Ray, SQLite MLflow in DIR, the shipped
MiniLM backbone, the generated synthetic-finsent corpus). tests/integration/test_api.py
runs it as it is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import optuna

import adaptune as at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", default=".adaptune-example")
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args()
    state = Path(args.state_dir).resolve()

    # 1. A job in code: the YAML's shape, the space held in memory
    job = at.Job.from_dict(
        {
            "name": "example",
            "method": "dao",
            "data": {"source": "synthetic-finsent", "n_train": 96, "seed": 0},
            "fixed": {"epochs": 2, "max_len": 16, "batch_size": 8, "lora_rank": 4},
            "search": {
                "space": {
                    "lr": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True),
                    "dao_lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                },
                "num_samples": args.trials,
                "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
            },
            "promote": {"model_name": "example-dao"},
        }
    )
    job.validate()  # the checks `adaptune validate` makes; raises at.SpecError

    # 2. Search (quiet: no progress lines; quiet=False prints the CLI's)
    result = at.search(job, state_dir=state)
    print(result)

    # 3. The trials, one row each
    df = result.trials_df()
    print(df[["trial_id", "status", "stop_epoch", "last_val/mse", "lr", "dao_lr"]])
    df.to_csv(state / "trials.csv", index=False)

    # 4. The objective by trial, in the order trials started
    fig, ax = plt.subplots(figsize=(6, 3.5))
    colors = {"completed": "tab:blue", "stopped": "tab:orange", "errored": "tab:red"}
    ax.scatter(range(len(df)), df["last_val/mse"], c=[colors.get(s, "gray") for s in df["status"]])
    ax.set_xlabel("trial (start order)")
    ax.set_ylabel("val/mse at its last epoch")
    ax.set_title(f"{result.name}: blue completed, orange stopped by ASHA")
    fig.tight_layout()
    fig.savefig(state / "objective.png", dpi=100)

    # 5. The champion from the registry, as any MLflow user loads it
    assert result.champion is not None and result.champion.promoted, result.champion
    mlflow.set_tracking_uri(result.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{result.champion.model_name}@champion")
    predictions = model.predict(
        {"text": ["EUR/USD rallies after strong data", "Yen slides on weak GDP"]}
    )
    print(predictions)
    predictions.to_csv(state / "predictions.csv", index=False)


if __name__ == "__main__":
    main()
