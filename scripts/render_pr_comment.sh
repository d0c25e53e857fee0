#!/usr/bin/env bash
# Renders the pull-request comment of examples/ci/example: `kiln plan --format
# markdown` -> HTML with cmark-gfm (GitHub's Markdown: tables, raw <details>)
# -> optionally a screenshot with headless Chromium.
#
#   scripts/render_pr_comment.sh [--kiln PATH] [--out DIR] [--check] [--screenshot PNG]
#
# --check verifies the HTML: the summary heading, the warnings, the table of
# changes (with cost and GPU columns), one collapsible <details> diff per
# change, the heredoc command line by line, and that `kiln show` of the saved
# plan renders the same Markdown. Installs cmark-gfm (and, for --screenshot,
# chromium) from Debian when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kiln="${KILN:-$root/build/kiln}"
out=""
check=0
shot=""
while (($#)); do
  case "$1" in
    --kiln) kiln=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --check) check=1; shift ;;
    --screenshot) shot=$2; shift 2 ;;
    *) echo "render_pr_comment: unknown argument $1" >&2; exit 2 ;;
  esac
done
need() {  # need COMMAND PACKAGE
  command -v "$1" >/dev/null && return
  echo "render_pr_comment: installing $2" >&2
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}
need cmark-gfm cmark-gfm

work=$(mktemp -d /tmp/kiln-pr-comment-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$root"/examples/ci/example/*.kiln "$work/"
[ -n "$out" ] || out="$work/out"
mkdir -p "$out"

fail() { echo "render_pr_comment: $*" >&2; exit 1; }
set +e
(cd "$work" && env -u KILN_WORKSPACE NO_COLOR=1 "$kiln" plan -out plan.kilnplan --format markdown -detailed-exitcode) \
  > "$out/plan.md" 2> "$out/plan.err"
code=$?
set -e
[ "$code" = 2 ] || fail "kiln plan exited $code, not 2 (changes): $(cat "$out/plan.err")"
(cd "$work" && NO_COLOR=1 "$kiln" show --format markdown plan.kilnplan) > "$out/show.md"
cmp -s "$out/plan.md" "$out/show.md" || fail "kiln show of the saved plan renders other Markdown: $(diff "$out/plan.md" "$out/show.md")"

cmark-gfm --unsafe --extension table --extension strikethrough --extension autolink "$out/plan.md" > "$out/body.html"
{
  cat <<'HEAD'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>kiln plan</title>
<style>
body { font: 14px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1f2328; margin: 0; background: #f6f8fa; }
.comment { max-width: 920px; margin: 16px auto; background: #fff; border: 1px solid #d1d9e0; border-radius: 6px; }
.comment-head { padding: 8px 16px; background: #f6f8fa; border-bottom: 1px solid #d1d9e0; border-radius: 6px 6px 0 0; color: #59636e; }
.markdown-body { padding: 16px; }
h3 { margin-top: 0; font-size: 1.25em; }
code, pre { font: 12px/1.45 "DejaVu Sans Mono", monospace; }
code { background: #eff1f3; padding: .2em .4em; border-radius: 6px; }
pre { background: #f6f8fa; padding: 12px; border-radius: 6px; overflow: auto; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
tr:nth-child(2n) { background: #f6f8fa; }
blockquote { margin: 0 0 12px; padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0; }
details { margin: 6px 0; }
summary { cursor: pointer; }
.d-add { color: #116329; background: #dafbe1; }
.d-del { color: #82071e; background: #ffebe9; }
.d-chg { color: #953800; background: #fff8c5; }
</style></head>
<body><div class="comment"><div class="comment-head"><b>kiln-bot</b> commented</div><div class="markdown-body">
HEAD
  # GitHub shows these shortcodes as emoji.
  sed -e 's/:warning:/\&#x26A0;\&#xFE0F;/g' -e 's/:x:/\&#x2716;/g' "$out/body.html"
  echo '</div></div></body></html>'
} > "$out/comment.html"

if ((check)); then
  html="$out/comment.html"
  has() { grep -qF -- "$1" "$html" || fail "the HTML lacks $2: $1"; }
  has '<h3>kiln plan: 3 to add, 0 to change, 0 to replace, 0 to destroy · +$' "the summary heading"
  has ' · +8 H100</h3>' "the GPU total"
  has '<strong>Warnings</strong>' "the warnings"
  has '<code>main.kiln:27</code>' "a warning's place relative to the configuration"
  has '<strong>W0403</strong>' "the warning's code"
  has '<th>Address</th>' "the table of changes"
  has '<th align="right">Cost</th>' "the cost column"
  has '<td><code>cluster.pool</code></td>' "the cluster's row"
  has '<td>+8 H100</td>' "the cluster's GPUs"
  n=$(grep -c '<details><summary><code>' "$html")
  [ "$n" = 3 ] || fail "the HTML has $n collapsible diffs, not 3"
  has '+       gpu         = &quot;H100:8&quot;' "a gpu in Kiln's notation"
  has '+       replicas     = 1..2' "a range in Kiln's notation"
  has '+             --port $PORT \' "the heredoc command line by line"
  has '<strong>Outputs</strong>' "the output changes"
  has 'Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy.' "the closing summary"
  echo "render_pr_comment: the comment's HTML has the summary, warnings, table, $n collapsible diffs and outputs"
fi

if [ -n "$shot" ]; then
  need chromium chromium
  # The picture shows the first two diffs opened, coloured by their first
  # column as GitHub colours a diff block.
  awk '/<code class="language-diff">/ { indiff = 1 }
       indiff {
         line = $0; pre = ""
         if (sub(/^.*<code class="language-diff">/, "", line)) { pre = substr($0, 1, length($0) - length(line)) }
         c = substr(line, 1, 1)
         cls = c == "+" ? "d-add" : c == "-" ? "d-del" : c == "!" ? "d-chg" : ""
         if (cls != "" ) line = "<span class=\"" cls "\">" line "</span>"
         print pre line
         if ($0 ~ /<\/code>/) indiff = 0
         next
       }
       { print }' "$out/comment.html" |
    sed -e '0,/<details>/s//<details open>/' -e '0,/<details>/s//<details open>/' > "$out/shot.html"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=960,1640 \
    --screenshot="$(realpath -m "$shot")" "file://$out/shot.html" 2>/dev/null
  [ -s "$shot" ] || fail "chromium wrote no screenshot"
  echo "render_pr_comment: wrote $shot"
fi
