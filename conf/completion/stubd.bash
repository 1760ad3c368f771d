# stubd(8) completion for bash, installed as "stubd" in bash-completion's
# completionsdir, which loads it the first time stubd is completed. It
# needs bash-completion (_init_completion, _filedir).
#
# stubd takes flags only (config_usage() in src/config.c, 'stubd --help';
# tests/integration/completion.sh fails when the two lists part): their
# names, files for the flags that take one, "none" where a file can be
# turned off, "auto" for --workers. Addresses and numbers are the user's.
# shellcheck shell=bash

_stubd()
{
	# shellcheck disable=SC2034 # _init_completion sets them all
	local cur prev words cword split
	_init_completion -s || return

	# A flag's value, also at the end of a group of short flags ("-fc").
	if [[ $prev =~ ^(--config|--resolv-conf|--control|-[fv]*[cs])$ ]]; then
		_filedir
		return
	elif [[ $prev =~ ^(--hosts|--cache-file)$ ]]; then
		_filedir
		if [[ none == "$cur"* ]]; then
			COMPREPLY+=(none)
		fi
		return
	elif [[ $prev == --workers ]]; then
		mapfile -t COMPREPLY < <(compgen -W auto -- "$cur")
		return
	elif [[ $prev =~ ^(--listen|--upstream|--cache-size|-[fv]*[lu])$ ]]; then
		return
	fi
	$split && return

	mapfile -t COMPREPLY < <(compgen -W '--config --listen --upstream --resolv-conf --hosts --control
		--cache-size --cache-file --workers --foreground -v --check-config --json --version
		--help' -- "$cur")
} &&
	complete -F _stubd stubd
