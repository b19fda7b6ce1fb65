//! Command-line interface. (Skeleton.)

use std::process::ExitCode;

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
