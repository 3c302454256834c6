//! `trainer`: see `pixelcnn_trainer::cli`.
use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = pixelcnn_trainer::cli::run(pixelcnn_trainer::cli::Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
