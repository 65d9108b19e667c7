#!/usr/bin/env bash
# The docs a user reads send them only to files they have: README.md, docs/, the scenarios,
# the study and plot docs, the public headers, every module's sources and README, plots/,
# scripts/, the build files and .clang-format cite no design notes outside the repository (DESIGN.md, REFERENCE.md, STYLE.md,
# ../shared/ other than the public traces and profiles a user downloads). The facts those
# notes held are in docs/sources.md and docs/architecture.md, and every repository file a
# doc names in the form "docs/NAME.md" exists.
# Usage: test_docs_self_contained.sh EPARA [SHARED_DIR]   (EPARA unused: reads the sources)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
cd "$ROOT" || exit 1

files=$(ls README.md docs/*.md docs/decisions/*.md experiments/README.md experiments/*/README.md \
    experiments/scenarios/*.yaml experiments/scenarios/suite/*.yaml experiments/*/template.yaml \
    experiments/*.c include/epara/*/*.h core/*.c core/CMakeLists.txt cli/*.c cli/*.h cli/README.md \
    plots/*.gp plots/README.md scripts/*.sh bench/README.md CMakeLists.txt tests/CMakeLists.txt \
    policies/*.c policies/*.h policies/README.md sim/*.c sim/*.h sim/README.md exec/*.c \
    exec/*.h exec/*.cu exec/README.md exec/CMakeLists.txt traces/*.c traces/*.h traces/README.md \
    .clang-format 2>/dev/null)
hits=$(grep -nE 'DESIGN\.md|REFERENCE\.md|STYLE\.md|\.\./shared/(DESIGN|REFERENCE|STYLE|hooks)' $files)
[ -z "$hits" ] && ok || { bad "references to notes a user does not have:"; echo "$hits"; }
[ -s docs/sources.md ] && grep -q 'arxiv.org/abs/2511.00603' docs/sources.md && ok ||
    bad "docs/sources.md lists the public sources"
for f in $(grep -ohE 'docs/[a-z0-9/_-]+\.md' $files | sort -u); do
    [ -f "$f" ] && ok || bad "a doc names $f, which does not exist"
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
