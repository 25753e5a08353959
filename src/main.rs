use clap::Parser;

fn main() {
    let cli = engram_operator::cli::Cli::parse();
    match engram_operator::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
