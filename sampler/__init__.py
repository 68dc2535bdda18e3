"""Design spaces and the constrained sampler.

sampler imports only anynet; sweeps and analysis import sampler (ARCHITECTURE.md)."""

from sampler.builtin import get_space, space_names
from sampler.distributions import Distribution
from sampler.frame import spec_row
from sampler.sample import Sample, SamplingError, sample
from sampler.space import DesignSpace, Param, load_space_file

__all__ = [
    "DesignSpace",
    "Distribution",
    "Param",
    "Sample",
    "SamplingError",
    "get_space",
    "load_space_file",
    "sample",
    "space_names",
    "spec_row",
]
