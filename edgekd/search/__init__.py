"""Fit the student to the device: search the architecture that meets the target's budgets.

``space`` enumerates candidates from the student registry, ``screen`` judges each one untrained
against the budgets (exported as the target runs it), ``study`` runs short KD trials of the
feasible ones in an Optuna study with a pruner, and ``stage`` declares the ``search`` stage
that hands the winner to ``distill``. Optuna is imported only when a search runs.
"""
