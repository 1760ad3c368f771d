# The private system bus of the D-Bus tests (lib.sh's bus_start/bus_stop)
# and resolvectl (tools/deps unpacks it): the bus answers, sd-bus clients
# reach it as "the system bus" through DBUS_SYSTEM_BUS_ADDRESS and not the
# machine's, and it can be stopped and brought back. Guards the test
# infrastructure only; stubd on the bus is for the tests that use it.
. "$(dirname "$0")/lib.sh"

need_resolvectl
check_match "resolvectl runs: $RESOLVECTL" '^systemd [0-9]+' "$("$RESOLVECTL" --version)"

bus_start
check_eq "DBUS_SYSTEM_BUS_ADDRESS is the private bus" "unix:path=$TMP/bus.sock" "$DBUS_SYSTEM_BUS_ADDRESS"
# busctl --system honours DBUS_SYSTEM_BUS_ADDRESS: the bus driver it lists
# is our dbus-daemon, by PID.
LIST=$(busctl --system list --no-pager 2>&1) || fail "busctl --system list: $LIST"
check_match "busctl --system lists org.freedesktop.DBus of our dbus-daemon ($BUS_PID)" \
	"^org\.freedesktop\.DBus +$BUS_PID " "$LIST"
# resolvectl reaches it too: nobody owns org.freedesktop.resolve1 there
# (on the machine's bus, systemd-resolved might).
RC=0
OUT=$("$RESOLVECTL" status 2>&1) || RC=$?
check "resolvectl status fails on a bus without resolve1" [ "$RC" -ne 0 ]
check_match "resolvectl says org.freedesktop.resolve1 is missing" 'org\.freedesktop\.resolve1' "$OUT"
FIRST_PID=$BUS_PID

bus_stop
check "the socket is gone after bus_stop" test ! -e "$TMP/bus.sock"
RC=0
busctl --system list --no-pager >/dev/null 2>&1 || RC=$?
check "busctl --system fails with the bus stopped (no fallback to the machine's)" [ "$RC" -ne 0 ]

bus_start
check "bus_start again: a new dbus-daemon" [ "$BUS_PID" != "$FIRST_PID" ]
check_match "busctl --system lists the new one ($BUS_PID)" "^org\.freedesktop\.DBus +$BUS_PID " \
	"$(busctl --system list --no-pager 2>&1)"

pass
