#!/usr/bin/env python3
"""Counts the locked read-modify-write instructions (x86-64: a `lock` prefix, or an `xchg`
with memory, which is locked without one) that one run executes, from two callgrind profiles
of `examples/profile.rs` (or `profile_arc.rs`) taken with `--dump-instr=yes`: one at 0 counted
runs, one at R. Only the binary's own code is counted (dagfut, the contenders, and the std and
futures code inlined into them); the C library's is not.

    python3 benches/locked.py <binary> <callgrind.out at 0 runs> <callgrind.out at R runs> <R>

prints the locked instructions per run, the difference of the two profiles divided by R.
Called by `benches/cachegrind.sh`.
"""

import re
import subprocess
import sys


def locked_addresses(binary):
    """The addresses of the binary's locked instructions (objdump's disassembly)."""
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary],
                             capture_output=True, text=True, check=True).stdout
    found = set()
    for line in listing.splitlines():
        m = re.match(r"^\s*([0-9a-f]+):\s*(\S+)\s*(.*)", line)
        if not m:
            continue
        op, operands = m.group(2), m.group(3)
        if op == "lock" or (op.startswith("xchg") and "(" in operands):
            found.add(int(m.group(1), 16))
    return found


def executed(profile, addresses):
    """How many times the instructions at `addresses` ran, per a callgrind profile written with
    `--dump-instr=yes` (its positions are instruction addresses, absolute or relative to the
    line before; a `calls=` line is followed by the call's inclusive cost, skipped here)."""
    total, last, after_call, columns = 0, 0, False, 1
    with open(profile) as f:
        for line in f:
            if line.startswith("positions:"):
                # `instr`, then `line` if the profile has it: the cost follows them all.
                columns = len(line.split()) - 1
                continue
            if line.startswith("calls="):
                after_call = True
                continue
            fields = line.split()
            if len(fields) <= columns or not re.match(r"^(0x[0-9a-f]+|[+-]\d+|\*)$", fields[0]):
                continue
            position = fields[0]
            if position.startswith("0x"):
                last = int(position, 16)
            elif position != "*":
                last += int(position)
            if after_call:
                after_call = False
                continue
            if last in addresses:
                total += int(fields[columns])
    return total


def main():
    binary, base, counted, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    addresses = locked_addresses(binary)
    print(f"{(executed(counted, addresses) - executed(base, addresses)) / runs:.2f}")


if __name__ == "__main__":
    main()
