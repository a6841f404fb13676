#!/usr/bin/env bash
# The test command of the README: every unit, property and integration test (the integration tests
# drive real BitTorrent programs from ../shared/swarm on loopback), then the doc examples.
set -euo pipefail
cd "$(dirname "$0")/.."
# Interop tests fail (rather than skip) when the real-client harness is missing.
export FERRENT_REQUIRE_SWARM=1
cargo nextest run --workspace --locked --no-fail-fast "$@"
cargo test --workspace --doc --locked
