"""The search driver: runs in the process that starts a search (the CLI, or a Ray Job).

    from adaptune.driver.run import run_search       # one search
    from adaptune.driver.stages import run_stages    # a multi-stage job

Modules: run (the search, start to end), tuner (Ray, placement, sampler, scheduler),
recorder (the Tune callback that writes MLflow), results (outcomes and the best trial,
decided once), finish (report, promotion), stages, resume. Names no method.
"""
