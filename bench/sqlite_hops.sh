#!/usr/bin/env bash
# bench/sqlite_hops.sh: what one SQLite statement costs the process, by how it reaches
# SQLite: through sqlx's pools (a thread hop per statement, as doorman's store runs them),
# as one sqlx transaction per step, or as one rusqlite closure per step (inline on the
# async worker, or on one SQLite thread). See bench/sqlite_hops/src/main.rs.
#   [ROUNDS=3] bash bench/sqlite_hops.sh [MODE ...]     MODE: sqlx sqlx-tx inline thread
# Run it on a quiet machine (nothing else building or benchmarking): it measures CPU.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet -p sqlite-hops
exec target/release/sqlite-hops "${ROUNDS:-3}" "$@"
