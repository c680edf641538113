"""Samplers: each owns its loop; processes own the arithmetic (``unigen.processes``).

``get_sampler(name, kind)`` / ``sampler_names(kind)`` look samplers up by name
(``unigen.samplers.registry``); ``unigen.samplers.pc`` holds the SDE samplers.
"""

from unigen.samplers.registry import get_sampler, register_sampler, sampler_names

__all__ = ["get_sampler", "register_sampler", "sampler_names"]
