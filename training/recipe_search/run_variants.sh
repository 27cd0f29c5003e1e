#!/bin/bash
# Run on the GPU machine (device tool, carry .gpu): train recipe variants at once on one GPU, score each
# on the written-out candidates, and print one JSON line per variant. .gpu/ holds qa-train.tar.xz
# (../shared/data/qa-train), base/ (pack_base.py) and candidates.jsonl.gz (candidates.py).
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONHASHSEED=0
mkdir -p /tmp/shared/data && tar -xJf .gpu/qa-train.tar.xz -C /tmp/shared/data
python3 -m training.recipe_search.unpack_base /tmp/base || exit 1
declare -A V=(
  [previous]="--squad-questions 18000 --medquad-questions 4000 --lr 5e-5"
  [lr2e-5]="--squad-questions 18000 --medquad-questions 4000 --lr 2e-5"
  [lr1e-4]="--squad-questions 18000 --medquad-questions 4000"
  [epochs2]="--squad-questions 18000 --medquad-questions 4000 --lr 5e-5 --epochs 2"
  [data1.5]="--lr 5e-5"
  [layers3]="--layers 3 --lr 5e-5"
  [shipped]=""
)
for v in "${!V[@]}"; do
  ( timeout 500 python3 -m training.train --data /tmp/shared/data/qa-train --base /tmp/base --device cuda \
      --out /tmp/runs/$v ${V[$v]} > /tmp/runs_$v.log 2>&1 \
    && python3 -m training.recipe_search.score_run /tmp/runs/$v .gpu/candidates.jsonl.gz >> /tmp/results.jsonl ) &
done
wait
cp /tmp/results.jsonl "${OUT:-.}/"
cat /tmp/results.jsonl
