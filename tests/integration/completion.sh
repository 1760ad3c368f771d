# Shell completion (issue 19). "cmake --install" of the completion and
# resolvconf components puts the bash files where bash-completion loads
# them by the command's name (bash-completion.pc's completionsdir for the
# prefix /usr, under the prefix for another) and the zsh ones in
# share/zsh/vendor-completions; resolvconf's only with the resolvconf
# link. bash-completion loads them from there, and the functions, called
# as bash calls them on a TAB (COMP_WORDS, COMP_CWORD, COMP_LINE,
# COMP_POINT), offer the right words on partial command lines: commands,
# options by command, -t's types, interfaces for IFACE, files. Their
# commands and options are those of 'stubctl --help', 'stubd --help' and
# 'resolvconf --help', so a new command or flag fails here until it is
# completed. zsh's files parse, and, driven through a pseudo-terminal
# (zsh/zpty), offer the same on a few lines. Nothing is written outside
# $TMP but the build's install_manifest_{completion,resolvconf}.txt.
. "$(dirname "$0")/lib.sh"

: "${STUBCTL:?run through ctest, which sets STUBCTL}"
SRC=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[ -f "$BASH_COMPLETION" ] ||
	fail "no $BASH_COMPLETION: install the Debian package 'bash-completion' (tools/deps test does)"

build_dir
[ "$(cache_var STUBD_RESOLVCONF_LINK)" = ON ] || fail "this test wants a build with STUBD_RESOLVCONF_LINK=ON"

# install_components DESTDIR PREFIX [BUILD]: the completion and resolvconf
# components of BUILD (the build under test), which need nothing built.
install_components() {
	local component
	for component in completion resolvconf; do
		DESTDIR=$1 cmake --install "${3:-$BUILD}" --prefix "$2" --component "$component" \
			>>"$TMP/install.log" 2>&1 || fail "cmake --install --component $component failed"
	done
}

# words: its input's lines, sorted, on one line.
words() { sort -u | paste -sd ' '; }

# --- Where the files go ----------------------------------------------------

DEST=$TMP/dest
install_components "$DEST" /usr
cat "$TMP/install.log"
# A relative directory of the cache is under the prefix.
dest_dir() { case $1 in /*) echo "$DEST$1" ;; *) echo "$DEST/usr/$1" ;; esac; }
BASHDIR=$(dest_dir "$(cache_var STUBD_BASH_COMPLETION_DIR)")
ZSHDIR=$(dest_dir "$(cache_var STUBD_ZSH_COMPLETION_DIR)")
echo "bash completion in $BASHDIR, zsh completion in $ZSHDIR"
PC_DIR=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null || true)
[ -n "$PC_DIR" ] || fail "bash-completion.pc not found: install the Debian package 'bash-completion'"
check_eq "bash completion is where bash-completion.pc says" "$DEST$PC_DIR" "$BASHDIR"
check_eq "zsh completion is in Debian's vendor-completions" "$DEST/usr/share/zsh/vendor-completions" "$ZSHDIR"
for pair in stubctl:stubctl.bash stubd:stubd.bash resolvconf:resolvconf.bash; do
	check "bash: ${pair%%:*} is conf/completion/${pair#*:}" \
		cmp -s "$SRC/conf/completion/${pair#*:}" "$BASHDIR/${pair%%:*}"
done
for f in _stubctl _stubd _stubd_resolvconf; do
	check "zsh: $f is conf/completion/$f" cmp -s "$SRC/conf/completion/$f" "$ZSHDIR/$f"
done
check_eq "the files are 0644" "644 644 644 644 644 644" "$(stat -c %a "$BASHDIR"/{stubctl,stubd,resolvconf} \
	"$ZSHDIR"/{_stubctl,_stubd,_stubd_resolvconf} | paste -sd ' ')"
# (The resolvconf component also holds resolvconf's link and its manual's.)
check_eq "nothing else is installed" "$(printf '%s\n' "$BASHDIR"/{resolvconf,stubctl,stubd} \
	"$DEST/usr/sbin/resolvconf" "$DEST/usr/share/man/man8/resolvconf.8" \
	"$ZSHDIR"/{_stubctl,_stubd,_stubd_resolvconf} | words)" \
	"$(find "$DEST" ! -type d | words)"

# Another prefix: everything under it, none in the system's directories.
install_components "$TMP/dest-opt" /opt/stubd
check_eq "--prefix /opt/stubd: all under opt/stubd/share" \
	"$(printf "$TMP/dest-opt/opt/stubd/share/%s\n" bash-completion/completions/{resolvconf,stubctl,stubd} \
		zsh/vendor-completions/{_stubctl,_stubd,_stubd_resolvconf} | words)" \
	"$(find "$TMP/dest-opt" -type f | words)"

# Built with STUBD_RESOLVCONF_LINK=OFF, resolvconf is another package's:
# no completion for it. (A fresh tree, configured only.)
cmake -S "$SRC" -B "$TMP/build-off" -DSTUBD_RESOLVCONF_LINK=OFF -DSTUBD_TESTS=OFF \
	>"$TMP/configure-off.log" 2>&1 || fail "configuring with STUBD_RESOLVCONF_LINK=OFF failed"
install_components "$TMP/dest-off" /usr "$TMP/build-off"
check_eq "STUBD_RESOLVCONF_LINK=OFF: stubctl's and stubd's only" \
	"_stubctl _stubd stubctl stubd" "$(find "$TMP/dest-off" -type f -printf '%f\n' | words)"

# --- bash ------------------------------------------------------------------

# bash-completion as an interactive bash has it, loading completions from
# the install tree first: it is on XDG_DATA_DIRS, as /usr/share is, and
# the user's directory is one with none.
# bash-completion is not written for set -eu.
export BASH_COMPLETION_USER_DIR=$TMP/user-completion
export XDG_DATA_DIRS=$DEST/usr/share
set +euo pipefail
# shellcheck source=/dev/null
. "$BASH_COMPLETION"
LOADED=()
for cmd in stubctl stubd resolvconf; do
	__load_completion "$cmd" && LOADED+=("$cmd")
done
set -euo pipefail
check_eq "bash-completion loads each completion by the command's name" "stubctl stubd resolvconf" "${LOADED[*]}"
check_eq "the functions bash calls" "_stubctl _stubd _stubctl_resolvconf" \
	"$(for cmd in stubctl stubd resolvconf; do complete -p "$cmd" | sed 's/.*-F \([^ ]*\).*/\1/'; done | paste -sd ' ')"

# comp_line LINE: the words bash completion offers with the cursor at the
# end of LINE, one a line. LINE is cut into words as bash does it with
# its default COMP_WORDBREAKS: at blanks, with "=" a word of its own. HOME
# is one with no ssh known hosts, for NAME's host names.
comp_line() (
	local line=$1 word fn
	set +euo pipefail
	HOME=$TMP
	COMP_LINE=$line COMP_POINT=${#line} COMP_WORDS=()
	set -f
	for word in $line; do
		while [[ $word == *=* ]]; do
			[ -z "${word%%=*}" ] || COMP_WORDS+=("${word%%=*}")
			COMP_WORDS+=("=")
			word=${word#*=}
		done
		[ -z "$word" ] || COMP_WORDS+=("$word")
	done
	set +f
	[[ $line == *[[:blank:]] ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	fn=$(complete -p "${COMP_WORDS[0]}" | sed 's/.*-F \([^ ]*\).*/\1/')
	COMPREPLY=()
	"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
)
# completes LINE EXPECTED: bash offers exactly the words EXPECTED.
completes() { check_eq "bash: '$1'" "$(tr ' ' '\n' <<<"$2" | words)" "$(comp_line "$1" | words)"; }
# offers LINE WORD...: bash offers every WORD (and maybe more).
offers() {
	local line=$1 got
	shift
	got=" $(comp_line "$line" | words) "
	for word in "$@"; do
		check "bash: '$line' offers '$word' (it offers:$got)" test "${got/ $word /}" != "$got"
	done
}

IFACES=$(find /sys/class/net -mindepth 1 -maxdepth 1 -printf '%f\n' | words)
check_match "this machine has lo" '(^| )lo( |$)' "$IFACES"

# stubctl's commands and options, as its --help gives them.
HELP=$("$STUBCTL" --help)
COMMANDS=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p' <<<"$HELP" | words)
check_match "stubctl --help lists the commands" '^default-route dns domain dump-cache flush-cache ' "$COMMANDS"
completes "stubctl " "$COMMANDS"
completes "stubctl st" "status statistics"
completes "stubctl re" "reload reset-statistics revert"
completes "stubctl resolvconf" "" # the resolvconf personality's verbs are no commands
check_eq "bash: stubctl's options are those of its --help" \
	"$(grep -oE -- '--[a-z][a-z-]*' <<<"$HELP" | words)" \
	"$({ comp_line "stubctl --"; comp_line "stubctl query x --"; comp_line "stubctl flush-cache --"
	     comp_line "stubctl statistics --"; } | words)"
completes "stubctl --" "--help --json --socket --version"
completes "stubctl flush-cache --" "--help --json --socket --zone"
completes "stubctl query x --" "--help --json --no-cache --socket --type"
completes "stubctl status --" "--help --json --socket"
completes "stubctl statistics --" "--help --json --prometheus --socket"
completes "stubctl -- --" "" # after --, no options

# -t: record types, upper-cased, wherever the option is.
offers "stubctl query x -t " A AAAA CNAME MX NS PTR SOA SRV TXT CAA DS DNSKEY HTTPS SVCB TLSA NAPTR ANY
completes "stubctl query x -t A" "A AAAA AFSDB ANY"
completes "stubctl query x -t mx" "MX"
completes "stubctl query x --type=t" "TLSA TXT"
completes "stubctl -t S dns l" "lo" # S is -t's, dns the command
completes "stubctl --json -ht h" "HINFO HTTPS"
completes "stubctl query x -t A -t CN" "CNAME"

# IFACE: the machine's interfaces, for the link commands only, and only
# where IFACE goes.
for cmd in dns domain default-route revert; do
	completes "stubctl $cmd " "$IFACES"
	completes "stubctl $cmd l" "lo"
done
completes "stubctl --json -s $TMP/ctl.sock dns l" "lo"
completes "stubctl dns --json l" "lo"
completes "stubctl dns lo " ""
completes "stubctl dns lo 192.0.2.1 " ""
completes "stubctl domain lo " ""
completes "stubctl revert lo " ""
completes "stubctl default-route lo " "no yes"
completes "stubctl default-route lo y" "yes"
completes "stubctl default-route lo yes " ""
completes "stubctl status l" ""
completes "stubctl statistics " ""

# -s: files; NAME: known host names ($HOSTFILE stands for /etc/hosts).
touch "$TMP/ctl.sock"
completes "stubctl -s $TMP/ctl" "$TMP/ctl.sock"
completes "stubctl --socket=$TMP/ctl" "$TMP/ctl.sock"
completes "stubctl status -s $TMP/ctl" "$TMP/ctl.sock"
echo "192.0.2.1 stubtest.example" >"$TMP/hosts"
export HOSTFILE=$TMP/hosts
offers "stubctl query stubt" stubtest.example
offers "stubctl flush-cache stubt" stubtest.example

# stubd: its flags, as its --help gives them, and their values.
SHELP=$("$STUBD" --help)
check_eq "bash: stubd's flags are those of its --help" \
	"$({ grep -oE -- '--[a-z][a-z-]*' <<<"$SHELP"; sed -nE 's/^  (-[a-z])  .*/\1/p' <<<"$SHELP"; } | words)" \
	"$(comp_line "stubd -" | words)"
completes "stubd --cach" "--cache-file --cache-size"
completes "stubd --c" "--cache-file --cache-size --check-config --config --control"
completes "stubd --hosts n" "none"
completes "stubd --hosts $TMP/ho" "$TMP/hosts"
completes "stubd --cache-file=$TMP/ho" "$TMP/hosts"
completes "stubd -fc $TMP/ho" "$TMP/hosts"
completes "stubd --workers " "auto"
completes "stubd -l " ""
completes "stubd --upstream " ""
completes "stubd --cache-size " ""

# resolvconf: its options, as its --help gives them; NAME after -a or -d.
ln -s "$STUBCTL" "$TMP/resolvconf"
RHELP=$("$TMP/resolvconf" --help)
check_eq "bash: resolvconf's long options are those of its --help" \
	"$(grep -oE -- '--[a-z][a-z-]*' <<<"$RHELP" | words)" "$(comp_line "resolvconf --" | words)"
offers "resolvconf " -a -d -u -x -f -m -p
completes "resolvconf -a l" "lo"
completes "resolvconf -d " "$IFACES"
completes "resolvconf -x -a l" "lo"
completes "resolvconf -a lo " ""
completes "resolvconf -m " ""
completes "resolvconf -a lo -m 1 " ""
offers "resolvconf -a lo -" -x -f -m -p

# --- zsh -------------------------------------------------------------------

if ! command -v zsh >/dev/null; then
	echo "SKIP [$TEST_NAME]: no zsh (the Debian package 'zsh'): its completion is not checked"
	pass
fi
for f in _stubctl _stubd _stubd_resolvconf; do
	check "zsh -n $f" zsh -n "$ZSHDIR/$f"
	check_match "$f starts with #compdef" '^#compdef ' "$(head -n 1 "$ZSHDIR/$f")"
done
# The commands' summaries are stubctl --help's.
while IFS= read -r line; do
	cmd=${line#  }
	cmd=${cmd%% *}
	summary=$(sed -E 's/^  .*[^ ]  +//' <<<"$line")
	check "zsh: $cmd's summary is '$summary'" grep -qF "$cmd:$summary" "$ZSHDIR/_stubctl"
done < <(sed -n '/^Commands:/,/^$/{/^  [a-z]/p}' <<<"$HELP")

# zsh_complete LINE: what zsh offers on LINE and a TAB, one word a line:
# an interactive zsh in a pseudo-terminal, with the completion system
# loading from the install tree first, where compadd writes down every
# match a completion function gives it.
cat >"$TMP/complete.zsh" <<'ZSH'
# complete.zsh OUT DIR LINE
zmodload zsh/zpty || exit 2
out=$1 dir=$2 line=$3
: >$out
zpty comp zsh -f -i || exit 2
zpty -w comp "PS1=; fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D
zstyle ':completion:*' hosts stubtest.example
compadd() {
	if (( \$@[(I)-[OAD]] )); then builtin compadd \"\$@\"; return; fi
	local -a _m
	builtin compadd -O _m \"\$@\"
	(( \$#_m )) && print -rl -- \$_m >>${(q)out}
	builtin compadd \"\$@\"
}
_done() { print -r -- '<end>' >>${(q)out}; }
comppostfuncs=(_done)"
zpty -w -n comp "$line"$'\t'
for i in {1..200}; do
	[[ $(<$out) == *'<end>'* ]] && break
	sleep 0.05
done
zpty -d comp
[[ $(<$out) == *'<end>'* ]]
ZSH
zsh_complete() {
	zsh -f "$TMP/complete.zsh" "$TMP/zsh.out" "$ZSHDIR" "$1" || fail "zsh gave no completion for '$1'"
	grep -vx '<end>' "$TMP/zsh.out" || true
}
zcompletes() { check_eq "zsh: '$1'" "$(tr ' ' '\n' <<<"$2" | words)" "$(zsh_complete "$1" | words)"; }
if ! zsh -fc 'zmodload zsh/zpty' 2>/dev/null; then
	echo "SKIP [$TEST_NAME]: zsh has no zsh/zpty module: its completion is not run"
	pass
fi
zcompletes "stubctl " "$COMMANDS"
zcompletes "stubctl st" "status statistics"
zcompletes "stubctl query x -t m" "MX"
zcompletes "stubctl query x --type=T" "TLSA TXT"
zcompletes "stubctl dns l" "lo"
zcompletes "stubctl revert l" "lo"
zcompletes "stubctl default-route lo " "no yes"
zcompletes "stubctl flush-cache --" "--help --json --socket --zone"
zcompletes "stubctl statistics --" "--help --json --prometheus --socket"
zcompletes "stubctl query stubt" "stubtest.example"
zcompletes "stubd --cach" "--cache-file --cache-size"
zcompletes "stubd --hosts=n" "none"
check_eq "zsh: stubd's long flags are those of its --help" \
	"$(grep -oE -- '--[a-z][a-z-]*' <<<"$SHELP" | words)" "$(zsh_complete "stubd --" | words)"
zcompletes "resolvconf -a l" "lo"

pass
