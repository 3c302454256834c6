//! `sample`: see `pixelcnn_runtime::cli`.
use clap::Parser;

fn main() {
    if let Err(e) = pixelcnn_runtime::cli::run(pixelcnn_runtime::cli::Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
