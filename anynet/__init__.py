"""anynet: AnyNet/RegNet design spaces, after Radosavovic et al. (ICCV 2019, CVPR 2020)."""

from anynet.compat import adjust_block_compatibility
from anynet.errors import AnynetError, SpecError
from anynet.files import load_spec, save_spec, spec_from_text, spec_to_text
from anynet.model import AnyNet, Complexity, complexity, complexity_breakdown
from anynet.regnet import RegNetParams, quantized_linear
from anynet.spec import AnyNetSpec
from anynet.zoo import zoo_names, zoo_spec

__all__ = [
    "AnyNet", "AnyNetSpec", "AnynetError", "Complexity", "RegNetParams", "SpecError",
    "adjust_block_compatibility", "complexity", "complexity_breakdown", "load_spec", "quantized_linear",
    "save_spec", "spec_from_text", "spec_to_text", "zoo_names", "zoo_spec",
]  # fmt: skip
