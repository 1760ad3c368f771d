#!/usr/bin/env bash
# tests/fuzz/regress.sh - the fuzzers as a regression test (ctest fuzz/regress).
#
# Builds the libFuzzer targets with clang in build-fuzz (reused when up to
# date), then for each target: replays every input of its corpus, seeds
# and crash-* inputs of bugs found before alike, and fuzzes for a few
# seconds from a throwaway copy of the corpus. Fails on any crash, leak,
# UB or broken invariant; a new crash is kept in build-fuzz/crashes/TARGET/.
# Without clang or libFuzzer's runtime it prints SKIP and passes (tools/deps
# installs them: Debian packages clang and libclang-rt-dev).
#
#   FUZZ_SECONDS=3   how long each target fuzzes
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build-fuzz"
corpus="$top/tests/fuzz/corpus"
seconds=${FUZZ_SECONDS:-3}
targets=(fuzz_query fuzz_reply fuzz_scrub_diff fuzz_hosts fuzz_config fuzz_control fuzz_dnsstream
	fuzz_cachefile)

skip() {
	echo "SKIP: $*"
	exit 0
}

command -v clang >/dev/null || skip "clang is not installed (Debian packages clang, libclang-rt-dev)"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' >"$probe/p.c"
clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null ||
	skip "clang cannot link libFuzzer (Debian package libclang-rt-dev)"

# Lower priority than the other tests ctest runs beside this one.
nice_cmd=(nice -n 10)
if ! "${nice_cmd[@]}" cmake -S "$top/tests/fuzz" -B "$build" -DCMAKE_C_COMPILER=clang >"$probe/cmake.log" 2>&1; then
	cat "$probe/cmake.log"
	echo "FAIL: cannot configure the fuzz build"
	exit 1
fi
if ! "${nice_cmd[@]}" cmake --build "$build" --target "${targets[@]}" -j"$(nproc)" >"$probe/build.log" 2>&1; then
	cat "$probe/build.log"
	echo "FAIL: cannot build the fuzz targets"
	exit 1
fi

export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
common=(-timeout=10 -rss_limit_mb=2048)

# What a failure says, the stack frames in stubd's own code, and the
# input in hex (its first 128 bytes).
excerpt() {
	grep -E "invariant broken|ERROR: |SUMMARY: |^    #[0-9]+ .* in [^ ]+ $top/(src|tests|include)/" "$1" |
		sed "s|$top/||g" | head -30
	local input=${2:-$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$1" | tail -1)}
	if [ -n "$input" ] && [ -f "$input" ]; then
		echo "input ($(wc -c <"$input") bytes, hex, first 128): $(head -c 128 "$input" | od -An -tx1 -v | tr -d ' \n')"
	fi
}
failed=()

for t in "${targets[@]}"; do
	bin="$build/$t"
	# Every seed and known crash, once each. One process for all; when it
	# fails, one per input to name each that does.
	# (Artifacts of replays go to the throwaway folder: they are copies.)
	if ! "${nice_cmd[@]}" "$bin" "${common[@]}" -artifact_prefix="$probe/" -runs=0 "$corpus/$t" \
		>"$probe/$t.replay.log" 2>&1; then
		for f in "$corpus/$t"/*; do
			if ! "$bin" "${common[@]}" -artifact_prefix="$probe/" -runs=1 "$f" >"$probe/one.log" 2>&1; then
				echo "FAIL: $t crashes on tests/fuzz/corpus/$t/$(basename "$f"):"
				excerpt "$probe/one.log" "$f"
				failed+=("$t/$(basename "$f")")
			fi
		done
	fi
	n=$(find "$corpus/$t" -type f | wc -l)

	# A few seconds of new inputs, from a copy (the repo's corpus is
	# never written); known crashes left out, they were replayed above.
	work="$probe/work-$t"
	mkdir -p "$work" "$build/crashes/$t"
	find "$corpus/$t" -type f ! -name 'crash-*' -exec cp {} "$work/" \;
	if "${nice_cmd[@]}" "$bin" "${common[@]}" -max_total_time="$seconds" -max_len=4400 \
		-artifact_prefix="$build/crashes/$t/" -print_final_stats=1 "$work" \
		>"$probe/$t.fuzz.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$probe/$t.fuzz.log" | tail -1)
		echo "ok: $t: $n corpus inputs replayed, ${runs:-?} runs in ${seconds}s"
	else
		echo "FAIL: $t crashed while fuzzing; the input is kept in build-fuzz/crashes/$t/:"
		excerpt "$probe/$t.fuzz.log"
		failed+=("$t (fuzzing)")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz/regress: ${#failed[@]} failure(s): ${failed[*]}"
	echo "reproduce with: build-fuzz/TARGET FILE (tools/fuzz fuzzes longer)"
	exit 1
fi
echo "fuzz/regress: all ${#targets[@]} targets clean"
