use clap::Parser;

fn main() {
    // One crypto provider for every TLS client (ARM, Key Vault, Kubernetes); a second install is a
    // no-op error we can ignore.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = engram_operator::cli::Cli::parse();
    match engram_operator::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
