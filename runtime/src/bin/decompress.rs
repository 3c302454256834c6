//! `decompress`: see `pixelcnn_runtime::codec_cli`.
use clap::Parser;

fn main() {
    if let Err(e) = pixelcnn_runtime::codec_cli::decompress_main(pixelcnn_runtime::codec_cli::DecompressCli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
