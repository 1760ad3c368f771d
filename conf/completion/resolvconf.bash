# Completion for bash of stubctl run as resolvconf(8), installed as
# "resolvconf" in bash-completion's completionsdir with the resolvconf link
# (STUBD_RESOLVCONF_LINK): where the resolvconf on the machine is another
# package's, so is its completion. It needs bash-completion
# (_init_completion).
#
# Completes the options stubd's resolvconf takes (src/stubctl/resolvconf.c;
# not openresolv's -i -l -I -R -r -v -V, which it refuses), and after -a or
# -d the NAME, which starts with an interface's name (eth0.dhclient,
# tun.wg0): the interfaces are offered.
# shellcheck shell=bash

_stubctl_resolvconf()
{
	local cur prev words cword
	_init_completion || return

	# -m METRIC, also at the end of a group ("-am"): a number.
	[[ $prev =~ ^-[adxpfu]*m$ ]] && return

	local i word mode="" name=""
	for ((i = 1; i < cword; i++)); do
		word=${words[i]}
		case $word in
		--*) ;;
		-*)
			[[ $word == -*[ad]* ]] && mode=1
			[[ $word =~ ^-[adxpfu]*m$ ]] && ((i++)) # the metric is the next word
			;;
		*) name=$word ;;
		esac
	done

	if [[ $cur == -* || (-z $mode && -z $name) ]]; then
		mapfile -t COMPREPLY < <(compgen -W '-a -d -x -f -m -p -u --enable-updates --disable-updates
			--updates-are-enabled --help --version' -- "$cur")
	elif [[ $mode && -z $name ]]; then
		local ifaces=(/sys/class/net/*)
		[[ -e ${ifaces[0]} ]] || return
		mapfile -t COMPREPLY < <(compgen -W "${ifaces[*]##*/}" -- "$cur")
	fi
} &&
	complete -F _stubctl_resolvconf resolvconf
