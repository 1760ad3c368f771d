# The manuals in conf/man say what the programs do, and stay so: every
# flag of "stubd --help", every key of conf/stubd.conf (and of config.c's
# key table), every command and option of "stubctl --help" and of
# "resolvconf --help", every exit status those help texts give, the
# signals stubd handles, the environment variables stubd and stubctl read
# and the files they use each have an entry in the page and section where a
# reader looks for them; no entry names a flag, key or command that is
# gone; and mandoc -T lint reports nothing above style level (groff, which
# man uses on Debian, nothing at all).
#
# An entry is an ".It" line of the mdoc source holding the macro that marks
# such a thing: "Fl -config" for a flag, "Cm cache-size" for a key or a
# command, "Dv SIGHUP", "Ev STUBCTL_SOCKET", "Pa /etc/hosts", or the bare
# number of an exit status. A word merely mentioned in the text does not
# count.
. "$(dirname "$0")/lib.sh"

: "${STUBCTL:?run through ctest, which sets STUBCTL}"
SRC=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MAN=$SRC/conf/man
STUBD_8=$MAN/stubd.8
STUBD_CONF_5=$MAN/stubd.conf.5
STUBCTL_1=$MAN/stubctl.1

command -v mandoc >/dev/null || fail "mandoc not found: install the Debian package 'mandoc' (tools/deps test does)"
command -v groff >/dev/null || fail "groff not found: install the Debian package 'groff-base' (tools/deps test does)"

# section PAGE NAME: the source lines of section NAME of PAGE, from its
# ".Sh NAME" to the next ".Sh".
section() {
	awk -v want=".Sh $2" '$0 == want { on = 1; next } /^\.Sh / { on = 0 } on' "$1"
}

# entries PAGE SECTION MACRO: the heads of the section's entries marked
# with MACRO, one a line: the word after MACRO where it opens an .It line
# or follows a "," there (".It Fl c Ar file , Fl -config Ar file" gives c
# and -config; ".It Cm dbus Cm auto | yes | no" gives dbus alone). With
# MACRO ".It", the word that opens the line (an exit status).
entries() {
	section "$1" "$2" | grep '^\.It ' |
		awk -v m="$3" '
			m == ".It" { print $2; next }
			{ for (i = 2; i < NF; i++) if ($i == m && (i == 2 || $(i - 1) == ",")) print $(i + 1) }' |
		sort -u
}

# shown MACRO WORD: WORD as the user types it (Fl's without its first dash).
shown() { if [ "$1" = Fl ]; then echo "-$2"; else echo "$2"; fi; }

# check_entries WHAT PAGE SECTION MACRO WANT...: each WANT is an entry.
check_entries() {
	local what=$1 page=$2 sec=$3 macro=$4
	shift 4
	local have
	have=$(entries "$page" "$sec" "$macro")
	[ -n "$(section "$page" "$sec")" ] || fail "$(basename "$page") has no section $sec"
	for want in "$@"; do
		grep -qxF -- "$want" <<<"$have" ||
			fail "$(basename "$page"), $sec: no entry for $what '$(shown "$macro" "$want")'" \
				"(an '.It' line with '$macro $want')"
		CHECKS=$((CHECKS + 1))
	done
}

# check_no_stale WHAT PAGE SECTION MACRO KNOWN: every entry of the section
# is one of KNOWN (a newline-separated list).
check_no_stale() {
	local what=$1 page=$2 sec=$3 macro=$4 known=$5 e
	while read -r e; do
		[ -n "$e" ] || continue
		grep -qxF -- "$e" <<<"$known" ||
			fail "$(basename "$page"), $sec: an entry for $what '$(shown "$macro" "$e")'," \
				"which the program does not have"
		CHECKS=$((CHECKS + 1))
	done < <(entries "$page" "$sec" "$macro")
}

# flags HELP: the flags of a --help text's option lines (those that start
# with blanks and a dash), without their dashes but one ("-config", "c").
flags() {
	grep -E '^ +-' <<<"$1" | grep -oE '(^|[ ,])--?[a-zA-Z][a-zA-Z-]*' |
		sed -E 's/^[ ,]?-//' | sort -u
}

# exit_codes HELP: the numbers from "Exit status:" to the end.
exit_codes() { sed -n '/^Exit status:/,$p' <<<"$1" | grep -oE '\b[0-9]+\b' | sort -u; }

# nonempty WHAT LIST: the extraction found something (else the help text
# changed shape, and this test would check nothing).
nonempty() { [ -n "$2" ] || fail "found no $1: has the text it is read from changed?"; }

# ---- stubd(8) ----

STUBD_HELP=$("$STUBD" --help)
STUBD_FLAGS=$(flags "$STUBD_HELP")
nonempty "flags in stubd --help" "$STUBD_FLAGS"
# shellcheck disable=SC2046 # one word a line
check_entries "the flag" "$STUBD_8" OPTIONS Fl $STUBD_FLAGS
check_no_stale "the flag" "$STUBD_8" OPTIONS Fl "$STUBD_FLAGS"
echo "stubd(8): $(wc -w <<<"$STUBD_FLAGS") flags"

STUBD_EXITS=$(exit_codes "$STUBD_HELP")
nonempty "exit statuses in stubd --help" "$STUBD_EXITS"
# shellcheck disable=SC2086
check_entries "the exit status" "$STUBD_8" "EXIT STATUS" .It $STUBD_EXITS

# The signals stubd's loop watches.
SIGNALS=$(grep -oE 'watch_signal\([^)]*\bSIG[A-Z0-9]+' "$SRC/src/daemon.c" | grep -oE 'SIG[A-Z0-9]+' | sort -u)
nonempty "signals in src/daemon.c" "$SIGNALS"
# shellcheck disable=SC2086
check_entries "the signal" "$STUBD_8" SIGNALS Dv $SIGNALS

# The environment: what the daemon's sources read (getenv, and env_set in
# config.c), and what stubctl's read.
env_read() { grep -ohE '\b(getenv|env_set)\("[A-Z_]+"\)' "$@" | cut -d'"' -f2 | sort -u; }
STUBD_ENV=$(env_read "$SRC"/src/*.c)
STUBCTL_ENV=$(env_read "$SRC"/src/stubctl/*.c)
nonempty "getenv() in src/*.c" "$STUBD_ENV"
nonempty "getenv() in src/stubctl/*.c" "$STUBCTL_ENV"
# shellcheck disable=SC2086
check_entries "the environment variable" "$STUBD_8" ENVIRONMENT Ev $STUBD_ENV
# shellcheck disable=SC2086
check_entries "the environment variable" "$STUBCTL_1" ENVIRONMENT Ev $STUBCTL_ENV

# The files: the defaults --help names, and those SPEC.md names.
STUBD_FILES=$(grep -oE 'default /[^ )]+' <<<"$STUBD_HELP" | cut -d' ' -f2 | sort -u)
nonempty "default paths in stubd --help" "$STUBD_FILES"
# shellcheck disable=SC2086
check_entries "the file" "$STUBD_8" FILES Pa $STUBD_FILES \
	/etc/stubd/stubd.conf /run/stubd/control.sock /run/stubd/resolv.conf /var/cache/stubd/cache
echo "stubd(8): exit statuses $(echo $STUBD_EXITS), signals $(echo $SIGNALS)," \
	"environment $(echo $STUBD_ENV), files $(echo $STUBD_FILES)"

# ---- stubd.conf(5) ----

# Every key of the shipped file ("# key = default" at column 0; examples
# are indented further) and of the key table that parses them.
CONF_KEYS=$(sed -nE 's/^# ([a-z][a-z-]*) = .*/\1/p' "$SRC/conf/stubd.conf" | sort -u)
TABLE_KEYS=$(sed -n '/^static const struct key keys\[\] = {/,/^};/p' "$SRC/src/config.c" |
	grep -oE '\.name = "[a-z-]+"' | cut -d'"' -f2 | sort -u)
nonempty "keys in conf/stubd.conf" "$CONF_KEYS"
nonempty "keys in src/config.c's keys[]" "$TABLE_KEYS"
# shellcheck disable=SC2086
check_entries "the key" "$STUBD_CONF_5" KEYS Cm $CONF_KEYS $TABLE_KEYS
check_no_stale "the key" "$STUBD_CONF_5" KEYS Cm "$TABLE_KEYS"
echo "stubd.conf(5): $(sort -u <<<"$CONF_KEYS"$'\n'"$TABLE_KEYS" | wc -l) keys"

# ---- stubctl(1) ----

STUBCTL_HELP=$("$STUBCTL" --help)
# The commands --help lists, and the verb table's that it shows (those
# with a synopsis; resolvconf-add and -del are the resolvconf side's).
HELP_VERBS=$(sed -n '/^Commands:/,/^$/p' <<<"$STUBCTL_HELP" | awk 'NR > 1 && NF { print $1 }' | sort -u)
TABLE_VERBS=$(grep -oE '\{ "[a-z-]+", "' "$SRC/src/control_verbs.c" | cut -d'"' -f2 | sort -u)
nonempty "commands in stubctl --help" "$HELP_VERBS"
nonempty "commands in src/control_verbs.c" "$TABLE_VERBS"
# shellcheck disable=SC2086
check_entries "the command" "$STUBCTL_1" COMMANDS Cm $HELP_VERBS $TABLE_VERBS
check_no_stale "the command" "$STUBCTL_1" COMMANDS Cm "$TABLE_VERBS"

STUBCTL_FLAGS=$(flags "$STUBCTL_HELP")
nonempty "options in stubctl --help" "$STUBCTL_FLAGS"
# shellcheck disable=SC2086
check_entries "the option" "$STUBCTL_1" OPTIONS Fl $STUBCTL_FLAGS
check_no_stale "the option" "$STUBCTL_1" OPTIONS Fl "$STUBCTL_FLAGS"

STUBCTL_EXITS=$(exit_codes "$STUBCTL_HELP")
nonempty "exit statuses in stubctl --help" "$STUBCTL_EXITS"
# shellcheck disable=SC2086
check_entries "the exit status" "$STUBCTL_1" "EXIT STATUS" .It $STUBCTL_EXITS
check_entries "the file" "$STUBCTL_1" FILES Pa \
	"$(grep -oE '/run/[^ )]+' <<<"$STUBCTL_HELP" | head -n 1)" /usr/sbin/resolvconf
echo "stubctl(1): commands $(echo $HELP_VERBS), $(wc -w <<<"$STUBCTL_FLAGS") options," \
	"exit statuses $(echo $STUBCTL_EXITS), environment $(echo $STUBCTL_ENV)"

# The resolvconf personality: stubctl run by that name.
ln -s "$STUBCTL" "$TMP/resolvconf"
RC_HELP=$("$TMP/resolvconf" --help)
check_match "resolvconf --help is the resolvconf personality's" '^Usage: resolvconf ' "$RC_HELP"
RC_FLAGS=$(flags "$RC_HELP")
nonempty "options in resolvconf --help" "$RC_FLAGS"
# shellcheck disable=SC2086
check_entries "the resolvconf option" "$STUBCTL_1" "RESOLVCONF COMPATIBILITY" Fl $RC_FLAGS
check_no_stale "the resolvconf option" "$STUBCTL_1" "RESOLVCONF COMPATIBILITY" Fl "$RC_FLAGS"
RC_EXITS=$(exit_codes "$RC_HELP")
nonempty "exit statuses in resolvconf --help" "$RC_EXITS"
# shellcheck disable=SC2086
check_entries "the resolvconf exit status" "$STUBCTL_1" "EXIT STATUS" .It $RC_EXITS
echo "resolvconf: $(wc -w <<<"$RC_FLAGS") options, exit statuses $(echo $RC_EXITS)"

# apropos finds the page for resolvconf too (and "man resolvconf" by the
# link man8/resolvconf.8, which install.sh checks).
check_match "stubctl(1)'s NAME names resolvconf" '^\.Nm resolvconf$' "$(section "$STUBCTL_1" NAME)"

# ---- every page: its title, mandoc's lint and groff ----

# No manual database: "referenced manual not found" is a style message
# about this machine, not about the pages.
mkdir "$TMP/no-manuals"
for page in "$STUBD_8" "$STUBD_CONF_5" "$STUBCTL_1"; do
	name=$(basename "$page")
	check_eq "$name: .Dt" ".Dt $(tr '[:lower:]' '[:upper:]' <<<"${name%.*}") ${name##*.}" \
		"$(grep '^\.Dt ' "$page")"
	LINT=$(MANPATH=$TMP/no-manuals mandoc -T lint -W warning "$page" 2>&1 || true)
	check_eq "$name: mandoc -T lint -W warning says nothing" "" "$LINT"
	STYLE=$(MANPATH=$TMP/no-manuals mandoc -T lint -W style "$page" 2>&1 || true)
	check_no_match "$name: mandoc -T lint: nothing above style" '(WARNING|ERROR|UNSUPP|BADARG|SYSERR):' "$STYLE"
	# What man(1) runs on Debian, with every warning on.
	GROFF=$(groff -mandoc -Tutf8 -ww -z "$page" 2>&1)
	check_eq "$name: groff -ww says nothing" "" "$GROFF"
	# Overstrike (bold, underline) taken out: "N\bNA\bA..." is "NA...".
	TEXT=$(mandoc -T utf8 "$page" | sed 's/.\x08//g')
	check_match "$name: renders with its NAME section" "^NAME$" "$TEXT"
done

pass
