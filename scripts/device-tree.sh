#!/usr/bin/env bash
# A device call (the GPU machine) sends this checkout's tracked and untracked-not-ignored
# files plus the paths it carries, at most 64 MiB in all. Most of the repository's bytes are
# the shipped models and training records (models/pretrained, models/training), which the
# GPU machine does not need: scripts/gpu-check.sh bundles the checkpoints it trains.
#
#   scripts/device-tree.sh size      bytes that would travel now (tracked + untracked files
#                                     that git does not ignore), and the largest folders
#   scripts/device-tree.sh hide      takes models/pretrained and models/training out of git's
#                                     index and ignores them (.git/info/exclude): the files stay
#                                     on disk, untouched; only the index changes
#   scripts/device-tree.sh restore   puts them back in the index (as committed) and drops the
#                                     ignore lines: `git status` is as before `hide`
#
# `hide` refuses while those folders have staged changes (restore resets their index entries
# to HEAD). Commit nothing between hide and restore: the commit would delete the models.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
paths=(models/pretrained models/training)
exclude="$(git rev-parse --git-path info/exclude)"
marker="# device-tree.sh hide"

travelling() {
  git ls-files -z --cached --others --exclude-standard |
    python3 -c '
import os, sys
total, by_dir = 0, {}
for p in sys.stdin.buffer.read().split(b"\0"):
    if not p or not os.path.isfile(p):
        continue
    n = os.path.getsize(p)
    total += n
    top = b"/".join(p.split(b"/")[:2]).decode()
    by_dir[top] = by_dir.get(top, 0) + n
for d, n in sorted(by_dir.items(), key=lambda kv: -kv[1])[:8]:
    print(f"  {n / 2**20:8.2f} MiB  {d}")
print(f"{total} bytes ({total / 2**20:.2f} MiB) would travel (limit 64 MiB, carried paths included)")
'
}

case "${1:-}" in
  size) travelling ;;
  hide)
    if grep -qF "$marker" "$exclude" 2>/dev/null; then
      echo "already hidden (scripts/device-tree.sh restore puts them back)" >&2; exit 1
    fi
    if ! git diff --cached --quiet -- "${paths[@]}"; then
      echo "${paths[*]}: staged changes; commit or unstage them first" >&2; exit 1
    fi
    git rm -r -q --cached -- "${paths[@]}"
    mkdir -p "$(dirname "$exclude")"
    for p in "${paths[@]}"; do printf '%s\n/%s/\n' "$marker" "$p"; done >> "$exclude"
    travelling
    ;;
  restore)
    git reset -q -- "${paths[@]}"
    if [ -f "$exclude" ]; then
      python3 - "$exclude" "$marker" <<'PY'
import sys
path, marker = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
kept, skip = [], False
for line in lines:
    if line == marker:
        skip = True  # the next line is the path this marker labels
        continue
    if skip:
        skip = False
        continue
    kept.append(line)
open(path, "w").write("".join(l + "\n" for l in kept))
PY
    fi
    travelling
    ;;
  *) sed -n 2,18p "$0"; exit 2 ;;
esac
