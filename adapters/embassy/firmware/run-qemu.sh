#!/usr/bin/env bash
# Builds the firmware, boots it on QEMU's Stellaris LM3S6965 board (a Cortex-M3), and checks
# what it printed over semihosting: the seed DAG's values, when slow_b started, the run's
# elapsed time on the board's SysTick clock, a run failing with a timeout, and a sensor read
# whose node policy times out and falls back to the last good value.
#
# Needs: the thumbv7m-none-eabi target (`rustup target add thumbv7m-none-eabi`) and
# qemu-system-arm (Debian: `apt-get install qemu-system-arm`).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v qemu-system-arm >/dev/null; then
    echo "run-qemu.sh: qemu-system-arm not found (Debian: apt-get install qemu-system-arm)" >&2
    exit 1
fi
if command -v rustup >/dev/null &&
    ! rustup target list --installed | grep -qx thumbv7m-none-eabi; then
    echo "run-qemu.sh: the thumbv7m-none-eabi target is missing (rustup target add thumbv7m-none-eabi)" >&2
    exit 1
fi

# Each firmware builds in its own target directory, whatever the caller exported: the binary's
# path is known.
build() { # build DIRECTORY PACKAGE: the firmware's path
    (cd "$1" && CARGO_TARGET_DIR="$PWD/target" cargo build --release >&2)
    echo "$1/target/thumbv7m-none-eabi/release/$2"
}

# `-icount`: the board's clock counts instructions (16 ns each) instead of following the host's,
# so the run's times do not depend on how busy the host is: the same firmware prints the same.
boot() { # boot FIRMWARE: what it printed, in $output
    local status=0
    output=$(timeout 60 qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb -nographic \
        -semihosting-config enable=on,target=native -icount shift=4,align=off,sleep=off \
        -kernel "$1" 2>&1) || status=$?
    echo "$output"
    if [ "$status" -ne 0 ]; then
        echo "run-qemu.sh: QEMU exited with $status (124: the firmware did not finish in 60 s)" >&2
        exit 1
    fi
}

boot "$(build . dagfut-firmware-qemu)"

passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "run-qemu.sh: FAILED: $what" >&2
    fi
}
has_line() { grep -qx "$1" <<<"$output"; }
# A number printed as "PREFIX N ms", between LOW and HIGH.
ms_between() {
    local value
    value=$(sed -n "s/^$1 \([0-9][0-9]*\) ms$/\1/p" <<<"$output")
    [ -n "$value" ] && [ "$value" -ge "$2" ] && [ "$value" -le "$3" ]
}

check "fast_a = 1" has_line "fast_a = 1"
check "slow_b = 2" has_line "slow_b = 2"
check "end = 4" has_line "end = 4"
# slow_b starts when fast_a is done (100 ms), not when slow_a is (500 ms). Timers take a tick
# more than asked, at most (embassy-time rounds up so a timer never fires early). Without
# `-icount`, QEMU's clock follows the host's, and a host that stalls QEMU adds some: the bounds
# leave room for it and still tell the DAG (100, 1200) from one join per layer (500, 1700).
check "slow_b started at about 100 ms" ms_between "slow_b started at" 100 250
# The critical path fast_a → slow_b → end: 1200 ms.
check "elapsed about 1200 ms" ms_between "elapsed =" 1200 1450
check "the timeout names the node" \
    has_line 'timeout: node `sense` (task #0) failed: `sense` timed out after 20ms'
# The node policy: the sensor's read (500 ms) times out at 50 ms on EmbassyTimer, and the
# display gets the last good value from the fallback node, when the timeout fires rather than
# when the read would have ended.
check "the sensor falls back to its last value" \
    has_line "sensor: timed out, using the last value 21"
check "the sensor's timeout is recorded" \
    has_line 'sensor: recorded: node `sensor` (task #1) timed out after 50ms'
check "the fallback is displayed at about 50 ms" ms_between "sensor: displayed after" 50 150

# The seed as a `dag!`, with no allocator linked: nothing in the binary allocates (and it
# would not link if anything needed an allocator).
no_alloc="$(build no-alloc dagfut-firmware-no-alloc)"
if nm "$no_alloc" | grep -q '__rust_alloc\|__rg_alloc\|__rust_no_alloc_shim'; then
    echo "run-qemu.sh: the no-alloc firmware links an allocator" >&2
    failed=$((failed + 1))
fi
boot "$no_alloc"
check "dag!: fast_a = 1" has_line "fast_a = 1"
check "dag!: slow_b = 2" has_line "slow_b = 2"
check "dag!: end = 4" has_line "end = 4"
check "dag!: slow_b started at about 100 ms" ms_between "slow_b started at" 100 250
check "dag!: elapsed about 1200 ms" ms_between "elapsed =" 1200 1450
# The README shows this firmware's output: its size of the run must be the one printed.
readme_size="$(grep -oP '^seed future = \K[0-9]+(?= bytes$)' ../../../README.md)"
check "dag!: the run's size is printed, as the README says ($readme_size bytes)" \
    grep -qx "seed future = $readme_size bytes" <<<"$output"
check "dag!: a failing node stops the run and names itself" \
    has_line 'sense: node `reading` (#0) failed: the sensor did not answer'

echo "qemu-firmware: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
