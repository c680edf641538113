"""The training engine (plain PyTorch + torch.distributed; see docs/training.md).

``train(recipe)`` and ``finetune(checkpoint, data)`` are the Python API behind the CLI;
:class:`Trainer` is the loop itself and knows nothing but ``model.loss(batch)``.
"""

from unigen.training.engine import Trainer
from unigen.training.run import finetune, train

__all__ = ["Trainer", "finetune", "train"]
