"""What runs inside Ray actors: the trainable (trial.py), the epoch loop (worker.py),
the in-actor stand-in for Ray Train (local_trial.py) and checkpoints (checkpoint.py).
Imports no MLflow and nothing of the driver."""
