//! `trustband` command-line entry point: parses flags and hands over to the library.

fn main() -> std::process::ExitCode {
    trustband::cli::main()
}
