#!/usr/bin/env bash
# scripts/install --prefix into a temporary folder: the executables run from there (and say
# their version, commit and libraries), bash (through bash-completion) and zsh (through fpath)
# find the completions and complete option values, and man finds the pages.
source "$(dirname "$0")/lib.sh"
for cmd in zsh man; do command -v "$cmd" >/dev/null || fail "$cmd is not installed (scripts/install-deps --test)"; done
[ -f /usr/share/bash-completion/bash_completion ] || fail "bash-completion is not installed (scripts/install-deps --test)"
P="$WORK/prefix"
"$REPO/scripts/install" --prefix "$P" > "$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; fail "scripts/install failed"; }

for tool in ingest dedupe validate tag segment render inject account; do
  [ -x "$P/bin/$tool" ] || fail "$tool not installed in $P/bin"
done
version=$("$P/bin/account" --version)
assert_contains "$version" "mailpipe " "--version names the release"
assert_contains "$version" "commit " "--version names the commit"
assert_contains "$version" "built 20" "--version gives the build date"
assert_contains "$version" "libcurl " "--version gives libcurl's version"
assert_contains "$version" "zlib " "--version gives zlib's version"
assert_contains "$version" "libidn2 " "--version gives libidn2's version"

# bash: bash-completion loads the script from XDG_DATA_DIRS on first use, then completes values.
mkdir -p "$MAILPIPE_STATE"/{alpha,beta}
echo '{"slug":"alpha"}' > "$MAILPIPE_STATE/alpha/tenant.json"
echo '{"slug":"beta"}' > "$MAILPIPE_STATE/beta/tenant.json"
complete_bash() {  # complete_bash WORD... — what bash offers for the last word
  XDG_DATA_DIRS="$P/share:/usr/share" PATH="$P/bin:$PATH" bash --norc --noprofile -c '
    source /usr/share/bash-completion/bash_completion
    __load_completion "$1" || { echo "no completion found for $1"; exit 1; }
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    spec=$(complete -p "$1"); fn=${spec#*-F }; fn=${fn%% *}
    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' bash "$@"
}
assert_eq "$(complete_bash segment --contacts '')" "stdin store " "bash completes segment --contacts values"
assert_eq "$(complete_bash ingest --format n)" "ndjson " "bash completes ingest --format values"
assert_eq "$(complete_bash account report --tenant '')" "alpha beta " "bash completes --tenant with the state's tenants"
assert_contains "$(complete_bash account '')" "commit" "bash completes account's subcommands"

# zsh: the functions are found on fpath (DIR/share/zsh/site-functions, as /usr/local's is) and
# autoloaded by compinit; they name the values.
zsh_out=$(zsh -f -c "fpath=($P/share/zsh/site-functions \$fpath); autoload -U compinit; compinit -u -d $WORK/zcompdump
  print -r -- \${_comps[segment]} \${_comps[account]}; autoload -Uz +X _segment && functions _segment" 2>&1)
assert_contains "$zsh_out" "_segment _account" "zsh's compinit maps the executables to their completion functions"
assert_contains "$zsh_out" "___contacts=('store' 'stdin')" "zsh completion lists segment --contacts values"

# fish's file is there and names the values (fish itself is not installed here).
assert_contains "$(cat "$P/share/fish/vendor_completions.d/segment.fish")" "store" "fish completion lists values"

# man: MANPATH (or bin/ on PATH: man looks in ../share/man) finds each page.
assert_eq "$(MANPATH="$P/share/man" man -w account)" "$P/share/man/man1/account.1" "man -w finds the page"
assert_eq "$(PATH="$P/bin:$PATH" MANPATH= man -w segment)" "$P/share/man/man1/segment.1" "man finds pages beside bin/ on PATH"
page=$(MANPATH="$P/share/man" MANWIDTH=80 MANPAGER=cat man account 2>/dev/null | sed 's/.\x08//g')
assert_contains "$page" "commit" "the account page covers its subcommands"
assert_contains "$page" "MAILPIPE_TENANT" "the account page carries the discussion"
done_ok
