"""Design spaces and the constrained sampler.

sampler imports only anynet; sweeps and analysis import sampler (ARCHITECTURE.md)."""

from sampler.builtin import get_space, space_names
from sampler.constraints import Constraint, candidates, log10_size, parse_constraint, space_yaml
from sampler.distributions import Distribution
from sampler.frame import spec_row
from sampler.sample import Sample, SamplingError, sample
from sampler.space import DesignSpace, Param, load_space_file

__all__ = [
    "Constraint",
    "DesignSpace",
    "Distribution",
    "Param",
    "Sample",
    "SamplingError",
    "candidates",
    "get_space",
    "load_space_file",
    "log10_size",
    "parse_constraint",
    "sample",
    "space_names",
    "space_yaml",
    "spec_row",
]
