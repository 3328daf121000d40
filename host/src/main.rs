//! The `stance` binary: parse the command line and run it.

fn main() -> std::process::ExitCode {
    stance::cli::main()
}
