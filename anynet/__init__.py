"""anynet: AnyNet/RegNet design spaces, after Radosavovic et al. (ICCV 2019, CVPR 2020).

The model core: specs, blocks, models, exact complexity, the RegNet rule, the zoo, and generic helpers such as
`anynet.lazy`. It imports none of the other packages (sampler, sweeps, analysis); see ARCHITECTURE.md.

The names below load their modules on first use, so a package that only needs a light helper (`anynet.lazy`)
does not pay for torch."""

from anynet.lazy import lazy_exports

_EXPORTS = {
    "adjust_block_compatibility": "anynet.group_rule",
    "AnynetError": "anynet.errors",
    "SpecError": "anynet.errors",
    "load_spec": "anynet.files",
    "resolve_spec": "anynet.files",
    "save_spec": "anynet.files",
    "spec_from_text": "anynet.files",
    "spec_to_text": "anynet.files",
    "AnyNet": "anynet.model",
    "Complexity": "anynet.counting",
    "complexity": "anynet.counting",
    "complexity_breakdown": "anynet.counting",
    "RegNetParams": "anynet.regnet",
    "quantized_linear": "anynet.regnet",
    "AnyNetSpec": "anynet.spec",
    "zoo_names": "anynet.zoo",
    "zoo_spec": "anynet.zoo",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
