"""Copy a trained checkpoint into ``unigen/pretrained/NAME/`` as a shipped default model.

    python scripts/ship_pretrained.py RUN_OR_CHECKPOINT NAME --command "unigen train ..." \
        --metrics metrics.yaml [--sampling sampler=s4 steps=100] [--weights raw] [--dtype float16]

Re-saves the weights (the card gets their new sha256) and adds to the card what a user needs
to trust the model: the exact training command, the status of the run, the measured metrics
(a YAML file written from benchmark output: numbers, the command and the machine), and any
changed sampling defaults. The trainer resume state is not shipped. ``--weights raw`` ships the
raw (non-EMA) weights from the trainer state instead, as GDSS samples (``use_ema: False``).
``--dtype float16`` stores floating-point weights in half precision (half the size; they are
loaded back into float32 parameters): measure the metrics on the shipped copy, not the source.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from unigen.checkpoint import TRAINER_TENSORS, WEIGHTS, read_card, read_tensors, resolve, write_checkpoint

PRETRAINED = Path(__file__).resolve().parents[1] / "unigen" / "pretrained"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("name")
    parser.add_argument("--command", required=True, help="the training command that produced the run")
    parser.add_argument("--status", default="complete", help="e.g. 'intermediate: step 12000 of 35400'")
    parser.add_argument(
        "--metrics", type=Path, required=True, help="YAML with measured metrics, command, machine"
    )
    parser.add_argument(
        "--sampling", nargs="*", default=[], help="KEY=VALUE overrides of model_args.sampling"
    )
    parser.add_argument(
        "--weights",
        choices=("as-saved", "raw"),
        default="as-saved",
        help="raw: the non-EMA weights of the trainer state",
    )
    parser.add_argument("--dtype", choices=("as-saved", "float16"), default="as-saved")
    args = parser.parse_args()
    source = resolve(args.checkpoint)
    card = read_card(source)
    for item in args.sampling:
        key, value = item.split("=", 1)
        card["model_args"]["sampling"][key] = yaml.safe_load(value)
    card["shipped"] = {
        "source_checkpoint": str(source),
        "training_command": args.command,
        "status": args.status,
        "sampling_defaults_changed": dict(item.split("=", 1) for item in args.sampling),
        "measured": yaml.safe_load(args.metrics.read_text()),
    }
    if args.weights == "raw":
        trainer = read_tensors(source / TRAINER_TENSORS)
        weights = {k[len("model.") :]: v for k, v in trainer.items() if k.startswith("model.")}
        card["weights"] = "raw"
    else:
        weights = read_tensors(source / WEIGHTS, expected_sha256=card["weights_sha256"])
    if args.dtype == "float16":
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
        card["shipped"]["stored_dtype"] = "float16"
    write_checkpoint(PRETRAINED / args.name, weights, card)  # recomputes weights_sha256
    print(f"shipped {source} ({card['weights']} weights) as {PRETRAINED / args.name}")


if __name__ == "__main__":
    main()
