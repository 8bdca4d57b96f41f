//! The `doorman` binary: parses the command line and hands over to the library.
use std::process::ExitCode;

use clap::Parser;

// argon2 allocates 4 to 19 MiB per hash on whichever blocking thread runs it; glibc's
// per-thread arenas keep those pages, and resident memory climbs under load. mimalloc
// returns them, keeping memory flat. It is built without transparent huge pages
// (`no_thp`): with them every touched 2 MiB of its arena is resident whole.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    doorman::cli::run(doorman::cli::Cli::parse())
}
