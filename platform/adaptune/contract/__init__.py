"""check_method: the Method contract, checked in this process on toy sizes (no Ray).

    from adaptune.contract import check_method
    check_method(METHOD, config={"epochs": 1, "batch_size": 8}, data={"source": "x", "n_train": 64})

What a trial needs from a method, in the order a trial uses it: the declaration is
well-formed, the config builds, data and model build, the whole (tiny) training schedule
gives finite losses and moves every trainable parameter, evaluate reports every declared
metric on val and test, a saved model loads and predicts, and the search spaces name
only config fields. Every failure is collected into one MethodContractError (a check
that the next ones need stops the run there); each message says what to fix.
The built-in methods' contract test (tests/unit/methods/test_contract.py) calls this.
"""

from __future__ import annotations

from adaptune.contract.check import check_method
from adaptune.contract.checker import ContractReport, MethodContractError

__all__ = ["ContractReport", "MethodContractError", "check_method"]
