"""The engines: synlab's fast paths, in one place.

* :mod:`synlab.fast.fused` — the Gaussian ensemble's training step with hand-derived gradients
  (:func:`~synlab.fast.fused.fused_step`), eager or compiled;
* :mod:`synlab.fast.stacked` — K Bernoulli (or deterministic) networks trained as one stack:
  the energy sweeps (:func:`~synlab.fast.stacked.train_stacked`) and the lifelong runs
  (:func:`~synlab.fast.stacked.train_sequentially_stacked`).

They compute what the readable reference code computes, which stays where students read it:
:mod:`synlab.synapses` (layers, transmission), :mod:`synlab.rules` (plasticity rules),
:mod:`synlab.ensemble` (the Gaussian ensemble and its autograd objective) and
:mod:`synlab.continual` (the lifelong loop, its strategies and their hand-derived steps). The
equivalence tests (``tests/test_fast_fused.py``, ``tests/test_fast_stacked.py``) pin each engine
to its reference path.
"""
