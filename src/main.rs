fn main() -> std::process::ExitCode {
    tongban::cli::run()
}
