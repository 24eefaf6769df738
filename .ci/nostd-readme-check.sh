#!/usr/bin/env bash
# Builds the README's Embedded dependency line, as written, in a fresh `#![no_std]` crate for a
# Cortex-M target: the line is taken from README.md, and `[patch]` points it at this checkout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
line="$(grep -m1 '^dagfut = { version = ' "$root/README.md")"
dir="$(mktemp -d)"
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "nostd-readme-check"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$line

[patch.crates-io]
dagfut = { path = "$root/core" }

[workspace]
TOML
cat > "$dir/src/lib.rs" <<'RS'
#![no_std]
extern crate alloc;

use dagfut::{LocalDag, LocalDagBuilder, Node};

async fn inc(n: &u32) -> u32 {
    n + 1
}

/// A DAG built with the README's dependency line, on a target without `std`.
pub fn build() -> (LocalDag<u32>, Node<u32>) {
    let b = LocalDagBuilder::<u32>::new();
    let offset = alloc::rc::Rc::new(10u32);
    let first = b.add_node(inc, b.param());
    let second = b.add_node(async move |n: &u32| n + *offset, first);
    (b.build(), second)
}
RS
echo "building the README's line in a fresh no_std crate: $line"
CARGO_TARGET_DIR="$root/target/nostd-readme-check" \
    cargo build --manifest-path "$dir/Cargo.toml" --target thumbv7em-none-eabihf
rm -rf "$dir"
