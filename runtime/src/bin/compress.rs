//! `compress`: see `pixelcnn_runtime::codec_cli`.
use clap::Parser;

fn main() {
    if let Err(e) = pixelcnn_runtime::codec_cli::compress_main(pixelcnn_runtime::codec_cli::CompressCli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
