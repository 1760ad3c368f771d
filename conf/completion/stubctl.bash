# stubctl(1) completion for bash, installed as "stubctl" in
# bash-completion's completionsdir, which loads it the first time stubctl
# is completed. It needs bash-completion (_init_completion, _filedir).
#
# Completes the commands, the options (the global ones, and those of the
# command on the line: --type and --no-cache for query, --zone for
# flush-cache), -t's record types, the socket file of -s, known host names
# for NAME, and an interface name where dns, domain, default-route and
# revert take IFACE. The names are those of 'stubctl --help', whose
# commands come from the verb table (src/control_verbs.c);
# tests/integration/completion.sh fails when the two lists part.
# shellcheck shell=bash

# The types -t offers: the common ones, every one a name ldns reads (the
# daemon parses -t with ldns_get_rr_type_by_name()); TYPEnnn works too.
_stubctl_types='A AAAA AFSDB ANY CAA CDNSKEY CDS CERT CNAME CSYNC DHCID DNAME DNSKEY DS
	HINFO HTTPS IPSECKEY LOC MX NAPTR NS NSEC NSEC3 NSEC3PARAM OPENPGPKEY PTR RP RRSIG
	SMIMEA SOA SPF SRV SSHFP SVCB TLSA TXT URI ZONEMD'

# COMPREPLY: the machine's interfaces whose name starts with $cur. The
# kernel's names hold no blank, so a word list is safe.
_stubctl_ifaces()
{
	local ifaces=(/sys/class/net/*)
	[[ -e ${ifaces[0]} ]] || return
	mapfile -t COMPREPLY < <(compgen -W "${ifaces[*]##*/}" -- "$cur")
}

_stubctl()
{
	local cur prev words cword split
	_init_completion -s || return

	# The value of -s/--socket and -t/--type, also at the end of a group
	# of short options ("-hs").
	if [[ $prev =~ ^(--socket|-h*s)$ ]]; then
		_filedir
		return
	elif [[ $prev =~ ^(--type|-h*t)$ ]]; then
		# stubctl upper-cases the types, so "mx" completes to MX.
		mapfile -t COMPREPLY < <(compgen -W "$_stubctl_types" -- "${cur^^}")
		return
	fi
	# "--json=": no other option takes a value.
	$split && return

	# The command, and how many words the command has before the cursor.
	# Options come before or after it; after "--" every word is one of
	# the command's.
	local i word cmd="" nargs=0 options=1
	for ((i = 1; i < cword; i++)); do
		word=${words[i]}
		if ((options)) && [[ $word == -?* ]]; then
			# The value of --socket, --type, -s and -t is the next word.
			if [[ $word == -- ]]; then
				options=0
			elif [[ $word =~ ^(--socket|--type|-h*[st])$ ]]; then
				((i++))
			fi
		elif [[ -z $cmd ]]; then
			cmd=$word
		else
			((nargs++))
		fi
	done

	if ((options)) && [[ $cur == -* ]]; then
		local opts="--socket --json --help"
		case $cmd in
		"") opts+=" --version" ;;
		query) opts+=" --type --no-cache" ;;
		flush-cache) opts+=" --zone" ;;
		esac
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return
	fi
	if [[ -z $cmd ]]; then
		mapfile -t COMPREPLY < <(compgen -W 'status query flush-cache statistics reset-statistics reload
			dump-cache dns domain default-route revert' -- "$cur")
		return
	fi
	# NAME: the host names bash-completion knows (/etc/hosts or $HOSTFILE,
	# ssh's known hosts). The first word of the link commands is IFACE;
	# default-route's second is yes or no. SERVER and DOMAIN are the
	# user's to type.
	case $cmd:$nargs in
	query:0 | flush-cache:0) _known_hosts_real -- "$cur" ;;
	dns:0 | domain:0 | default-route:0 | revert:0) _stubctl_ifaces ;;
	default-route:1) mapfile -t COMPREPLY < <(compgen -W 'yes no' -- "$cur") ;;
	esac
} &&
	complete -F _stubctl stubctl
