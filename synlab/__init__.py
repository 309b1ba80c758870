"""synlab: stochastic synapses, energy and plasticity."""

__version__ = "0.1.0"
